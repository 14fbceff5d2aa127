//! Tests of the `scoreboard` binary: real processes, files, sockets, a real
//! HTTP client, headless Chromium and tmux.
//!
//! Workers are this test binary re-executed in a helper role (`helper.rs`),
//! or worker handles held by the test process itself; either way the
//! `scoreboard` binary reads them from another process.

// Test modules share their helpers with `pub`; this crate exports nothing.
#![allow(unreachable_pub)]

mod common;
mod helper;

mod access;
mod browser;
mod clock;
mod collectors;
mod demo;
mod docs;
mod errors;
mod hint;
mod hold;
mod http;
mod legacy;
mod list;
mod listing;
mod memory;
mod modstatus;
mod monitoring;
mod recovery;
mod shared;
mod skipped;
mod tools;
mod watch;
mod width;

testkit::helper_entry!(helper::run);
