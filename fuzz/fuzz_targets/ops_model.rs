//! Random operations on workers and two boards (watching, listing) against a
//! model of what reads must return (see `checks.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_ops(data));
