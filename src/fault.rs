//! Crash points for the tests (cargo feature `fault-injection`, which only the
//! test suite turns on): a process whose environment names a point with
//! `PARALLEL_SCOREBOARD_FAULT=<point>` kills itself with SIGKILL when it gets
//! there, so the tests can check what a crash at every step of publication,
//! growth and removal leaves behind. Without the feature every point is an
//! empty inline function.
//!
//! Points: `create:temp`, `create:locked`, `create:header`, `create:published`,
//! `takeover:claimed`, `grow:allocated`, `grow:mapped`, `remove:claimed`,
//! `drop:unlinked`.

/// A crash point named `name`.
#[cfg(feature = "fault-injection")]
pub(crate) fn point(name: &str) {
    use std::sync::OnceLock;
    static CHOSEN: OnceLock<Option<String>> = OnceLock::new();
    let chosen = CHOSEN.get_or_init(|| std::env::var("PARALLEL_SCOREBOARD_FAULT").ok());
    if chosen.as_deref() == Some(name) {
        crate::sys::crash();
    }
}

/// A crash point named `name`: nothing, without the `fault-injection` feature.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn point(_name: &str) {}
