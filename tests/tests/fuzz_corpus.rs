//! Every fuzz target's properties (`alias_core::fuzz`, `alias_cli::fuzz`) over mutations of
//! its committed seeds (`fuzz/corpus/<target>/`), in every `cargo test` on stable.
//! cargo-fuzz (`cargo xtask fuzz`) explores much further but needs nightly and minutes.

use std::sync::LazyLock;

use alias_tests::mutation::{mutated, seeds};
use proptest::prelude::*;

/// Cases per target: every kind of mutation on every seed many times over, in seconds of a
/// debug build.
const CASES: u32 = 5_000;

static ANSWERS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| seeds("parse_response", "http"));
static REQUESTS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| seeds("decode_request", "http"));
static CSV: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| seeds("csv_rows", "csv"));
static NDJSON: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| seeds("ndjson_rows", "ndjson"));
static CHECKPOINTS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| seeds("checkpoint", "json"));

#[test]
fn every_seed_holds_as_committed() {
    assert!(ANSWERS.len() >= 20, "{} answer seeds", ANSWERS.len());
    assert!(REQUESTS.len() >= 20, "{} request seeds", REQUESTS.len());
    ANSWERS
        .iter()
        .for_each(|seed| alias_core::fuzz::parse_response(seed));
    REQUESTS
        .iter()
        .for_each(|seed| alias_core::fuzz::decode_request(seed));
    CSV.iter().for_each(|seed| alias_cli::fuzz::csv_rows(seed));
    NDJSON
        .iter()
        .for_each(|seed| alias_cli::fuzz::ndjson_rows(seed));
    CHECKPOINTS
        .iter()
        .for_each(|seed| alias_cli::fuzz::checkpoint(seed));
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

    #[test]
    fn csv_rows_hold_on_mutated_inputs(input in mutated(&CSV)) {
        alias_cli::fuzz::csv_rows(&input.0);
    }

    #[test]
    fn ndjson_rows_hold_on_mutated_inputs(input in mutated(&NDJSON)) {
        alias_cli::fuzz::ndjson_rows(&input.0);
    }

    #[test]
    fn checkpoint_loading_holds_on_mutated_files(file in mutated(&CHECKPOINTS)) {
        alias_cli::fuzz::checkpoint(&file.0);
    }
}
