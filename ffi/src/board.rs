//! `psb_board`: opening a board with its options, the process's own update,
//! cleanup, and freeing it.

use std::ffi::{OsStr, c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::ptr;
use std::time::Duration;

use parallel_scoreboard::Scoreboard;

use crate::args::{bytes, c_str, put, to_ref};
use crate::codes::PSB_ID_FAILED;
use crate::error::{Fail, IdFault, guard};

/// A board: a directory of per-worker status files. Made by
/// `psb_board_open`, freed by `psb_board_free`.
///
/// Thread-safe: one board may be used by many threads at once (every
/// function taking a `const psb_board *`), until it is freed.
#[derive(Debug)]
pub struct psb_board(pub(crate) Scoreboard);

/// The worker-id callback: writes the calling worker's id (up to `cap`
/// bytes, UTF-8, no NUL needed) into `buf` and returns its length in bytes,
/// 1 to 255 (`cap` is at least 256). Returning 0, more than 255, or bytes
/// that are not UTF-8 fails the call that asked with `PSB_E_INVALID_ID`;
/// returning `PSB_ID_FAILED` (it could not name the worker) fails it with
/// `PSB_E_CALLBACK`. Either way the call changes nothing. The library
/// copies the id out of `buf` before it returns.
///
/// It is called by `psb_board_update` (every call) and by `psb_worker_open`
/// with a NULL id, and by nothing else (never by a read, a cleanup or a
/// free), on the thread that made that call, which may be any thread using
/// the board: it and its `ctx` must be usable from all of
/// them. It must return normally: no `longjmp` out of it, no C++ exception
/// through it. It may call the library (read the board, even update
/// another board).
pub type psb_worker_id_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, buf: *mut c_char, cap: usize) -> usize>;

/// How to open a board. Fill one with `psb_options_init` (the defaults),
/// then change the fields wanted.
///
/// Later versions may add fields at the end; always start from
/// `psb_options_init`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct psb_options {
    /// Non-zero (default): create the directory (mode 0700, and missing
    /// parents) if missing. Zero: neither create it nor fail because it is
    /// missing; reads fail with `PSB_E_MISSING` until a directory is there.
    pub create: c_int,
    /// Non-zero (default): reads watch the directory with inotify (a warm
    /// read makes one system call). Zero: reads list it each time.
    pub watch: c_int,
    /// How long one read waits, in all, for statuses that keep changing
    /// under it, in milliseconds; -1 (default): the library's default
    /// (100 ms).
    pub settle_timeout_ms: i64,
    /// -1 (default): the board is private to its user (directory 0700,
    /// files 0600). A group id (0 to 4294967294): share it for reading with
    /// that group (directory 2750, files 0640).
    pub group: i64,
    /// How many workers' files reads keep mapped between reads, at most;
    /// -1 (default): no limit of the board's own.
    pub max_mappings: i64,
    /// NULL (default): a worker's default id is the process id (in decimal).
    /// Otherwise the function that gives it; see `psb_worker_id_fn`.
    pub worker_id: psb_worker_id_fn,
    /// Passed to `worker_id` as its `ctx` (default NULL). The library never
    /// frees it; it must stay valid until the board is freed.
    pub worker_id_ctx: *mut c_void,
}

/// Sets `*opts` to the defaults: create, watch, the default settle timeout,
/// private, no limit of mappings, the process id as the worker id.
///
/// # Errors
/// `PSB_E_NULL` if `opts` is NULL.
///
/// # Safety
/// `opts` is NULL or points to writable memory for a `psb_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_options_init(opts: *mut psb_options) -> c_int {
    guard(|| {
        if opts.is_null() {
            return Err(Fail::Null("opts"));
        }
        // SAFETY: not NULL, and writable by the caller's contract.
        unsafe { put(opts, DEFAULTS) };
        Ok(())
    })
}

const DEFAULTS: psb_options = psb_options {
    create: 1,
    watch: 1,
    settle_timeout_ms: -1,
    group: -1,
    max_mappings: -1,
    worker_id: None,
    worker_id_ctx: ptr::null_mut(),
};

