//! Result codes, the thread's last error, and [`guard`], which every entry
//! point runs its body in.

use std::cell::{Cell, RefCell};
use std::ffi::{CString, c_char, c_int};
use std::io;
use std::panic::{self, AssertUnwindSafe};

use parallel_scoreboard::{Error, ErrorKind, Reason};

use crate::codes::{
    PSB_E_CALLBACK, PSB_E_CONTENDED, PSB_E_CORRUPT, PSB_E_DUPLICATE_ID, PSB_E_FORKED,
    PSB_E_INSECURE, PSB_E_INVALID_ARGUMENT, PSB_E_INVALID_ID, PSB_E_IO, PSB_E_MISSING, PSB_E_NULL,
    PSB_E_OTHER, PSB_E_PANIC, PSB_E_READ_ONLY, PSB_E_TOO_LARGE, PSB_E_UNSETTLED, PSB_OK,
    PSB_REASON_BAD_ID, PSB_REASON_BAD_MAGIC, PSB_REASON_BEYOND_END_OF_FILE,
    PSB_REASON_DEAD_LEFT_FOR_OWNER, PSB_REASON_LENGTH_BEYOND_REGION, PSB_REASON_NAME_MISMATCH,
    PSB_REASON_NONE, PSB_REASON_NOT_A_REGULAR_FILE, PSB_REASON_NOT_A_STATUS_FILE_NAME,
    PSB_REASON_OTHER, PSB_REASON_OWNED_BY_ANOTHER_USER, PSB_REASON_PAYLOAD_OVERLAPS_HEADER,
    PSB_REASON_PERL_STATUS_FILE, PSB_REASON_SHORT_HEADER, PSB_REASON_SHRANK,
    PSB_REASON_UNLOCKED_WITHOUT_HEADER, PSB_REASON_UNSUPPORTED_VERSION,
};

/// The code of `kind`.
pub(crate) fn code_of(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::Io => PSB_E_IO,
        ErrorKind::InvalidId => PSB_E_INVALID_ID,
        ErrorKind::DuplicateId => PSB_E_DUPLICATE_ID,
        ErrorKind::Forked => PSB_E_FORKED,
        ErrorKind::Corrupt => PSB_E_CORRUPT,
        ErrorKind::Unsettled => PSB_E_UNSETTLED,
        ErrorKind::Contended => PSB_E_CONTENDED,
        ErrorKind::TooLarge => PSB_E_TOO_LARGE,
        ErrorKind::Insecure => PSB_E_INSECURE,
        ErrorKind::ReadOnly => PSB_E_READ_ONLY,
        ErrorKind::Missing => PSB_E_MISSING,
        _ => PSB_E_OTHER,
    }
}

/// The code of `reason` (`PSB_REASON_NONE` for none).
pub(crate) fn reason_code(reason: Option<&Reason>) -> c_int {
    match reason {
        None => PSB_REASON_NONE,
        Some(Reason::NotAStatusFileName) => PSB_REASON_NOT_A_STATUS_FILE_NAME,
        Some(Reason::PerlStatusFile) => PSB_REASON_PERL_STATUS_FILE,
        Some(Reason::NotARegularFile) => PSB_REASON_NOT_A_REGULAR_FILE,
        Some(Reason::OwnedByAnotherUser { .. }) => PSB_REASON_OWNED_BY_ANOTHER_USER,
        Some(Reason::ShortHeader) => PSB_REASON_SHORT_HEADER,
        Some(Reason::BadMagic) => PSB_REASON_BAD_MAGIC,
        Some(Reason::UnsupportedVersion { .. }) => PSB_REASON_UNSUPPORTED_VERSION,
        Some(Reason::BadId) => PSB_REASON_BAD_ID,
        Some(Reason::NameMismatch) => PSB_REASON_NAME_MISMATCH,
        Some(Reason::UnlockedWithoutHeader) => PSB_REASON_UNLOCKED_WITHOUT_HEADER,
        Some(Reason::PayloadOverlapsHeader) => PSB_REASON_PAYLOAD_OVERLAPS_HEADER,
        Some(Reason::LengthBeyondRegion) => PSB_REASON_LENGTH_BEYOND_REGION,
        Some(Reason::BeyondEndOfFile) => PSB_REASON_BEYOND_END_OF_FILE,
        Some(Reason::DeadLeftForOwner { .. }) => PSB_REASON_DEAD_LEFT_FOR_OWNER,
        Some(Reason::Shrank) => PSB_REASON_SHRANK,
        Some(_) => PSB_REASON_OTHER,
    }
}

