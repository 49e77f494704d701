//! `alias_core::wire::parse_response` on the answer the input spells as raw HTTP, with the
//! properties of `alias_core::fuzz::parse_response` checked on every verdict and error.
#![no_main]

libfuzzer_sys::fuzz_target!(|raw: &[u8]| alias_core::fuzz::parse_response(raw));
