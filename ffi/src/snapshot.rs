//! `psb_snapshot`: a caller-owned, reusable copy of every live worker's
//! status, and reading a board into it.

use std::ffi::{CString, c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::ptr;
use std::time::{SystemTime, UNIX_EPOCH};

use parallel_scoreboard::Snapshot;

use crate::args::{put, to_mut, to_ref};
use crate::board::psb_board;
use crate::error::{self, Fail, guard, guarded};

/// What `psb_board_read` fills: every live worker's status, id, pid, update
/// count and times, and the entries the read skipped. Made by
/// `psb_snapshot_new`, freed by `psb_snapshot_free`.
///
/// Keep one for a polling loop: each read reuses its buffers, so once they
/// are large enough a read allocates nothing (while no entry is skipped).
/// Used by one thread at a time.
#[derive(Debug, Default)]
pub struct psb_snapshot {
    snap: Snapshot,
    /// The message of each skipped entry, as C strings.
    messages: Vec<CString>,
}

/// One live worker in a snapshot, from `psb_snapshot_get`.
///
/// The pointers point into the snapshot: valid until the next
/// `psb_board_read` into it or its `psb_snapshot_free`. Neither is
/// NUL-terminated; with a length of 0 the pointer is not NULL but must not
/// be read.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct psb_worker_info {
    /// The worker's id: `id_len` bytes of UTF-8.
    pub id: *const c_char,
    /// The id's length in bytes (1 to 255).
    pub id_len: usize,
    /// The worker's latest complete status: `status_len` bytes.
    pub status: *const c_char,
    /// The status's length in bytes.
    pub status_len: usize,
    /// How many updates the worker has made.
    pub updates: u64,
    /// When it made the latest one, in nanoseconds since the Unix epoch, on
    /// this process's wall clock (the age `now - updated_at_ns` is right
    /// even when either clock was set since).
    pub updated_at_ns: u64,
    /// When it started (made its file), in nanoseconds since the epoch.
    pub started_at_ns: u64,
    /// The process that owns it.
    pub pid: u32,
}

/// One entry a read skipped, from `psb_snapshot_skipped`.
///
/// The pointers point into the snapshot, valid as `psb_worker_info`'s.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct psb_skipped_info {
    /// What went wrong: a `PSB_E_*` code (`PSB_E_CORRUPT`, `PSB_E_UNSETTLED`,
    /// `PSB_E_IO`...).
    pub code: c_int,
    /// Why, for `PSB_E_CORRUPT`: a `PSB_REASON_*` code; `PSB_REASON_NONE`
    /// otherwise.
    pub reason: c_int,
    /// The OS error number, for `PSB_E_IO`; 0 otherwise.
    pub os_error: c_int,
    /// The message, NUL-terminated UTF-8.
    pub message: *const c_char,
    /// The entry's path (`path_len` bytes, not NUL-terminated); NULL if none.
    pub path: *const c_char,
    /// The path's length in bytes.
    pub path_len: usize,
}

/// A new, empty snapshot; NULL only if the library panicked (out of memory
/// aborts the process, as it does for any Rust allocation).
///
/// The snapshot is the caller's: free it with `psb_snapshot_free`.
#[unsafe(no_mangle)]
pub extern "C" fn psb_snapshot_new() -> *mut psb_snapshot {
    let mut made = ptr::null_mut();
    guard(|| {
        made = Box::into_raw(Box::<psb_snapshot>::default());
        Ok(())
    });
    made
}

/// Frees `snap` (NULL: does nothing), and every pointer into it.
///
/// # Errors
/// `PSB_E_PANIC` only.
///
/// # Safety
/// `snap` is NULL or a snapshot from `psb_snapshot_new` not yet freed,
/// which no other thread is using; it must not be used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_snapshot_free(snap: *mut psb_snapshot) -> c_int {
    guard(|| {
        if !snap.is_null() {
            // SAFETY: from `Box::into_raw` in `psb_snapshot_new`, not freed
            // before and used by nobody else, by the caller's contract.
            drop(unsafe { Box::from_raw(snap) });
        }
        Ok(())
    })
}

/// Refills `snap` with every live worker of `board` that has a status,
/// sorted by id, and the entries skipped and why. Dead workers' files are
/// removed on the way (`psb_snapshot_removed` counts them).
///
/// Every pointer from `snap` taken before is invalid after this. On failure
/// `snap` holds no worker and no skipped entry.
///
/// # Errors
/// - `PSB_E_NULL`: `board` or `snap` is NULL.
/// - `PSB_E_MISSING`: no directory at the board's path.
/// - `PSB_E_INSECURE`: the directory now there is not private.
/// - `PSB_E_IO`: the directory cannot be listed, or an entry cannot be
///   opened, mapped or copied for want of descriptors or memory.
///
/// # Safety
/// `board` is NULL or a live board; `snap` is NULL or a live snapshot that
/// no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_board_read(board: *const psb_board, snap: *mut psb_snapshot) -> c_int {
    guard(|| {
        // SAFETY: NULL or a live board, by the caller's contract.
        let board = unsafe { to_ref(board, "board") }?;
        // SAFETY: NULL or a live snapshot used by this thread alone, by the
        // caller's contract.
        let snap = unsafe { to_mut(snap, "snap") }?;
        snap.messages.clear();
        if let Err(e) = board.0.read_into(&mut snap.snap) {
            snap.snap.workers.clear();
            snap.snap.skipped.clear();
            snap.snap.removed = 0;
            return Err(Fail::from(e));
        }
        let messages = snap
            .snap
            .skipped
            .iter()
            .map(|e| error::c_string(&error::message(e)));
        snap.messages.extend(messages);
        Ok(())
    })
}

