//! Resource limits.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raises this process's soft open-file limit to at least `n` (up to the
/// hard limit).
///
/// # Panics
///
/// If the limit cannot be read or set.
pub fn raise_fd_limit(n: u64) {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < n {
        setrlimit(Resource::RLIMIT_NOFILE, n.min(hard), hard).expect("setrlimit");
    }
}
