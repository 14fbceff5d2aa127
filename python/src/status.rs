//! What `update` accepts as a status, as bytes: `bytes` (no copy), `str`
//! (its UTF-8, no copy), `bytearray`, any other object with the buffer
//! protocol (`memoryview`, `array.array`: copied once), and `dict` or `list`
//! (compact JSON, as `crate::json` writes it).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyString};

use crate::json;

/// Calls `f` with `status` as bytes; a JSON status is written into `buf`
/// (cleared first). The common case, exact `bytes`, is one type check; the
/// others are out of line.
#[inline]
pub(crate) fn with_status<R>(
    status: &Bound<'_, PyAny>,
    buf: &mut Vec<u8>,
    f: impl FnOnce(&[u8]) -> R,
) -> PyResult<R> {
    if let Ok(bytes) = status.cast_exact::<PyBytes>() {
        return Ok(f(bytes.as_bytes()));
    }
    with_other(status, buf, f)
}

#[cold]
#[inline(never)]
fn with_other<R>(
    status: &Bound<'_, PyAny>,
    buf: &mut Vec<u8>,
    f: impl FnOnce(&[u8]) -> R,
) -> PyResult<R> {
    if let Ok(bytes) = status.cast::<PyBytes>() {
        Ok(f(bytes.as_bytes()))
    } else if let Ok(text) = status.cast::<PyString>() {
        Ok(f(text.to_str()?.as_bytes()))
    } else if let Ok(array) = status.cast::<PyByteArray>() {
        // Copied: `f` may run Python code (a board's `worker_id`), which
        // could resize the array under a borrowed slice.
        Ok(f(&array.to_vec()))
    } else if status.is_instance_of::<PyDict>() || status.is_instance_of::<PyList>() {
        buf.clear();
        json::encode(status, buf)?;
        Ok(f(buf))
    } else if let Ok(view) = PyMemoryView::from(status) {
        let bytes = view.call_method0("tobytes")?;
        let bytes = bytes.cast::<PyBytes>()?;
        Ok(f(bytes.as_bytes()))
    } else {
        Err(PyTypeError::new_err(format!(
            "a status is bytes, a bytes-like object, str, dict or list, not {}",
            status.get_type().name()?
        )))
    }
}
