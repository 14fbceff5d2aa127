//! The fuzz targets' scratch directories and boards: one directory per
//! target and process, emptied before each run, removed by whoever outlives
//! the process (libFuzzer exits without running destructors).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use parallel_scoreboard::Scoreboard;

/// The scratch directory of `parse_status_file`, once made.
pub(super) static PARSE_DIR: OnceLock<PathBuf> = OnceLock::new();
/// The scratch directory of `ops_model`, once made.
pub(super) static OPS_DIR: OnceLock<PathBuf> = OnceLock::new();

/// A directory of this process for one target, on tmpfs where there is one,
/// made once and emptied before every run.
pub(super) fn scratch(cell: &'static OnceLock<PathBuf>, tag: &str) -> &'static Path {
    let dir = cell.get_or_init(|| {
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        remove_stale_scratch(&base, tag);
        let dir = base.join(format!("psb-fuzz-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("creating the scratch directory");
        dir
    });
    empty_dir(dir);
    dir
}

/// A watching board on `dir`, made once per process and kept: closing an
/// inotify instance costs the kernel 6 to 18 ms here, more than the rest of a
/// run. Its reader state carries over from run to run, and its reads must be
/// exact whatever came before.
pub(super) fn watching_board(
    cell: &'static OnceLock<Scoreboard>,
    dir: &Path,
) -> &'static Scoreboard {
    // Both modes are checked here whatever the test suite's mode: this one
    // watches, `listing_board` lists.
    cell.get_or_init(|| {
        Scoreboard::builder(dir)
            .watch(true)
            .open()
            .expect("opening the watching board")
    })
}

/// A board whose reads list the directory (no inotify instance to close).
pub(super) fn listing_board(dir: &Path) -> Scoreboard {
    Scoreboard::builder(dir)
        .watch(false)
        .open()
        .expect("opening the listing board")
}

/// Removes the scratch directory of `target` (`"parse_status_file"` or
/// `"ops_model"`) if this process made one.
pub(crate) fn remove_scratch(target: &str) {
    let cell = match target {
        "parse_status_file" => &PARSE_DIR,
        "ops_model" => &OPS_DIR,
        _ => panic!("no fuzz target {target:?}"),
    };
    if let Some(dir) = cell.get() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Removes the scratch directories of `tag` left in `base` by processes that
/// are gone (a fuzzer cannot remove its own: libFuzzer exits the process).
fn remove_stale_scratch(base: &Path, tag: &str) {
    let prefix = format!("psb-fuzz-{tag}-");
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes every entry of `dir` (left behind by a run that failed).
pub(super) fn empty_dir(dir: &Path) {
    for entry in fs::read_dir(dir).expect("listing the scratch directory") {
        let path = entry.expect("listing the scratch directory").path();
        if path.is_dir() {
            fs::remove_dir_all(&path).expect("emptying the scratch directory");
        } else {
            fs::remove_file(&path).expect("emptying the scratch directory");
        }
    }
}

/// The names left in `dir`.
pub(super) fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("listing the scratch directory")
        .map(|e| {
            e.expect("listing the scratch directory")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}
