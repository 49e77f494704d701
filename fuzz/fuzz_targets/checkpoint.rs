//! `mixpanel-alias import`'s checkpoint loader on the input as the checkpoint file, with
//! the properties of `alias_cli::fuzz::checkpoint` checked: bounded reading, and a
//! checkpoint that writes back as itself.
#![no_main]

libfuzzer_sys::fuzz_target!(|file: &[u8]| alias_cli::fuzz::checkpoint(file));
