//! Safe owners of the C handles, for the tests that are not about the
//! pointers themselves: each call goes through the extern function, and a
//! failure comes back as the code with the thread's last error.

use std::ffi::{CStr, CString, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use parallel_scoreboard_ffi::*;

/// A failed call: its code, and the thread's last error then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failed {
    pub(crate) code: i32,
    pub(crate) message: String,
    pub(crate) os: i32,
}

/// `Ok(())` for `PSB_OK`; the code with the thread's last error otherwise.
pub(crate) fn check(code: i32) -> Result<(), Failed> {
    if code == PSB_OK {
        return Ok(());
    }
    assert_eq!(psb_error_code(), code, "the last error is the call's");
    Err(Failed {
        code,
        message: last_message(),
        os: psb_error_os(),
    })
}

/// The thread's last error message.
pub(crate) fn last_message() -> String {
    // SAFETY: `psb_error_message` never returns NULL, and its text stays
    // valid until the next call on this thread; copied at once.
    unsafe { CStr::from_ptr(psb_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// `path` as a C string.
pub(crate) fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL in the path")
}

/// A board, freed on drop.
#[derive(Debug)]
pub(crate) struct Board(pub(crate) *mut psb_board);

impl Board {
    /// Opens the board at `dir` with the defaults.
    pub(crate) fn open(dir: &Path) -> Result<Self, Failed> {
        Self::open_with(dir, None)
    }

    /// Opens the board at `dir` with `opts`.
    pub(crate) fn open_with(dir: &Path, opts: Option<&psb_options>) -> Result<Self, Failed> {
        let dir = c_path(dir);
        let mut out = ptr::dangling_mut();
        let opts = opts.map_or(ptr::null(), ptr::from_ref);
        // SAFETY: a C string, NULL or live options, and a place for the board.
        let code = unsafe { psb_board_open(dir.as_ptr(), opts, &raw mut out) };
        match check(code) {
            Ok(()) => Ok(Self(out)),
            Err(e) => {
                assert!(out.is_null(), "a failed open leaves NULL");
                Err(e)
            }
        }
    }

    /// `psb_board_update`.
    pub(crate) fn update(&self, status: &[u8]) -> Result<(), Failed> {
        // SAFETY: a live board, and `status.len()` readable bytes.
        check(unsafe { psb_board_update(self.0, status.as_ptr().cast(), status.len()) })
    }

    /// `psb_worker_open` with `id` (`None`: the default id).
    pub(crate) fn worker(&self, id: Option<&[u8]>) -> Result<Worker, Failed> {
        let (p, len) = id.map_or((ptr::null(), 0), |id| (id.as_ptr(), id.len()));
        let mut out = ptr::dangling_mut();
        // SAFETY: a live board, `len` readable bytes (or NULL and 0), and a
        // place for the worker.
        let code = unsafe { psb_worker_open(self.0, p.cast(), len, &raw mut out) };
        match check(code) {
            Ok(()) => Ok(Worker(out)),
            Err(e) => {
                assert!(out.is_null(), "a failed open leaves NULL");
                Err(e)
            }
        }
    }

    /// `psb_board_read` into `snap`.
    pub(crate) fn read(&self, snap: &mut Snap) -> Result<(), Failed> {
        // SAFETY: a live board and a live snapshot of this thread.
        check(unsafe { psb_board_read(self.0, snap.0) })
    }

    /// `psb_board_cleanup`: (removed, failed).
    pub(crate) fn cleanup(&self) -> Result<(usize, usize), Failed> {
        let (mut removed, mut failed) = (usize::MAX, usize::MAX);
        // SAFETY: a live board, and places for two counts.
        check(unsafe { psb_board_cleanup(self.0, &raw mut removed, &raw mut failed) })?;
        Ok((removed, failed))
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        // SAFETY: from `psb_board_open`, freed once, here.
        assert_eq!(unsafe { psb_board_free(self.0) }, PSB_OK);
    }
}

/// A worker, freed on drop.
#[derive(Debug)]
pub(crate) struct Worker(pub(crate) *mut psb_worker);

impl Worker {
    /// `psb_worker_update`.
    pub(crate) fn update(&mut self, status: &[u8]) -> Result<(), Failed> {
        // SAFETY: a live worker of this thread, and `status.len()` readable
        // bytes.
        check(unsafe { psb_worker_update(self.0, status.as_ptr().cast(), status.len()) })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // SAFETY: from `psb_worker_open`, freed once, here.
        assert_eq!(unsafe { psb_worker_free(self.0) }, PSB_OK);
    }
}

/// One worker of a snapshot, copied out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Info {
    pub(crate) id: String,
    pub(crate) status: Vec<u8>,
    pub(crate) pid: u32,
    pub(crate) updates: u64,
    pub(crate) updated_at_ns: u64,
    pub(crate) started_at_ns: u64,
}

/// One skipped entry of a snapshot, copied out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub(crate) code: i32,
    pub(crate) reason: i32,
    pub(crate) os_error: i32,
    pub(crate) message: String,
    pub(crate) path: Option<Vec<u8>>,
}

