//! Turning the C arguments into Rust values: every pointer is checked for
//! NULL here, and every length against what a slice may have.

use std::ffi::{CStr, c_char, c_void};

use crate::error::Fail;

/// `&*p`, or `Fail::Null(what)` when `p` is NULL (made only then: an
/// eager `ok_or` left a call dropping it on every update's path).
///
/// # Safety
/// `p` is NULL or points to a live `T` that nothing mutates while the
/// returned reference is used.
pub(crate) unsafe fn to_ref<'a, T>(p: *const T, what: &'static str) -> Result<&'a T, Fail> {
    // SAFETY: by this function's contract, a non-NULL `p` points to a live,
    // unmutated `T`; `as_ref` turns NULL into `None`.
    unsafe { p.as_ref() }.ok_or_else(|| Fail::Null(what))
}

/// `&mut *p`, or `Fail::Null(what)` when `p` is NULL.
///
/// # Safety
/// `p` is NULL or points to a live `T` that nothing else uses while the
/// returned reference is used.
pub(crate) unsafe fn to_mut<'a, T>(p: *mut T, what: &'static str) -> Result<&'a mut T, Fail> {
    // SAFETY: by this function's contract, a non-NULL `p` points to a live
    // `T` used by nobody else; `as_mut` turns NULL into `None`.
    unsafe { p.as_mut() }.ok_or_else(|| Fail::Null(what))
}

/// The `len` bytes at `ptr`; NULL is allowed with `len` 0 only.
///
/// # Safety
/// With `len > 0` and `ptr` not NULL, `ptr` points to `len` readable bytes
/// that nothing writes while the returned slice is used.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const c_void,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Fail::Null(what));
    }
    if isize::try_from(len).is_err() {
        return Err(Fail::Invalid(format!("{what}: length {len} too large")));
    }
    // SAFETY: `ptr` is not NULL, `len` fits an `isize`, and by this
    // function's contract the `len` bytes at `ptr` are readable and not
    // written meanwhile.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// The NUL-terminated string at `ptr`.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that nothing writes
/// while the returned one is used.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, what: &'static str) -> Result<&'a CStr, Fail> {
    if ptr.is_null() {
        return Err(Fail::Null(what));
    }
    // SAFETY: not NULL, and by this function's contract a NUL-terminated
    // string not written meanwhile.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// Stores `value` at `out`, which the caller checked is not NULL.
///
/// # Safety
/// `out` points to writable memory for a `T` (which may be uninitialised:
/// nothing is read or dropped there).
pub(crate) unsafe fn put<T>(out: *mut T, value: T) {
    debug_assert!(!out.is_null());
    // SAFETY: by this function's contract, `out` is valid for a write of a
    // `T`; `write` drops nothing that was there.
    unsafe { out.write(value) };
}
