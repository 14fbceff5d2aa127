//! `Worker`: an owned handle on one worker's slot, the hot path.

use parallel_scoreboard::Worker;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors;
use crate::status;

/// A worker's own slot on a board: made by `Scoreboard.worker()`.
///
/// While it is open its id is taken and readers list it (once it has
/// updated); `close()` (or leaving a `with` block, or the object going away)
/// removes its file. `update()` makes no system call when the status fits the
/// space the file has.
///
/// An update keeps the GIL (it is shorter than a release would be), so a
/// `Worker` may be handed between threads and their calls never overlap.
/// After `os.fork()`, a `Worker` inherited by the child raises `ForkedError`
/// on update and leaves the parent's file alone.
#[pyclass(name = "Worker", module = "parallel_scoreboard")]
pub(crate) struct PyWorker {
    /// `None` once closed.
    inner: Option<Worker>,
    id: Py<PyString>,
    /// The JSON text of the latest typed status (its buffer kept).
    json: Vec<u8>,
}

/// The most JSON buffer capacity a `Worker` keeps between updates.
const KEEP: usize = 64 << 10;

impl PyWorker {
    pub(crate) fn new(py: Python<'_>, worker: Worker) -> Self {
        Self {
            id: PyString::new(py, worker.id()).unbind(),
            inner: Some(worker),
            json: Vec::new(),
        }
    }

    fn open(&mut self) -> PyResult<&mut Worker> {
        self.inner.as_mut().ok_or_else(closed)
    }
}

#[cold]
fn closed() -> PyErr {
    PyValueError::new_err("the worker is closed")
}

#[pymethods]
impl PyWorker {
    /// Publishes `status` as this worker's current status: `bytes`, a
    /// bytes-like object, `str` (stored as UTF-8), or a `dict` or `list`
    /// (stored as compact JSON).
    ///
    /// Raises `ForkedError` on a Worker inherited through `os.fork()`,
    /// `ScoreboardOSError` when the file cannot grow for a larger status (the
    /// previous status stays published), `ValueError` once closed.
    fn update(&mut self, status: &Bound<'_, PyAny>) -> PyResult<()> {
        // Exact `bytes` inline, as `status::with_status` does first.
        if let Ok(bytes) = status.cast_exact::<PyBytes>() {
            let worker = self.open()?;
            return match worker.update(bytes.as_bytes()) {
                Ok(()) => Ok(()),
                Err(e) => Err(errors::to_py(status.py(), &e)),
            };
        }
        let Self { inner, json, .. } = self;
        let worker = inner.as_mut().ok_or_else(closed)?;
        let result = status::with_status(status, json, |bytes| worker.update(bytes));
        if json.capacity() > KEEP {
            *json = Vec::new();
        }
        result?.map_err(|e| errors::to_py(status.py(), &e))
    }

    /// Removes this worker's file (its entry leaves the board). Idempotent.
    fn close(&mut self) {
        self.inner = None;
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_none()
    }

    /// The worker's id.
    #[getter]
    fn id(&self, py: Python<'_>) -> Py<PyString> {
        self.id.clone_ref(py)
    }

    /// The path of the worker's status file.
    #[getter]
    fn path(&mut self) -> PyResult<String> {
        Ok(self.open()?.path().to_string_lossy().into_owned())
    }

    /// How many updates this worker has made.
    #[getter]
    fn updates(&mut self) -> PyResult<u64> {
        Ok(self.open()?.updates())
    }

    /// Returns the worker itself, for `with`.
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the worker (`close()`); exceptions propagate.
    fn __exit__(
        &mut self,
        _ty: &Bound<'_, PyAny>,
        _value: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let state = if self.inner.is_some() { "" } else { " closed" };
        format!(
            "<Worker id={}{state}>",
            self.id
                .bind(py)
                .repr()
                .map_or_else(|_| "?".into(), |r| r.to_string())
        )
    }
}
