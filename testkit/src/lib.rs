//! The test plumbing of `parallel-scoreboard`, shared by the library's tests,
//! the CLI's tests and the benchmarks. Dev-only: never published, never a
//! dependency of the library or the `scoreboard` binary.
//!
//! - [`tempdir`], [`entries`]: board directories on tmpfs, named `psb-test-*`
//!   (CI checks that none is left in `/dev/shm` after the tests).
//! - [`Helper`], [`helper_entry!`]: the test binary re-executed in a helper
//!   role, driven line by line.
//! - [`Mount`]: a small tmpfs, unmounted on drop even when the test failed.
//! - [`Reaped`]: any other child process, killed and reaped on drop.
//! - [`eventually`]: polling for what another process does, with a limit.
//! - [`raise_fd_limit`], [`procfs`]: resource limits and `/proc/PID/stat`.
//! - [`tools`]: the external programs some tests drive, also read by the
//!   CLI's build script to mark their tests ignored when a program is missing.
//! - [`alloc`]: a global allocator counting the current thread's allocations.
//! - `tower` (feature `tower`): a body and a service for `ScoreboardLayer`.
//! - `http_client` (feature `http-client`): the tests' HTTP client.
//! - [`watching`], [`NO_WATCH_VAR`]: the suite's mode, watching or listing boards.
//!
//! Every function here fails the test that called it by panicking, as an
//! assertion does; guards (`Helper`, `Mount`, `TempDir`) undo their step in
//! `Drop` even then.

pub mod alloc;
mod child;
mod dir;
mod helper;
#[cfg(feature = "http-client")]
pub mod http_client;
mod limits;
mod mount;
mod poll;
pub mod procfs;
pub mod tools;
#[cfg(feature = "tower")]
pub mod tower;

pub use child::Reaped;
pub use dir::{entries, tempdir};
pub use helper::{DIR_VAR, Helper, ROLE_VAR};
pub use limits::raise_fd_limit;
pub use mount::Mount;
pub use poll::eventually;
pub use tempfile::TempDir;

/// The environment variable that chooses the test suite's mode:
/// `PARALLEL_SCOREBOARD_NO_WATCH=1` runs it with listing boards. The library
/// reads no environment variable: the suite's helpers that open boards read
/// this one ([`watching`]) and pass `.watch(false)`.
pub const NO_WATCH_VAR: &str = "PARALLEL_SCOREBOARD_NO_WATCH";

/// Whether the boards of this run watch their directory: `false` when
/// [`NO_WATCH_VAR`] is set to anything but `0`.
#[must_use]
pub fn watching() -> bool {
    std::env::var_os(NO_WATCH_VAR).is_none_or(|v| v == "0")
}
