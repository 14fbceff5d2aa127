//! Dead workers' files that cannot be removed (a read-only mount, an
//! immutable file) are told: `cleanup` returns them in `failed`, snapshots
//! report them in `skipped`, and nothing else about the read changes. Root
//! only (mounts a tmpfs, sets the immutable attribute, runs helpers as
//! `nobody`), as in CI.

use crate::common::snapshot;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use parallel_scoreboard::{Error, ErrorKind};

use crate::common::{Helper, Mount, entries, tempdir};

/// Dead workers `dead-0..n`: made by a helper process that is then killed (`SIGKILL`).
fn dead_workers(dir: &Path, n: usize) -> Vec<PathBuf> {
    let mut h = Helper::spawn("script", dir);
    for i in 0..n {
        h.ok(&format!("worker dead-{i}"));
        h.ok(&format!("wupdate dead-{i} gone soon"));
    }
    h.kill();
    (0..n)
        .map(|i| dir.join(format!("status_dead-{i}")))
        .collect()
}

/// Asserts that `errors` are exactly one Io error per path in `paths`, with
/// the OS error `errno`.
fn check_failures(errors: &[Error], paths: &[PathBuf], errno: i32) {
    assert_eq!(errors.len(), paths.len(), "{errors:?}");
    for p in paths {
        let e = errors
            .iter()
            .find(|e| e.path() == Some(p.as_path()))
            .unwrap_or_else(|| panic!("{} not reported: {errors:?}", p.display()));
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        assert_eq!(
            e.io_error().and_then(std::io::Error::raw_os_error),
            Some(errno),
            "{e}"
        );
        assert!(e.to_string().contains("could not be removed"), "{e}");
    }
}

#[test]
fn dead_files_on_a_read_only_mount_are_reported_not_hidden() {
    let tmp = tempdir();
    let fs = tmp.path().join("fs");
    let mount = Mount::tmpfs(&fs, "1m");
    let dir = fs.join("board");
    let watching = crate::common::builder(&dir).watch(true).open().unwrap();
    let listing = crate::common::builder(&dir).watch(false).open().unwrap();
    let dead = dead_workers(&dir, 2);
    // No writer is left in the mount (a remount to read-only needs that).
    mount.remount("ro");
    for board in [&watching, &listing] {
        for _ in 0..2 {
            let done = board.cleanup().unwrap();
            assert_eq!(done.removed, 0);
            assert!(!done.is_complete());
            check_failures(&done.failed, &dead, libc::EROFS);
            let snap = snapshot(board).unwrap();
            assert!(snap.workers.is_empty(), "{snap:?}");
            check_failures(&snap.skipped, &dead, libc::EROFS);
            assert!(board.read_all().unwrap().is_empty());
        }
    }
    assert_eq!(entries(&dir), ["status_dead-0", "status_dead-1"]);

    // Writable again: the next cleanup removes them and reports nothing.
    mount.remount("rw");
    let done = listing.cleanup().unwrap();
    assert_eq!((done.removed, done.failed.len()), (2, 0), "{done:?}");
    assert!(entries(&dir).is_empty());
    let snap = snapshot(&watching).unwrap();
    assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);
    drop((watching, listing));
    mount.unmount();
}

/// `chattr +i` on a file for the test's life.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Self {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chattr +i needs root and chattr (as in CI)");
        Self(path.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        // Else the temporary directory could not be removed; no panic in a drop.
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn an_immutable_dead_file_is_reported_not_hidden() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    let dead = dead_workers(&dir, 2);
    let guard = Immutable::set(&dead[0]);
    // Even root may not open it for writing: EPERM.
    let done = board.cleanup().unwrap();
    assert_eq!(done.removed, 1);
    check_failures(&done.failed, &dead[..1], libc::EPERM);
    check_failures(&snapshot(&board).unwrap().skipped, &dead[..1], libc::EPERM);
    drop(guard);
    let done = board.cleanup().unwrap();
    assert_eq!((done.removed, done.failed.len()), (1, 0), "{done:?}");
    assert!(entries(&dir).is_empty());
}

/// The user `nobody`, whom root bypasses no permission for.
const NOBODY: u32 = 65_534;

#[test]
fn a_dead_file_in_a_directory_its_user_may_not_write_is_reported() {
    let tmp = tempdir();
    let chmod = |p: &Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    // `nobody` may pass through the temporary directory, and owns the board.
    chmod(tmp.path(), 0o711);
    let dir = tmp.path().join("board");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o700);
    std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let mut h = Helper::spawn_as("script", &dir, NOBODY);
    h.ok("worker dead-0");
    h.ok("wupdate dead-0 gone soon");
    h.kill();
    // No write permission on the directory: unlink fails with EACCES.
    chmod(&dir, 0o500);
    let mut cleaner = Helper::spawn_as("script", &dir, NOBODY);
    assert_eq!(cleaner.ok("cleanup-report"), format!("0 {}", libc::EACCES));
    assert_eq!(cleaner.ok("read"), "");
    assert_eq!(entries(&dir), ["status_dead-0"]);
    chmod(&dir, 0o700);
    assert_eq!(cleaner.ok("cleanup-report"), "1");
    assert!(entries(&dir).is_empty());
}