/// Opens the board in the directory `dir` (a NUL-terminated path, any
/// bytes) with `opts` (NULL: the defaults), and stores it in `*out`.
///
/// On failure `*out` is set to NULL. The board is the caller's: free it
/// with `psb_board_free`.
///
/// # Errors
/// - `PSB_E_NULL`: `dir` or `out` is NULL.
/// - `PSB_E_INVALID_ARGUMENT`: an option out of its range.
/// - `PSB_E_IO`: the directory cannot be created or opened
///   (`psb_error_os()`: `ENOTDIR`, `EACCES`...).
/// - `PSB_E_INSECURE`: the directory is another user's, or writable by
///   others.
///
/// # Safety
/// `dir` is NULL or a NUL-terminated string; `opts` is NULL or points to a
/// `psb_options`; `out` is NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_board_open(
    dir: *const c_char,
    opts: *const psb_options,
    out: *mut *mut psb_board,
) -> c_int {
    guard(|| {
        if out.is_null() {
            return Err(Fail::Null("out"));
        }
        // SAFETY: not NULL, and writable by the caller's contract.
        unsafe { put(out, ptr::null_mut()) };
        // SAFETY: NULL or NUL-terminated, by the caller's contract.
        let dir = unsafe { c_str(dir, "dir") }?;
        let opts = if opts.is_null() {
            DEFAULTS
        } else {
            // SAFETY: not NULL, and a `psb_options` by the caller's contract.
            *unsafe { to_ref(opts, "opts") }?
        };
        let board = builder(OsStr::from_bytes(dir.to_bytes()), &opts)?.open()?;
        let board = Box::into_raw(Box::new(psb_board(board)));
        // SAFETY: as above.
        unsafe { put(out, board) };
        Ok(())
    })
}

/// The builder `opts` describe, for the board at `dir`.
fn builder(dir: &OsStr, opts: &psb_options) -> Result<parallel_scoreboard::Builder, Fail> {
    let mut b = Scoreboard::builder(dir)
        .create(opts.create != 0)
        .watch(opts.watch != 0);
    match opts.settle_timeout_ms {
        -1 => {}
        ms => {
            let ms = u64::try_from(ms).map_err(|_| {
                Fail::Invalid(format!("settle_timeout_ms is {ms}: -1 or at least 0"))
            })?;
            b = b.settle_timeout(Duration::from_millis(ms));
        }
    }
    match opts.group {
        -1 => {}
        gid => match u32::try_from(gid) {
            Ok(gid) if gid != u32::MAX => b = b.group(gid),
            _ => {
                return Err(Fail::Invalid(format!(
                    "group is {gid}: -1 or a group id from 0 to 4294967294"
                )));
            }
        },
    }
    match opts.max_mappings {
        -1 => {}
        n => {
            let n = usize::try_from(n)
                .map_err(|_| Fail::Invalid(format!("max_mappings is {n}: -1 or at least 0")))?;
            b = b.max_mappings(n);
        }
    }
    if let Some(f) = opts.worker_id {
        let id = IdCallback {
            f,
            ctx: opts.worker_id_ctx,
        };
        b = b.worker_id(move || id.call());
    }
    Ok(b)
}

/// The longest id, in bytes.
const MAX_ID_LEN: usize = 255;

/// A worker-id callback and its context.
#[derive(Clone, Copy)]
struct IdCallback {
    f: unsafe extern "C" fn(*mut c_void, *mut c_char, usize) -> usize,
    ctx: *mut c_void,
}

// SAFETY: the header's contract for `worker_id` and `worker_id_ctx`: the
// callback may be called with its context from any thread that uses the
// board, including at once from several.
unsafe impl Send for IdCallback {}
// SAFETY: as for `Send`.
unsafe impl Sync for IdCallback {}

impl IdCallback {
    /// The id the callback gives; an empty one (which the library refuses)
    /// if it gives none, with the fault kept for the error message.
    fn call(&self) -> String {
        let mut buf = [0u8; MAX_ID_LEN + 1];
        // SAFETY: the header's contract for `worker_id`: it writes at most
        // `cap` bytes into `buf` and returns normally; `buf` is `cap` bytes.
        let n = unsafe { (self.f)(self.ctx, buf.as_mut_ptr().cast(), buf.len()) };
        let fault = match buf.get(..n) {
            _ if n == PSB_ID_FAILED => IdFault::Failed,
            _ if n == 0 => IdFault::Empty,
            Some(id) if n <= MAX_ID_LEN => match std::str::from_utf8(id) {
                // No fault to clear: a kept one is taken by the error that
                // the empty id given instead always causes.
                Ok(id) => return id.to_owned(),
                Err(_) => IdFault::NotUtf8,
            },
            _ => IdFault::TooLong(n),
        };
        IdFault::set(fault);
        String::new()
    }
}

