//! `mixpanel-alias import`'s CSV reader on the input as a whole file, with the properties of
//! `alias_cli::fuzz::csv_rows` checked: rows in order, honest marks, resumes that agree with
//! the whole read, a changed input caught.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| alias_cli::fuzz::csv_rows(input));