/// The name of `code`, for messages: `"PSB_E_IO"` and so on.
pub(crate) fn code_name(code: c_int) -> &'static str {
    match code {
        PSB_OK => "PSB_OK\0",
        PSB_E_IO => "PSB_E_IO\0",
        PSB_E_INVALID_ID => "PSB_E_INVALID_ID\0",
        PSB_E_DUPLICATE_ID => "PSB_E_DUPLICATE_ID\0",
        PSB_E_FORKED => "PSB_E_FORKED\0",
        PSB_E_CORRUPT => "PSB_E_CORRUPT\0",
        PSB_E_UNSETTLED => "PSB_E_UNSETTLED\0",
        PSB_E_CONTENDED => "PSB_E_CONTENDED\0",
        PSB_E_TOO_LARGE => "PSB_E_TOO_LARGE\0",
        PSB_E_INSECURE => "PSB_E_INSECURE\0",
        PSB_E_READ_ONLY => "PSB_E_READ_ONLY\0",
        PSB_E_MISSING => "PSB_E_MISSING\0",
        PSB_E_OTHER => "PSB_E_OTHER\0",
        PSB_E_NULL => "PSB_E_NULL\0",
        PSB_E_INVALID_ARGUMENT => "PSB_E_INVALID_ARGUMENT\0",
        PSB_E_PANIC => "PSB_E_PANIC\0",
        PSB_E_CALLBACK => "PSB_E_CALLBACK\0",
        _ => "unknown\0",
    }
}

/// Why a call failed, before it is recorded as the thread's last error.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The library's error.
    Core(Error),
    /// The named pointer argument was NULL.
    Null(&'static str),
    /// An argument out of its range, and why.
    Invalid(String),
    /// An id refused before the library saw it (not UTF-8), or one the
    /// worker-id callback gave that the library could not take.
    InvalidId(String),
    /// The worker-id callback said it failed.
    Callback,
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        // An id the callback could not give reaches the library as an empty
        // one, which it refuses; the callback's own fault says more. Taken
        // whatever the error: a call can fail before the id is looked at
        // (no directory yet), and the fault must not outlive it.
        let fault = IdFault::take();
        if e.kind() == ErrorKind::InvalidId
            && let Some(fault) = fault
        {
            return match fault {
                IdFault::Failed => Fail::Callback,
                _ => Fail::InvalidId(fault.message()),
            };
        }
        Fail::Core(e)
    }
}

impl Fail {
    /// Records this as the thread's last error; returns its code.
    fn record(self) -> c_int {
        match self {
            Fail::Core(e) => {
                let code = code_of(e.kind());
                record(code, os_error(&e), &message(&e));
                code
            }
            Fail::Null(what) => {
                record(PSB_E_NULL, 0, &format!("{what} is NULL"));
                PSB_E_NULL
            }
            Fail::Invalid(why) => {
                record(
                    PSB_E_INVALID_ARGUMENT,
                    0,
                    &format!("invalid argument: {why}"),
                );
                PSB_E_INVALID_ARGUMENT
            }
            Fail::InvalidId(why) => {
                record(PSB_E_INVALID_ID, 0, &format!("invalid worker id ({why})"));
                PSB_E_INVALID_ID
            }
            Fail::Callback => {
                record(PSB_E_CALLBACK, 0, "the worker-id callback failed");
                PSB_E_CALLBACK
            }
        }
    }
}

/// `e`'s message followed by those of its causes, each after `": "`.
pub(crate) fn message(e: &Error) -> String {
    let mut text = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// The errno of the first OS error in `e`'s chain of causes; 0 if none.
pub(crate) fn os_error(e: &Error) -> c_int {
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        if let Some(code) = cause
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return code;
        }
        next = cause.source();
    }
    0
}

/// `text` as a C string; a NUL inside (from an id) is written as `\0`.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

/// The thread's last error.
struct Last {
    code: c_int,
    os: c_int,
    message: CString,
}

thread_local! {
    static LAST: RefCell<Last> = RefCell::new(Last {
        code: PSB_OK,
        os: 0,
        message: CString::default(),
    });
}

/// Makes `(code, os, text)` the thread's last error. Does nothing on a
/// thread whose thread-locals are being destroyed.
fn record(code: c_int, os: c_int, text: &str) {
    let message = c_string(text);
    let _ = LAST.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = Last { code, os, message };
        }
    });
}

/// The thread's last error's code, errno and message pointer.
pub(crate) fn last() -> (c_int, c_int, *const c_char) {
    LAST.try_with(|last| {
        last.try_borrow().map_or((PSB_OK, 0, c"".as_ptr()), |l| {
            (l.code, l.os, l.message.as_ptr())
        })
    })
    .unwrap_or((PSB_OK, 0, c"".as_ptr()))
}

/// Runs an entry point's body: its error, or a panic, becomes the thread's
/// last error and the code returned; nothing unwinds out.
#[inline]
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Fail>) -> c_int {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => PSB_OK,
        Ok(Err(fail)) => recorded(fail),
        Err(payload) => panicked(payload.as_ref()),
    }
}

