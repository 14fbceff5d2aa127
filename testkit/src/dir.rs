//! Board directories.

use std::path::{Path, PathBuf};

/// The prefix of every directory [`tempdir`] makes.
const PREFIX: &str = "psb-test-";

/// A fresh directory for a board, on tmpfs (`/dev/shm`) where there is one,
/// named `psb-test-*`; removed when dropped.
///
/// # Panics
///
/// If the directory cannot be made.
#[must_use]
pub fn tempdir() -> tempfile::TempDir {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix(PREFIX)
        .tempdir_in(base)
        .expect("tempdir")
}

/// The names in `dir`, sorted.
///
/// # Panics
///
/// If `dir` cannot be listed.
#[must_use]
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
