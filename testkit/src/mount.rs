//! A tmpfs mounted for one test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::errno::Errno;
use nix::mount::{MntFlags, umount2};

/// How often an unmount that finds the file system busy is tried again
/// before it is detached, 10 ms apart.
const BUSY_RETRIES: u32 = 50;

/// A tmpfs mounted at a path for the test's life (root only, as in CI).
/// Drop unmounts it even when the test fails: a busy file system (another
/// thread of the test binary forking keeps its mappings for a moment) is
/// tried again, then detached (`umount2(MNT_DETACH)`), so nothing stays
/// mounted. [`Mount::unmount`] does it at the end of a test and checks that
/// a plain unmount worked.
#[derive(Debug)]
pub struct Mount {
    at: PathBuf,
    mounted: bool,
}

impl Mount {
    /// Mounts a tmpfs of `size` (`512k`, `1m`) at `at`, made if missing.
    ///
    /// # Panics
    ///
    /// If the mount fails (not root).
    #[must_use]
    pub fn tmpfs(at: &Path, size: &str) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let opts = format!("size={size},mode=0700");
        run_mount(
            &["-t", "tmpfs", "-o", &opts, "tmpfs"],
            at,
            "mounting a small tmpfs needs root (as in CI)",
        );
        Self {
            at: at.to_path_buf(),
            mounted: true,
        }
    }

    /// Remounts it with `opts` (`ro`, `rw`).
    ///
    /// # Panics
    ///
    /// If the remount fails.
    pub fn remount(&self, opts: &str) {
        let opts = format!("remount,{opts}");
        run_mount(&["-o", &opts], &self.at, &opts);
    }

    /// Unmounts it, which must work (everything in it closed and unmapped;
    /// a moment's EBUSY is tried again).
    ///
    /// # Panics
    ///
    /// If it stays busy or the unmount fails otherwise (it is then detached).
    pub fn unmount(mut self) {
        let r = self.try_unmount();
        assert!(r.is_ok(), "umount {}: {r:?}", self.at.display());
    }

    /// Unmounts, trying again while busy; `mounted` stays set on failure.
    fn try_unmount(&mut self) -> Result<(), Errno> {
        let mut tries = 0;
        loop {
            match umount2(&self.at, MntFlags::empty()) {
                Ok(()) => {
                    self.mounted = false;
                    return Ok(());
                }
                Err(Errno::EBUSY) if tries < BUSY_RETRIES => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Runs `mount ARGS AT`, which must succeed; fails with `what` and its stderr.
fn run_mount(args: &[&str], at: &Path, what: &str) {
    let out = Command::new("mount")
        .args(args)
        .arg(at)
        .output()
        .expect("run mount");
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.mounted && self.try_unmount().is_err() {
            // Still busy (a failed test holds files in it): detach it, so it
            // leaves the mount table now and is freed once the last file
            // closes. Nothing more to do if even that fails; no panic in a drop.
            let _ = umount2(&self.at, MntFlags::MNT_DETACH);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounted(at: &Path) -> bool {
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let at = at.to_str().unwrap();
        mounts.lines().any(|l| l.split(' ').nth(1) == Some(at))
    }

    /// A file left open in it (a test that failed midway): the drop still
    /// takes it out of the mount table, and the directory can go.
    #[test]
    fn a_busy_tmpfs_is_detached_on_drop() {
        let tmp = crate::tempdir();
        let at = tmp.path().join("fs");
        let mount = Mount::tmpfs(&at, "64k");
        assert!(mounted(&at));
        let open = std::fs::File::create(at.join("held")).unwrap();
        drop(mount);
        assert!(!mounted(&at), "still mounted at {}", at.display());
        drop(open);
        tmp.close().unwrap();
    }

    #[test]
    fn an_idle_tmpfs_unmounts() {
        let tmp = crate::tempdir();
        let at = tmp.path().join("fs");
        let mount = Mount::tmpfs(&at, "64k");
        std::fs::write(at.join("file"), b"x").unwrap();
        mount.unmount();
        assert!(!mounted(&at));
        assert!(!at.join("file").exists());
    }
}