/// The number of live workers in `snap` (0 for NULL).
///
/// # Safety
/// `snap` is NULL or a live snapshot that no other thread is changing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_snapshot_count(snap: *const psb_snapshot) -> usize {
    guarded(0, || {
        // SAFETY: NULL or a live snapshot, by the caller's contract.
        unsafe { snap.as_ref() }.map_or(0, |s| s.snap.workers.len())
    })
}

/// The number of dead workers' files the read into `snap` removed (0 for
/// NULL).
///
/// # Safety
/// As `psb_snapshot_count`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_snapshot_removed(snap: *const psb_snapshot) -> usize {
    guarded(0, || {
        // SAFETY: NULL or a live snapshot, by the caller's contract.
        unsafe { snap.as_ref() }.map_or(0, |s| s.snap.removed)
    })
}

/// The number of entries the read into `snap` skipped (0 for NULL).
///
/// # Safety
/// As `psb_snapshot_count`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_snapshot_skipped_count(snap: *const psb_snapshot) -> usize {
    guarded(0, || {
        // SAFETY: NULL or a live snapshot, by the caller's contract.
        unsafe { snap.as_ref() }.map_or(0, |s| s.snap.skipped.len())
    })
}

/// Stores the `i`th live worker of `snap` (from 0, in id order) in `*out`.
///
/// # Errors
/// - `PSB_E_NULL`: `snap` or `out` is NULL.
/// - `PSB_E_INVALID_ARGUMENT`: `i` is not below `psb_snapshot_count(snap)`.
///
/// # Safety
/// `snap` is NULL or a live snapshot that no other thread is changing;
/// `out` is NULL or points to writable memory for a `psb_worker_info`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_snapshot_get(
    snap: *const psb_snapshot,
    i: usize,
    out: *mut psb_worker_info,
) -> c_int {
    guard(|| {
        // SAFETY: NULL or a live snapshot, by the caller's contract.
        let snap = unsafe { to_ref(snap, "snap") }?;
        if out.is_null() {
            return Err(Fail::Null("out"));
        }
        let workers = &snap.snap.workers;
        let w = workers.get(i).ok_or_else(|| {
            Fail::Invalid(format!(
                "index {i}, and the snapshot has {} workers",
                workers.len()
            ))
        })?;
        let info = psb_worker_info {
            id: w.id.as_ptr().cast(),
            id_len: w.id.len(),
            status: w.status.as_ptr().cast(),
            status_len: w.status.len(),
            updates: w.updates,
            updated_at_ns: epoch_ns(w.updated_at),
            started_at_ns: epoch_ns(w.started_at),
            pid: w.pid,
        };
        // SAFETY: not NULL, and writable by the caller's contract.
        unsafe { put(out, info) };
        Ok(())
    })
}

/// Stores the `i`th entry the read into `snap` skipped in `*out`.
///
/// # Errors
/// - `PSB_E_NULL`: `snap` or `out` is NULL.
/// - `PSB_E_INVALID_ARGUMENT`: `i` is not below
///   `psb_snapshot_skipped_count(snap)`.
///
/// # Safety
/// `snap` is NULL or a live snapshot that no other thread is changing;
/// `out` is NULL or points to writable memory for a `psb_skipped_info`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_snapshot_skipped(
    snap: *const psb_snapshot,
    i: usize,
    out: *mut psb_skipped_info,
) -> c_int {
    guard(|| {
        // SAFETY: NULL or a live snapshot, by the caller's contract.
        let snap = unsafe { to_ref(snap, "snap") }?;
        if out.is_null() {
            return Err(Fail::Null("out"));
        }
        let skipped = &snap.snap.skipped;
        let (Some(e), Some(message)) = (skipped.get(i), snap.messages.get(i)) else {
            return Err(Fail::Invalid(format!(
                "index {i}, and the snapshot has {} skipped entries",
                skipped.len()
            )));
        };
        let path = e.path().map(|p| p.as_os_str().as_bytes());
        let info = psb_skipped_info {
            code: error::code_of(e.kind()),
            reason: error::reason_code(e.reason()),
            os_error: error::os_error(e),
            message: message.as_ptr(),
            path: path.map_or(ptr::null(), |p| p.as_ptr().cast()),
            path_len: path.map_or(0, <[u8]>::len),
        };
        // SAFETY: not NULL, and writable by the caller's contract.
        unsafe { put(out, info) };
        Ok(())
    })
}

/// `t` in nanoseconds since the epoch: 0 before it, `u64::MAX` past 2554.
fn epoch_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
