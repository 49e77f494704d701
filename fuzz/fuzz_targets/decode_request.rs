//! `alias_core::server::decode_request` on the request the input spells as raw HTTP, with
//! the properties of `alias_core::fuzz::decode_request` checked on what it decodes and on
//! the answer the server would give.
#![no_main]

libfuzzer_sys::fuzz_target!(|raw: &[u8]| alias_core::fuzz::decode_request(raw));