/// A snapshot, freed on drop.
#[derive(Debug)]
pub(crate) struct Snap(pub(crate) *mut psb_snapshot);

impl Snap {
    pub(crate) fn new() -> Self {
        let p = psb_snapshot_new();
        assert!(!p.is_null());
        Self(p)
    }

    /// The raw `i`th worker.
    pub(crate) fn raw(&self, i: usize) -> Result<psb_worker_info, Failed> {
        let mut info = std::mem::MaybeUninit::<psb_worker_info>::uninit();
        // SAFETY: a live snapshot, and a place for the info.
        check(unsafe { psb_snapshot_get(self.0, i, info.as_mut_ptr()) })?;
        // SAFETY: written by the successful call.
        Ok(unsafe { info.assume_init() })
    }

    /// Every worker, copied.
    pub(crate) fn workers(&self) -> Vec<Info> {
        // SAFETY: a live snapshot.
        let n = unsafe { psb_snapshot_count(self.0) };
        (0..n)
            .map(|i| {
                let w = self.raw(i).expect("in range");
                Info {
                    id: String::from_utf8(bytes(w.id.cast(), w.id_len)).expect("UTF-8 id"),
                    status: bytes(w.status.cast(), w.status_len),
                    pid: w.pid,
                    updates: w.updates,
                    updated_at_ns: w.updated_at_ns,
                    started_at_ns: w.started_at_ns,
                }
            })
            .collect()
    }

    /// Every worker's (id, status).
    pub(crate) fn statuses(&self) -> Vec<(String, Vec<u8>)> {
        self.workers()
            .into_iter()
            .map(|w| (w.id, w.status))
            .collect()
    }

    /// Every skipped entry, copied.
    pub(crate) fn skipped(&self) -> Vec<Skipped> {
        // SAFETY: a live snapshot.
        let n = unsafe { psb_snapshot_skipped_count(self.0) };
        (0..n)
            .map(|i| {
                let mut s = std::mem::MaybeUninit::<psb_skipped_info>::uninit();
                // SAFETY: a live snapshot, and a place for the info.
                check(unsafe { psb_snapshot_skipped(self.0, i, s.as_mut_ptr()) })
                    .expect("in range");
                // SAFETY: written by the successful call.
                let s = unsafe { s.assume_init() };
                Skipped {
                    code: s.code,
                    reason: s.reason,
                    os_error: s.os_error,
                    // SAFETY: NUL-terminated, valid until the next read.
                    message: unsafe { CStr::from_ptr(s.message) }
                        .to_string_lossy()
                        .into_owned(),
                    path: (!s.path.is_null()).then(|| bytes(s.path.cast(), s.path_len)),
                }
            })
            .collect()
    }

    /// `psb_snapshot_removed`.
    pub(crate) fn removed(&self) -> usize {
        // SAFETY: a live snapshot.
        unsafe { psb_snapshot_removed(self.0) }
    }
}

impl Drop for Snap {
    fn drop(&mut self) {
        // SAFETY: from `psb_snapshot_new`, freed once, here.
        assert_eq!(unsafe { psb_snapshot_free(self.0) }, PSB_OK);
    }
}

/// The `len` bytes at `p`, copied (`len` 0: none, whatever `p`).
fn bytes(p: *const c_void, len: usize) -> Vec<u8> {
    if len == 0 {
        return Vec::new();
    }
    // SAFETY: the snapshot's pointers, valid until its next read, with
    // their lengths.
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }.to_vec()
}

/// Forks; the child runs `child` and exits with the code it returns
/// (without running the parent's destructors or exit handlers). Returns
/// the child's pid.
pub(crate) fn fork(child: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child runs `child` and `_exit`s: it never returns into
    // the test harness. The calls it makes are the library's, which is
    // made to run in a fork child (its `pthread_atfork` handlers), and
    // glibc's allocator, which takes care of its own locks at a fork.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(99);
        // SAFETY: ends the child without unwinding or running atexit
        // handlers.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for `pid`; its exit code (or 128 + the signal that ended it).
pub(crate) fn wait(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: our own child, a place for its status.
    let r = unsafe { libc::waitpid(pid, &raw mut status, 0) };
    assert_eq!(r, pid, "waitpid");
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}
