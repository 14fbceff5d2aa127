//! The crate's [`Error`] as a Python exception: the classes live in
//! `parallel_scoreboard._errors` (Python, so that an OS error can be both a
//! `ScoreboardOSError` and the builtin `OSError` subclass of its errno), and
//! its `_make` builds the instance from the error's parts.

use parallel_scoreboard::{Error, ErrorKind, Reason};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// `parallel_scoreboard._errors._make`, looked up once.
static MAKE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `e` as the Python exception to raise.
pub(crate) fn to_py(py: Python<'_>, e: &Error) -> PyErr {
    match exception(py, e) {
        Ok(value) => PyErr::from_value(value),
        // The package is broken (`_errors` missing): say so rather than lose both.
        Err(err) => err,
    }
}

/// `e` as an exception instance (for `Snapshot.skipped`, `Cleanup.failed`).
pub(crate) fn exception<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let make = MAKE.get_or_try_init(py, || {
        py.import("parallel_scoreboard._errors")?
            .getattr("_make")
            .map(Bound::unbind)
    })?;
    let path = e.path().map(std::path::Path::as_os_str);
    let (errno, os_message) = match e.io_error() {
        Some(io) => (io.raw_os_error(), Some(io.to_string())),
        None => (None, None),
    };
    let reason = e.reason();
    make.bind(py).call1((
        kind_name(e.kind()),
        e.to_string(),
        path,
        reason.map(reason_name),
        reason.map(ToString::to_string),
        errno,
        os_message,
    ))
}

/// The `kind` attribute of the exception: the [`ErrorKind`] in snake case.
fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Io => "io",
        ErrorKind::InvalidId => "invalid_id",
        ErrorKind::DuplicateId => "duplicate_id",
        ErrorKind::Forked => "forked",
        ErrorKind::Corrupt => "corrupt",
        ErrorKind::Unsettled => "unsettled",
        ErrorKind::Contended => "contended",
        ErrorKind::TooLarge => "too_large",
        ErrorKind::Insecure => "insecure",
        ErrorKind::ReadOnly => "read_only",
        ErrorKind::Missing => "missing",
        ErrorKind::Serialize => "serialize",
        _ => "other",
    }
}

/// The `reason` attribute: the [`Reason`] in snake case, without its fields
/// (the message has them).
fn reason_name(reason: &Reason) -> &'static str {
    match reason {
        Reason::NotAStatusFileName => "not_a_status_file_name",
        Reason::PerlStatusFile => "perl_status_file",
        Reason::NotARegularFile => "not_a_regular_file",
        Reason::OwnedByAnotherUser { .. } => "owned_by_another_user",
        Reason::ShortHeader => "short_header",
        Reason::BadMagic => "bad_magic",
        Reason::UnsupportedVersion { .. } => "unsupported_version",
        Reason::BadId => "bad_id",
        Reason::NameMismatch => "name_mismatch",
        Reason::UnlockedWithoutHeader => "unlocked_without_header",
        Reason::PayloadOverlapsHeader => "payload_overlaps_header",
        Reason::LengthBeyondRegion => "length_beyond_region",
        Reason::BeyondEndOfFile => "beyond_end_of_file",
        Reason::DeadLeftForOwner { .. } => "dead_left_for_owner",
        Reason::Shrank => "shrank",
        _ => "other",
    }
}
