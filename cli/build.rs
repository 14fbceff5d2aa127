//! Looks for the external programs some tests drive (Chromium, tmux, Perl,
//! Prometheus, promtool, faketime, ab) and sets `has_<name>` for each one on `PATH`: a
//! test needing a missing one is marked `#[ignore = "..."]`, so `cargo test`
//! reports it ignored with the reason rather than passed. In CI the test
//! `tools::ci_has_every_tool_the_tests_use` fails instead. The binary itself
//! uses none of these cfgs.

// The programs and how to find them, shared with the tests (std only).
#[allow(dead_code, unreachable_pub)]
#[path = "../testkit/src/tools.rs"]
mod tools;

fn main() {
    tools::emit_cargo_cfgs();
}
