//! `psb_worker`: an explicit worker, by id, with its own status file.

use std::ffi::{c_char, c_int, c_void};
use std::ptr;

use parallel_scoreboard::Worker;

use crate::args::{bytes, put, to_mut, to_ref};
use crate::board::psb_board;
use crate::error::{Fail, guard};

/// A worker: one status file, the handle for the fastest updates. Made by
/// `psb_worker_open`, freed by `psb_worker_free`, which removes its file.
///
/// Used by one thread at a time (it may move between threads). It does not
/// need its board: it may outlive it.
#[derive(Debug)]
pub struct psb_worker(Worker);

/// Makes the worker `id` (`id_len` bytes of UTF-8, 1 to 255; not
/// NUL-terminated) in `board`'s directory, and stores it in `*out`. A NULL
/// `id` (with `id_len` 0) means the board's default id: the `worker_id`
/// callback's, or the process id.
///
/// On failure `*out` is set to NULL. The worker is the caller's: free it
/// with `psb_worker_free`. Its file exists, with no status yet, until then.
///
/// # Errors
/// - `PSB_E_NULL`: `board` or `out` is NULL.
/// - `PSB_E_INVALID_ARGUMENT`: `id` is NULL with `id_len` > 0.
/// - `PSB_E_INVALID_ID`: the id is empty, over 255 bytes, or not UTF-8 (or
///   the callback's, with a NULL id; `PSB_E_CALLBACK` if it failed).
/// - `PSB_E_DUPLICATE_ID`: a live worker holds the id (a dead one's is taken
///   over).
/// - `PSB_E_IO`: the file cannot be made (`psb_error_os()`: `ENOSPC`,
///   `EACCES`, `EMFILE`...).
/// - `PSB_E_CORRUPT`, `PSB_E_CONTENDED`, `PSB_E_READ_ONLY`, `PSB_E_MISSING`.
///
/// # Safety
/// `board` is NULL or a live board; `id` is NULL or points to `id_len`
/// readable bytes; `out` is NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_worker_open(
    board: *const psb_board,
    id: *const c_char,
    id_len: usize,
    out: *mut *mut psb_worker,
) -> c_int {
    guard(|| {
        if out.is_null() {
            return Err(Fail::Null("out"));
        }
        // SAFETY: not NULL, and writable by the caller's contract.
        unsafe { put(out, ptr::null_mut()) };
        // SAFETY: NULL or a live board, by the caller's contract.
        let board = unsafe { to_ref(board, "board") }?;
        let worker = if id.is_null() {
            if id_len != 0 {
                return Err(Fail::Invalid(format!(
                    "id is NULL with id_len {id_len} (NULL, the default id, needs 0)"
                )));
            }
            board.0.worker()?
        } else {
            // SAFETY: `id_len` readable bytes, by the caller's contract.
            let id = unsafe { bytes(id.cast::<c_void>(), id_len, "id") }?;
            let id =
                std::str::from_utf8(id).map_err(|e| Fail::InvalidId(format!("not UTF-8: {e}")))?;
            board.0.worker_with_id(id)?
        };
        let worker = Box::into_raw(Box::new(psb_worker(worker)));
        // SAFETY: as above.
        unsafe { put(out, worker) };
        Ok(())
    })
}

/// Publishes `status` (`len` bytes; NULL allowed with `len` 0) as the
/// worker's status. When it fits the space the file has, this is a few
/// stores into shared memory: no system call, no lock.
///
/// # Errors
/// - `PSB_E_NULL`: `worker` is NULL, or `status` is NULL with `len` > 0.
/// - `PSB_E_FORKED`: the worker was inherited through `fork()`; it is the
///   parent's.
/// - `PSB_E_IO`: the file cannot grow (`ENOSPC`, `EFBIG`); the previous
///   status stays published and the worker usable.
/// - `PSB_E_TOO_LARGE`: over 1 TiB.
///
/// # Safety
/// `worker` is NULL or a live worker that no other thread is using;
/// `status` is NULL or points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_worker_update(
    worker: *mut psb_worker,
    status: *const c_void,
    len: usize,
) -> c_int {
    guard(|| {
        // SAFETY: NULL or a live worker used by this thread alone, by the
        // caller's contract.
        let worker = unsafe { to_mut(worker, "worker") }?;
        // SAFETY: NULL or `len` readable bytes, by the caller's contract.
        let status = unsafe { bytes(status, len, "status") }?;
        worker.0.update(status).map_err(Fail::from)
    })
}

/// Frees `worker` (NULL: does nothing), removing its status file: readers
/// no longer list it.
///
/// In a `fork()` child, freeing a worker inherited from the parent leaves
/// the parent's file alone (it is the parent's worker).
///
/// # Errors
/// `PSB_E_PANIC` only (the worker is gone all the same: never use it again).
///
/// # Safety
/// `worker` is NULL or a worker from `psb_worker_open` not yet freed, which
/// no other thread is using; it must not be used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_worker_free(worker: *mut psb_worker) -> c_int {
    guard(|| {
        if !worker.is_null() {
            // SAFETY: from `Box::into_raw` in `psb_worker_open`, not freed
            // before and used by nobody else, by the caller's contract.
            drop(unsafe { Box::from_raw(worker) });
        }
        Ok(())
    })
}