/// Publishes `status` (`len` bytes; NULL allowed with `len` 0) as the
/// calling worker's status: the worker of the board's worker id (the
/// process id by default, else the `worker_id` callback's), made on first
/// use. Its file belongs to the board: removed when the board is freed (or,
/// with a callback, once every thread that updated through it has exited).
///
/// Once the worker exists, an update that fits the space its file has
/// makes no system call. After `fork()`, the child's first update makes the
/// child's own worker (its pid); the parent's stays.
///
/// # Errors
/// - `PSB_E_NULL`: `board` is NULL, or `status` is NULL with `len` > 0.
/// - `PSB_E_INVALID_ID`: the callback gave no usable id; `PSB_E_CALLBACK`:
///   it returned `PSB_ID_FAILED`.
/// - `PSB_E_DUPLICATE_ID`: on first use of an id that a live worker holds.
/// - `PSB_E_IO`: the file cannot be made or grown (`ENOSPC`, `EFBIG`...);
///   the previous status stays published.
/// - `PSB_E_TOO_LARGE`, `PSB_E_READ_ONLY`, `PSB_E_MISSING`, `PSB_E_CONTENDED`.
///
/// # Safety
/// `board` is NULL or a board from `psb_board_open` not yet freed;
/// `status` is NULL or points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_board_update(
    board: *const psb_board,
    status: *const c_void,
    len: usize,
) -> c_int {
    guard(|| {
        // SAFETY: NULL or a live board, by the caller's contract; boards are
        // only read through shared references.
        let board = unsafe { to_ref(board, "board") }?;
        // SAFETY: NULL or `len` readable bytes, by the caller's contract.
        let status = unsafe { bytes(status, len, "status") }?;
        board.0.update(status).map_err(Fail::from)
    })
}

/// Removes the files of dead workers (and abandoned temporaries) in the
/// board's directory. Stores how many it removed in `*removed` and how many
/// it could not remove (a read-only mount, no permission) in `*failed`;
/// either may be NULL.
///
/// # Errors
/// As `psb_board_read`. A file that cannot be removed is not an error: it
/// is counted in `*failed`.
///
/// # Safety
/// `board` is NULL or a live board; `removed` and `failed` are NULL or
/// point to writable memory for a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_board_cleanup(
    board: *const psb_board,
    removed: *mut usize,
    failed: *mut usize,
) -> c_int {
    guard(|| {
        // SAFETY: NULL or a live board, by the caller's contract.
        let board = unsafe { to_ref(board, "board") }?;
        let done = board.0.cleanup()?;
        if !removed.is_null() {
            // SAFETY: not NULL, and writable by the caller's contract.
            unsafe { put(removed, done.removed) };
        }
        if !failed.is_null() {
            // SAFETY: as above.
            unsafe { put(failed, done.failed.len()) };
        }
        Ok(())
    })
}

/// Frees `board` (NULL: does nothing). The files of the workers that
/// `psb_board_update` made through it are removed; workers from
/// `psb_worker_open` stay until freed themselves.
///
/// In a `fork()` child, freeing a board inherited from the parent removes
/// nothing of the parent's: the parent's workers stay.
///
/// # Errors
/// `PSB_E_PANIC` only (the board is gone all the same: never use it again).
///
/// # Safety
/// `board` is NULL or a board from `psb_board_open` not yet freed, which no
/// other thread is using; it must not be used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn psb_board_free(board: *mut psb_board) -> c_int {
    guard(|| {
        if !board.is_null() {
            // SAFETY: from `Box::into_raw` in `psb_board_open`, not freed
            // before and used by nobody else, by the caller's contract.
            drop(unsafe { Box::from_raw(board) });
        }
        Ok(())
    })
}
