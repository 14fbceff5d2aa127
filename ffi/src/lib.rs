//! A C ABI for [`parallel_scoreboard`]: the shared library
//! `libparallel_scoreboard_ffi.so`, the static one
//! `libparallel_scoreboard_ffi.a`, and their header
//! `include/parallel_scoreboard.h`, generated from this crate by cbindgen
//! (a test checks that the committed header is the one this code gives).
//!
//! The header's comments are the reference, and `docs/c.md` shows a C
//! program using it. In short:
//! - opaque handles (`psb_board`, `psb_worker`, `psb_snapshot`), each made by
//!   one function and freed by one;
//! - every function that can fail returns an `int` code (`PSB_OK`, or one of
//!   `PSB_E_*`), and keeps the thread's last error for `psb_error_message`
//!   and `psb_error_os`;
//! - bytes are `(const void *, size_t)`;
//! - nothing unwinds across the boundary: every entry point runs its body
//!   under `catch_unwind` (`error::guard`, or `error::guarded` for those
//!   that return a value) and returns `PSB_E_PANIC` (or a harmless value)
//!   should the library panic.
//!
//! The functions are `unsafe extern "C"`: each says, under `# Safety`, what
//! its pointer arguments must be. The Rust tests call them through these
//! signatures.

#![deny(unsafe_op_in_unsafe_fn)]
// The C names are the ABI: `psb_board`, `psb_options`.
#![allow(non_camel_case_types)]

mod args;
mod board;
mod codes;
mod error;
mod snapshot;
mod worker;

pub use board::{
    psb_board, psb_board_cleanup, psb_board_free, psb_board_open, psb_board_update, psb_options,
    psb_options_init, psb_worker_id_fn,
};
pub use codes::*;
pub use snapshot::{
    psb_board_read, psb_skipped_info, psb_snapshot, psb_snapshot_count, psb_snapshot_free,
    psb_snapshot_get, psb_snapshot_new, psb_snapshot_removed, psb_snapshot_skipped,
    psb_snapshot_skipped_count, psb_worker_info,
};
pub use worker::{psb_worker, psb_worker_free, psb_worker_open, psb_worker_update};

use std::ffi::{c_char, c_int};

/// The library's version, as `"MAJOR.MINOR.PATCH"`.
///
/// Returns a static string: never NULL, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn psb_version() -> *const c_char {
    const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(v) => v,
        Err(_) => panic!("the version has no NUL inside"),
    };
    VERSION.as_ptr()
}

/// The code of the thread's last error: that of the latest call on this
/// thread that failed (`PSB_OK` if none has).
///
/// Calls that succeed leave the last error as it was.
#[unsafe(no_mangle)]
pub extern "C" fn psb_error_code() -> c_int {
    error::guarded(PSB_OK, || error::last().0)
}

/// The message of the thread's last error (the latest call on this thread
/// that failed), NUL-terminated, UTF-8; `""` if no call has failed.
///
/// Never NULL. The text belongs to the library: valid until the next `psb_`
/// call on this thread (or the thread's exit); copy it to keep it.
#[unsafe(no_mangle)]
pub extern "C" fn psb_error_message() -> *const c_char {
    error::guarded(c"".as_ptr(), || error::last().2)
}

/// The operating system's error number (errno) of the thread's last error:
/// for `PSB_E_IO`, the failed call's (`ENOTDIR`, `EACCES`, `ENOSPC`...); 0
/// when the last error has none.
#[unsafe(no_mangle)]
pub extern "C" fn psb_error_os() -> c_int {
    error::guarded(0, || error::last().1)
}

/// The name of a result code, such as `"PSB_E_IO"`; `"unknown"` for a value
/// that is no code.
///
/// Returns a static string: never NULL, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn psb_code_name(code: c_int) -> *const c_char {
    error::guarded(c"unknown".as_ptr(), || {
        error::code_name(code).as_ptr().cast()
    })
}
