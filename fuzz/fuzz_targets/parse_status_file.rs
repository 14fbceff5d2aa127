//! A status file's bytes, under a chosen name: `inspect::parse` and the real
//! reader must not panic and must agree (see `checks.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_status_file(data));
