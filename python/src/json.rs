//! Typed statuses: Python values as JSON text, and JSON text as Python
//! values, in Rust: measured 8 times faster than the `json` module's
//! encoder and 3.5 times faster than its decoder on the statuses of a server
//! (BENCHMARKS.md, "From Python").
//!
//! Encoding writes what `json.dumps(v, separators=(",", ":"),
//! ensure_ascii=False, allow_nan=False)` accepts and means: `dict` (keys
//! `str`, or `int` written as their decimal string), `list` and `tuple`,
//! `str`, `int` (any size), `float` (finite), `bool` and `None`, subclasses
//! included; anything else is a `TypeError`, a NaN or an infinity a
//! `ValueError`, and so is nesting deeper than [`MAX_DEPTH`] (which is how a
//! value that contains itself ends). Floats are written in their shortest
//! round-trip form (`1e20` where Python writes `1e+20`: the same number).
//!
//! Decoding (`read_all_json`, `WorkerStatus.json()`) is `serde_json`'s parser
//! feeding `pythonize`'s builder of Python objects: objects become `dict`,
//! arrays `list`; integers beyond 64 bits become `float`; a number beyond a
//! `float`'s range is an error (the status is then left as bytes).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// How deep values nest at most (a `dict` in a `list` is depth 2).
pub(crate) const MAX_DEPTH: usize = 200;

/// Appends `value` to `out` as compact JSON; on an error `out` holds part of it.
pub(crate) fn encode(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    write_value(value, out, 0)
}

fn write_value(v: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> PyResult<()> {
    if let Ok(s) = v.cast::<PyString>() {
        write_str(out, s.to_str()?);
    } else if v.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(b) = v.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(i) = v.cast::<PyInt>() {
        write_int(out, i)?;
    } else if let Ok(f) = v.cast::<PyFloat>() {
        let x = f.value();
        if !x.is_finite() {
            return Err(PyValueError::new_err(format!(
                "out of range float values are not JSON compliant: {x}"
            )));
        }
        write_serde(out, &x);
    } else if let Ok(d) = v.cast::<PyDict>() {
        let depth = deeper(depth)?;
        out.push(b'{');
        for (n, (key, item)) in d.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            if let Ok(s) = key.cast::<PyString>() {
                write_str(out, s.to_str()?);
            } else if let (Ok(i), false) = (key.cast::<PyInt>(), key.is_instance_of::<PyBool>()) {
                out.push(b'"');
                write_int(out, i)?;
                out.push(b'"');
            } else {
                return Err(PyTypeError::new_err(format!(
                    "keys must be str or int, not {}",
                    key.get_type().name()?
                )));
            }
            out.push(b':');
            write_value(&item, out, depth)?;
        }
        out.push(b'}');
    } else if let Ok(l) = v.cast::<PyList>() {
        let depth = deeper(depth)?;
        write_items(l.iter(), out, depth)?;
    } else if let Ok(t) = v.cast::<PyTuple>() {
        let depth = deeper(depth)?;
        write_items(t.iter(), out, depth)?;
    } else {
        return Err(PyTypeError::new_err(format!(
            "Object of type {} is not JSON serializable",
            v.get_type().name()?
        )));
    }
    Ok(())
}

fn deeper(depth: usize) -> PyResult<usize> {
    if depth >= MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "a status nests deeper than {MAX_DEPTH} levels (does it contain itself?)"
        )));
    }
    Ok(depth + 1)
}

fn write_items<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> PyResult<()> {
    out.push(b'[');
    for (n, item) in items.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_value(&item, out, depth)?;
    }
    out.push(b']');
    Ok(())
}

fn write_int(out: &mut Vec<u8>, i: &Bound<'_, PyInt>) -> PyResult<()> {
    if let Ok(n) = i.extract::<i64>() {
        write_serde(out, &n);
    } else if let Ok(n) = i.extract::<u64>() {
        write_serde(out, &n);
    } else {
        // Beyond 64 bits: Python's own decimal digits (`int.__repr__`, not a
        // subclass's `__str__`).
        let text = i.py().get_type::<PyInt>().call1((i,))?.repr()?;
        out.extend_from_slice(text.to_str()?.as_bytes());
    }
    Ok(())
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    write_serde(out, s);
}

/// `serde_json`'s text of a string or number (escapes, shortest floats).
fn write_serde<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a str or a finite number into a Vec cannot fail.
    serde_json::to_writer(out, value).expect("a str or number serializes");
}

/// `text` parsed as JSON into Python objects; `None` when it is not JSON
/// (a syntax error, trailing characters, nesting beyond `serde_json`'s 128).
pub(crate) fn decode<'py>(py: Python<'py>, text: &[u8]) -> Option<Bound<'py, PyAny>> {
    // Most statuses that are not JSON ("idle", "busy GET /") say so in their
    // first byte: no parser, no error value made for them.
    let first = text.iter().find(|b| !b.is_ascii_whitespace())?;
    if !matches!(
        first,
        b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
    ) {
        return None;
    }
    decode_or_err(py, text).ok()
}

/// As [`decode`], with the parser's message as a `ValueError`.
pub(crate) fn decode_or_err<'py>(py: Python<'py>, text: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    // One pass, building as it parses. An error deep inside costs its depth
    // (passed up level by level: 256 `[`, failing at serde_json's limit of
    // 128 levels, took 57 us, a valid 100-level one 20 us); checking the text
    // first with `IgnoredAny` made every valid status 30 % slower to decode.
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = serde_transcode::transcode(&mut de, pythonize::Pythonizer::new(py))
        .map_err(|e| PyValueError::new_err(format!("the status is not JSON: {e}")))?;
    de.end()
        .map_err(|e| PyValueError::new_err(format!("the status is not JSON: {e}")))?;
    Ok(value)
}
