//! The fuzz targets' properties (`alias_core::fuzz`) over mutations of their committed seeds
//! (`fuzz/corpus/<target>/`), in every `cargo test` on stable. cargo-fuzz (`cargo xtask
//! fuzz`) explores much further but needs nightly and minutes; this keeps every CI run
//! checking the same properties around each seed, with the mutations libFuzzer starts
//! from: bit flips, byte inserts and deletes, splices of two seeds, truncations.
#![cfg(feature = "fuzz")]

use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::Index;

/// Cases per target: every kind of mutation on every seed many times over, in about two
/// seconds of a debug build.
const CASES: u32 = 5_000;

static ANSWERS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| seeds("parse_response"));
static REQUESTS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| seeds("decode_request"));

/// The committed seeds of a target, in name order: the `.http` files of its corpus folder,
/// not the inputs that local cargo-fuzz runs add beside them, so that every run tries the
/// same cases.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "http"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| std::fs::read(path).expect("a readable seed"))
        .collect()
}

/// A raw HTTP message, shown as text with its bytes escaped when a case fails.
#[derive(Clone)]
struct Message(Vec<u8>);

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// One edit of a message. Positions are [`Index`]es, which scale to whatever length the
/// message has by the time the edit applies.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        at: Index,
        bit: u8,
    },
    Insert {
        at: Index,
        byte: u8,
    },
    Delete {
        at: Index,
        len: usize,
    },
    /// Keeps the message up to `at` and continues with another seed from `from`.
    Splice {
        at: Index,
        other: Index,
        from: Index,
    },
    Truncate {
        at: Index,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0..8_u8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        (any::<Index>(), 1..=16_usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        any::<(Index, Index, Index)>().prop_map(|(at, other, from)| Mutation::Splice {
            at,
            other,
            from
        }),
        any::<Index>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

impl Mutation {
    fn apply(&self, message: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        // `Index::index` needs a non-empty range: `..=len` offers the end of the message too.
        let position = |at: &Index, len: usize| at.index(len + 1);
        let len = message.len();
        match self {
            Self::FlipBit { at, bit } if len > 0 => message[at.index(len)] ^= 1 << bit,
            Self::FlipBit { .. } => {}
            Self::Insert { at, byte } => message.insert(position(at, len), *byte),
            Self::Delete { at, len: count } => {
                let start = position(at, len);
                message.drain(start..(start + count).min(len));
            }
            Self::Splice { at, other, from } => {
                let other = &seeds[other.index(seeds.len())];
                message.truncate(position(at, len));
                message.extend_from_slice(&other[position(from, other.len())..]);
            }
            Self::Truncate { at } => message.truncate(position(at, len)),
        }
    }
}

/// A seed of `seeds` with one to four mutations applied.
fn mutated(seeds: &'static [Vec<u8>]) -> impl Strategy<Value = Message> {
    (any::<Index>(), prop::collection::vec(mutation(), 1..=4)).prop_map(move |(seed, mutations)| {
        let mut message = seeds[seed.index(seeds.len())].clone();
        for mutation in &mutations {
            mutation.apply(&mut message, seeds);
        }
        Message(message)
    })
}

#[test]
fn every_seed_holds_as_committed() {
    // A corpus moved or emptied would make the proptests below pass vacuously.
    assert!(ANSWERS.len() >= 20, "{} answer seeds", ANSWERS.len());
    assert!(REQUESTS.len() >= 20, "{} request seeds", REQUESTS.len());
    ANSWERS
        .iter()
        .for_each(|seed| alias_core::fuzz::parse_response(seed));
    REQUESTS
        .iter()
        .for_each(|seed| alias_core::fuzz::decode_request(seed));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn parse_response_holds_on_mutated_answers(answer in mutated(&ANSWERS)) {
        alias_core::fuzz::parse_response(&answer.0);
    }

    #[test]
    fn decode_request_holds_on_mutated_requests(request in mutated(&REQUESTS)) {
        alias_core::fuzz::decode_request(&request.0);
    }
}
