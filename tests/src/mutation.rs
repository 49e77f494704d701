//! Inputs made the way libFuzzer starts making them: committed seeds with bit flips, byte
//! inserts and deletes, splices of two seeds, truncations. `tests/fuzz_corpus.rs` checks
//! the fuzz targets' properties over them in every `cargo test`, on stable, so that CI
//! checks what cargo-fuzz checks around each seed without nightly or minutes.

use std::fmt;
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;

/// The committed seeds of a fuzz target, in name order: the files of
/// `fuzz/corpus/<target>/` whose name ends in `.<extension>`, not the inputs that local
/// cargo-fuzz runs add beside them, so that every run tries the same cases.
///
/// # Panics
///
/// When the folder or a seed cannot be read, or holds no seed: a moved or emptied corpus
/// would make a proptest over it pass vacuously.
pub fn seeds(target: &str, extension: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no .{extension} seed in {}",
        dir.display()
    );
    paths
        .iter()
        .map(|path| std::fs::read(path).expect("a readable seed"))
        .collect()
}

/// Bytes, shown escaped when a case fails.
#[derive(Clone)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// One edit of an input. Positions are [`Index`]es, which scale to whatever length the
/// input has by the time the edit applies.
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
    /// Keeps the input up to `at` and continues with another seed from `from`.
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
    fn apply(&self, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        // `Index::index` needs a non-empty range: `..=len` offers the end of the input too.
        let position = |at: &Index, len: usize| at.index(len + 1);
        let len = input.len();
        match self {
            Self::FlipBit { at, bit } if len > 0 => input[at.index(len)] ^= 1 << bit,
            Self::FlipBit { .. } => {}
            Self::Insert { at, byte } => input.insert(position(at, len), *byte),
            Self::Delete { at, len: count } => {
                let start = position(at, len);
                input.drain(start..(start + count).min(len));
            }
            Self::Splice { at, other, from } => {
                let other = &seeds[other.index(seeds.len())];
                input.truncate(position(at, len));
                input.extend_from_slice(&other[position(from, other.len())..]);
            }
            Self::Truncate { at } => input.truncate(position(at, len)),
        }
    }
}

/// A seed of `seeds` with one to four mutations applied.
pub fn mutated(seeds: &'static [Vec<u8>]) -> impl Strategy<Value = Bytes> {
    (any::<Index>(), prop::collection::vec(mutation(), 1..=4)).prop_map(move |(seed, mutations)| {
        let mut input = seeds[seed.index(seeds.len())].clone();
        for mutation in &mutations {
            mutation.apply(&mut input, seeds);
        }
        Bytes(input)
    })
}
