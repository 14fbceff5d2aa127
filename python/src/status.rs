//! What `update` accepts as a status, as bytes: `bytes` (no copy), `str`
//! (its UTF-8, no copy), `bytearray`, any other object with the buffer
//! protocol (`memoryview`, `array.array`: copied once), and `dict` or `list`
//! (compact JSON, `json.dumps(v, separators=(",", ":"), ensure_ascii=False,
//! allow_nan=False)`).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyString};

/// The JSON encoder's `encode`, made once.
static ENCODE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Calls `f` with `status` as bytes. The common case, exact `bytes`, is one
/// type check; the others are out of line.
#[inline]
pub(crate) fn with_status<R>(status: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    if let Ok(bytes) = status.cast_exact::<PyBytes>() {
        return Ok(f(bytes.as_bytes()));
    }
    with_other(status, f)
}

#[cold]
#[inline(never)]
fn with_other<R>(status: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    if let Ok(bytes) = status.cast::<PyBytes>() {
        Ok(f(bytes.as_bytes()))
    } else if let Ok(text) = status.cast::<PyString>() {
        Ok(f(text.to_str()?.as_bytes()))
    } else if let Ok(array) = status.cast::<PyByteArray>() {
        // Copied: `f` may run Python code (a board's `worker_id`), which
        // could resize the array under a borrowed slice.
        Ok(f(&array.to_vec()))
    } else if status.is_instance_of::<PyDict>() || status.is_instance_of::<PyList>() {
        let json = encode_json(status)?;
        Ok(f(json.to_str()?.as_bytes()))
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

/// `value` as compact JSON text.
pub(crate) fn encode_json<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
    let py = value.py();
    let encode = ENCODE.get_or_try_init(py, || -> PyResult<_> {
        let json = py.import("json")?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("separators", (",", ":"))?;
        kwargs.set_item("ensure_ascii", false)?;
        kwargs.set_item("allow_nan", false)?;
        let encoder = json.getattr("JSONEncoder")?.call((), Some(&kwargs))?;
        Ok(encoder.getattr("encode")?.unbind())
    })?;
    Ok(encode.bind(py).call1((value,))?.cast_into::<PyString>()?)
}
