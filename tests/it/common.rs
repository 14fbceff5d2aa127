//! Shared test plumbing: board directories, helper processes, self-checking statuses.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub const ROLE_VAR: &str = "PSB_TEST_ROLE";
pub const DIR_VAR: &str = "PSB_TEST_DIR";

/// A fresh directory for a board, on tmpfs where there is one.
pub fn tempdir() -> tempfile::TempDir {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix("psb-test-")
        .tempdir_in(base)
        .expect("tempdir")
}

/// The names in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A helper process: this test binary in a helper role.
pub struct Helper {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    /// Starts a helper in `role` on the board in `dir`.
    pub fn spawn(role: &str, dir: &Path) -> Self {
        Self::spawn_with(role, dir, &[])
    }

    pub fn spawn_with(role: &str, dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::spawn_cmd(role, dir, env, |_| {})
    }

    /// Starts a helper running as user and group `id` (the test must be root).
    pub fn spawn_as(role: &str, dir: &Path, id: u32) -> Self {
        use std::os::unix::process::CommandExt;
        Self::spawn_cmd(role, dir, &[], |cmd| {
            cmd.uid(id).gid(id);
        })
    }

    fn spawn_cmd(
        role: &str,
        dir: &Path,
        env: &[(&str, &str)],
        configure: impl FnOnce(&mut Command),
    ) -> Self {
        let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
        cmd.args([
            "--ignored",
            "--exact",
            "helper_entry",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(ROLE_VAR, role)
        .env(DIR_VAR, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        configure(&mut cmd);
        let mut child = cmd.spawn().expect("spawn helper");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next protocol line (`@@ ...`), without the prefix. Panics at EOF.
    pub fn line(&mut self) -> String {
        loop {
            let mut s = String::new();
            let n = self.stdout.read_line(&mut s).expect("read helper");
            assert!(n > 0, "helper {} exited before answering", self.child.id());
            if let Some(rest) = s.strip_prefix("@@ ") {
                return rest.trim_end().to_owned();
            }
        }
    }

    /// Sends one line without waiting for an answer.
    pub fn tell(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write helper");
        stdin.flush().expect("flush");
    }

    /// Sends one command and returns its answer.
    pub fn send(&mut self, cmd: &str) -> String {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{cmd}").expect("write helper");
        stdin.flush().expect("flush");
        self.line()
    }

    /// Sends a command that must succeed; returns what follows `ok`.
    pub fn ok(&mut self, cmd: &str) -> String {
        let answer = self.send(cmd);
        match answer.strip_prefix("ok") {
            Some(rest) => rest.trim().to_owned(),
            None => panic!("{cmd:?} answered {answer:?}"),
        }
    }

    /// Sends a signal to the helper.
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
        let rc = unsafe { libc::kill(self.child.id().cast_signed(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.child.id());
    }

    /// SIGKILLs the helper and reaps it: its locks are gone when this returns.
    pub fn kill(mut self) {
        self.signal(libc::SIGKILL);
        self.child.wait().expect("wait");
    }

    /// Closes its stdin (it exits normally, dropping its handles) and reaps it.
    pub fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().expect("wait")
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A self-checking status of `len` bytes: the bytes depend on `seed` and their
/// position; statuses of 24 bytes or more start with a mark, their seed and
/// length, statuses of 16 to 23 bytes with their seed and length.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| filler(seed, i)).collect();
    if len >= 24 {
        v[..8].copy_from_slice(b"PSBCHECK");
        v[8..16].copy_from_slice(&seed.to_le_bytes());
        v[16..24].copy_from_slice(&(len as u64).to_le_bytes());
    } else if len >= 16 {
        v[..8].copy_from_slice(&seed.to_le_bytes());
        v[8..16].copy_from_slice(&(len as u64).to_le_bytes());
    }
    v
}

fn filler(seed: u64, i: usize) -> u8 {
    (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) as u8)
        ^ (i as u8).wrapping_mul(31)
        ^ ((i >> 8) as u8)
}

/// Checks a status made by [`pattern`] with 16 bytes or more; returns its seed.
pub fn verify(status: &[u8]) -> Result<u64, String> {
    if (16..24).contains(&status.len()) {
        let seed = u64::from_le_bytes(status[..8].try_into().unwrap());
        let len = u64::from_le_bytes(status[8..16].try_into().unwrap()) as usize;
        if len != status.len() {
            return Err(format!("length {} but header says {len}", status.len()));
        }
        return match (16..len).find(|&k| status[k] != filler(seed, k)) {
            Some(k) => Err(format!("byte {k} of {len} differs (seed {seed})")),
            None => Ok(seed),
        };
    }
    if status.len() < 24 || &status[..8] != b"PSBCHECK" {
        return Err(format!("no check header in {} bytes", status.len()));
    }
    let seed = u64::from_le_bytes(status[8..16].try_into().unwrap());
    let len = u64::from_le_bytes(status[16..24].try_into().unwrap()) as usize;
    if len != status.len() {
        return Err(format!("length {} but header says {len}", status.len()));
    }
    match status[24..]
        .iter()
        .enumerate()
        .position(|(k, &b)| b != filler(seed, k + 24))
    {
        Some(k) => Err(format!("byte {} of {len} differs (seed {seed})", k + 24)),
        None => Ok(seed),
    }
}

/// A small xorshift generator for sizes and delays.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A tmpfs mounted at `at` for the test's life (root only, as in CI). Drop
/// unmounts it even when the test fails; [`Mount::unmount`] does it at the
/// end of a test and checks that it worked.
pub struct Mount<'a> {
    at: &'a Path,
    mounted: bool,
}

impl<'a> Mount<'a> {
    pub fn tmpfs(at: &'a Path, size: &str) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a small tmpfs needs root (as in CI): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { at, mounted: true }
    }

    /// Remounts it with `opts` (`ro`, `rw`).
    pub fn remount(&self, opts: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(self.at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remount,{opts}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Unmounts it, which must work (everything in it closed and unmapped).
    pub fn unmount(mut self) {
        let out = Command::new("umount")
            .arg(self.at)
            .output()
            .expect("run umount");
        self.mounted = !out.status.success();
        assert!(
            out.status.success(),
            "umount {}: {}",
            self.at.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Mount<'_> {
    fn drop(&mut self) {
        if self.mounted {
            // A test that failed may still hold files in it: detach it now
            // (lazily if busy) so nothing stays mounted; no panic in a drop.
            let ok = Command::new("umount")
                .arg(self.at)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(self.at).status();
            }
        }
    }
}
