//! Integration tests: real processes, real files, real signals.
//!
//! Worker processes are this test binary re-executed in a helper role (see
//! `helper.rs`), driven line by line over stdin/stdout.

// Test modules share their helpers with `pub`; this crate exports nothing.
#![allow(unreachable_pub)]

mod common;
mod helper;

mod basics;
mod budget;
mod cleanup;
mod crash;
mod exhaustion;
mod fork;
mod growth;
mod hostile;
mod ids;
mod races;
mod reasons;
mod recreate;
mod shared;
mod storm;
mod threads;
mod truncation;
mod unremovable;
mod unsettled;
mod watch;

testkit::helper_entry!(helper::run);