/// Runs an entry point that returns a value rather than a code: `fallback`
/// should it panic (nothing unwinds out).
#[inline]
pub(crate) fn guarded<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Records `fail`; returns its code. Out of line: the success path of the
/// entry points stays small.
#[cold]
#[inline(never)]
fn recorded(fail: Fail) -> c_int {
    let code = match &fail {
        Fail::Core(e) => code_of(e.kind()),
        Fail::Null(_) => PSB_E_NULL,
        Fail::Invalid(_) => PSB_E_INVALID_ARGUMENT,
        Fail::InvalidId(_) => PSB_E_INVALID_ID,
        Fail::Callback => PSB_E_CALLBACK,
    };
    // Recording allocates: should that panic, the code is still returned.
    panic::catch_unwind(AssertUnwindSafe(|| fail.record())).unwrap_or(code)
}

/// Records a panic, whose payload is `payload`; returns `PSB_E_PANIC`.
#[cold]
#[inline(never)]
pub(crate) fn panicked(payload: &(dyn std::any::Any + Send)) -> c_int {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        record(
            PSB_E_PANIC,
            0,
            &format!("parallel-scoreboard panicked (a bug): {what}"),
        );
    }));
    PSB_E_PANIC
}

/// Why the worker-id callback gave no usable id, kept for the error of the
/// call that invoked it (on the thread that invoked it).
#[derive(Clone, Copy, Debug)]
pub(crate) enum IdFault {
    /// It returned 0.
    Empty,
    /// It returned this length, over the 255 bytes an id may have.
    TooLong(usize),
    /// Its bytes are not UTF-8.
    NotUtf8,
    /// It returned `PSB_ID_FAILED`.
    Failed,
}

thread_local! {
    static ID_FAULT: Cell<Option<IdFault>> = const { Cell::new(None) };
}

impl IdFault {
    /// Keeps `fault` for this thread, for the error it causes to take.
    pub(crate) fn set(fault: IdFault) {
        let _ = ID_FAULT.try_with(|f| f.set(Some(fault)));
    }

    /// Takes the fault kept for this thread, if any.
    fn take() -> Option<IdFault> {
        ID_FAULT.try_with(Cell::take).ok().flatten()
    }

    fn message(self) -> String {
        match self {
            IdFault::Empty => "the worker-id callback returned 0 bytes".to_owned(),
            IdFault::TooLong(n) => {
                format!("the worker-id callback returned {n} bytes, at most 255")
            }
            IdFault::NotUtf8 => "the worker-id callback's id is not UTF-8".to_owned(),
            IdFault::Failed => "the worker-id callback failed".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    fn last_message() -> String {
        // SAFETY: the thread's message, copied at once.
        unsafe { CStr::from_ptr(last().2) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_the_panic_code_and_its_message() {
        let code = guard(|| panic!("boom {}", 7));
        assert_eq!(code, PSB_E_PANIC);
        assert_eq!(last().0, PSB_E_PANIC);
        assert_eq!(
            last_message(),
            "parallel-scoreboard panicked (a bug): boom 7"
        );
        let code = guard(|| std::panic::panic_any(5_u8));
        assert_eq!(code, PSB_E_PANIC);
        assert!(last_message().ends_with("(no message)"));
        // The next call works as ever.
        assert_eq!(guard(|| Ok(())), PSB_OK);
    }

    #[test]
    fn every_kind_has_a_code_and_a_name() {
        for (kind, code) in [
            (ErrorKind::Io, PSB_E_IO),
            (ErrorKind::InvalidId, PSB_E_INVALID_ID),
            (ErrorKind::DuplicateId, PSB_E_DUPLICATE_ID),
            (ErrorKind::Forked, PSB_E_FORKED),
            (ErrorKind::Corrupt, PSB_E_CORRUPT),
            (ErrorKind::Unsettled, PSB_E_UNSETTLED),
            (ErrorKind::Contended, PSB_E_CONTENDED),
            (ErrorKind::TooLarge, PSB_E_TOO_LARGE),
            (ErrorKind::Insecure, PSB_E_INSECURE),
            (ErrorKind::ReadOnly, PSB_E_READ_ONLY),
            (ErrorKind::Missing, PSB_E_MISSING),
            (ErrorKind::Serialize, PSB_E_OTHER),
        ] {
            assert_eq!(code_of(kind), code, "{kind:?}");
            assert!(code_name(code).starts_with("PSB_E_"));
            assert!(code_name(code).ends_with('\0'));
        }
    }

    #[test]
    fn a_nul_in_a_message_is_escaped() {
        assert_eq!(c_string("id \"a\0b\"").to_bytes(), b"id \"a\\0b\"");
    }
}
