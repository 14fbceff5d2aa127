//! `Scoreboard`: a board's directory, the calling worker's entry, reads.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use parallel_scoreboard::Scoreboard;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString};

use crate::errors;
use crate::read::{self, CacheSlot, PyCleanup, PySnapshot};
use crate::status;
use crate::worker::PyWorker;

thread_local! {
    /// The exception a `worker_id` callable raised in this thread, for the
    /// call that called it to raise instead of the crate's error (the crate's
    /// closure cannot fail: it returns an empty id, which the crate refuses).
    static ID_ERROR: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// A scoreboard: a directory of per-worker status files.
///
/// `Scoreboard(base_dir, worker_id=None)` opens the board in `base_dir`,
/// creating the directory (mode 0700) and its parents if missing.
/// `worker_id`, a callable returning a `str` (or an `int`), names the calling
/// worker for `update()` and `worker()`; by default the id is the process id
/// (the child's own after `os.fork()`).
///
/// `create=False` opens a board whose directory may not exist yet (a monitor
/// started before the server): reads raise `MissingError` until it does.
/// `group`, a group id, shares the board with that group for reading (the
/// directory mode 2750, status files 0640).
///
/// Safe to share between threads. `close()` (or leaving a `with` block)
/// removes the entries `update()` made.
#[pyclass(name = "Scoreboard", module = "parallel_scoreboard", frozen)]
pub(crate) struct PyScoreboard {
    /// `None` once closed.
    board: Mutex<Option<Arc<Scoreboard>>>,
    base_dir: PathBuf,
    cache: CacheSlot,
}

impl PyScoreboard {
    /// The board, for one call. The lock is held for the clone only, always
    /// with the GIL held: never contended, never held across a fork.
    fn board(&self) -> PyResult<Arc<Scoreboard>> {
        self.board
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| PyValueError::new_err("the scoreboard is closed"))
    }
}

/// `f()` as a worker id: a `str`, or an `int` in decimal.
fn call_worker_id(f: &Bound<'_, PyAny>) -> PyResult<String> {
    let id = f.call0()?;
    if let Ok(s) = id.cast::<PyString>() {
        Ok(s.to_str()?.to_owned())
    } else if id.is_instance_of::<PyInt>() {
        Ok(id.str()?.to_str()?.to_owned())
    } else {
        Err(PyTypeError::new_err(format!(
            "worker_id() must return str or int, not {}",
            id.get_type().name()?
        )))
    }
}

/// The crate's error `e`, or the exception the `worker_id` callable raised
/// during the call that failed with it.
fn id_error_or(py: Python<'_>, e: &parallel_scoreboard::Error) -> PyErr {
    ID_ERROR
        .with(RefCell::take)
        .unwrap_or_else(|| errors::to_py(py, e))
}

#[pymethods]
impl PyScoreboard {
    #[new]
    #[pyo3(signature = (base_dir, worker_id = None, *, create = true, group = None))]
    fn new(
        py: Python<'_>,
        base_dir: PathBuf,
        worker_id: Option<Py<PyAny>>,
        create: bool,
        group: Option<u32>,
    ) -> PyResult<Self> {
        let mut builder = Scoreboard::builder(&base_dir).create(create);
        if let Some(gid) = group {
            builder = builder.group(gid);
        }
        if let Some(f) = worker_id {
            if !f.bind(py).is_callable() {
                return Err(PyTypeError::new_err("worker_id must be callable"));
            }
            builder = builder.worker_id(move || {
                Python::attach(|py| {
                    call_worker_id(f.bind(py)).unwrap_or_else(|e| {
                        ID_ERROR.with(|slot| *slot.borrow_mut() = Some(e));
                        String::new()
                    })
                })
            });
        }
        let board = builder.open().map_err(|e| errors::to_py(py, &e))?;
        Ok(Self {
            board: Mutex::new(Some(Arc::new(board))),
            base_dir,
            cache: CacheSlot::default(),
        })
    }

    /// The directory holding the status files.
    #[getter]
    fn base_dir(&self) -> &std::ffi::OsStr {
        self.base_dir.as_os_str()
    }

    /// Publishes `status` for the calling worker (the id `worker_id()`
    /// returns, by default the process id), making its entry on first use.
    /// `status`: `bytes`, a bytes-like object, `str` (stored as UTF-8), or a
    /// `dict` or `list` (stored as compact JSON).
    ///
    /// After `os.fork()`, the child's first call makes the child's own entry.
    fn update(&self, py: Python<'_>, status: &Bound<'_, PyAny>) -> PyResult<()> {
        let board = self.board()?;
        ID_ERROR.with(|slot| slot.borrow_mut().take());
        status::with_status(status, &mut Vec::new(), |bytes| board.update(bytes))?
            .map_err(|e| id_error_or(py, &e))
    }

    /// A `Worker` for `id`, or for the calling worker's id (`worker_id()`,
    /// by default the process id) when `id` is None. Raises
    /// `DuplicateIdError` when a live worker holds the id, `InvalidIdError`
    /// for an empty id or one over 255 bytes.
    #[pyo3(signature = (id = None))]
    fn worker(&self, py: Python<'_>, id: Option<String>) -> PyResult<PyWorker> {
        let board = self.board()?;
        ID_ERROR.with(|slot| slot.borrow_mut().take());
        let worker = match id {
            Some(id) => board.worker_with_id(id),
            None => board.worker(),
        };
        match worker {
            Ok(w) => Ok(PyWorker::new(py, w)),
            Err(e) => Err(id_error_or(py, &e)),
        }
    }

    /// `{id: status}` of every live worker that has a status. Dead workers'
    /// files are removed on the way. The statuses are copied with the GIL
    /// released.
    fn read_all<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let board = self.board()?;
        read::with_read(py, &board, &self.cache, |snap, ids| {
            read::statuses(py, snap, ids, read::as_bytes)
        })
    }

    /// As `read_all()`, each status decoded as JSON; a status that is not JSON
    /// is left as its `bytes`.
    fn read_all_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let board = self.board()?;
        read::with_read(py, &board, &self.cache, |snap, ids| {
            read::statuses(py, snap, ids, read::decode_or_bytes)
        })
    }

    /// Every live worker's status with its pid, update count and times, the
    /// entries the read skipped and why, and how many dead workers' files it
    /// removed.
    fn snapshot(&self, py: Python<'_>) -> PyResult<PySnapshot> {
        let board = self.board()?;
        read::with_read(py, &board, &self.cache, |snap, ids| {
            read::snapshot(py, snap, ids)
        })
    }

    /// Removes the files of dead workers (and abandoned temporaries): returns
    /// how many, and the ones it could not remove.
    fn cleanup(&self, py: Python<'_>) -> PyResult<PyCleanup> {
        let board = self.board()?;
        match py.detach(|| board.cleanup()) {
            Ok(done) => read::cleanup(py, &done),
            Err(e) => Err(errors::to_py(py, &e)),
        }
    }

    /// Removes the entries `update()` made and stops using the board;
    /// `Worker`s made by `worker()` stay open. Idempotent.
    fn close(&self) {
        let board = self
            .board
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // A read in another thread may hold the board a moment longer: the
        // last reference removes the entries. Dropped with the GIL held (the
        // `worker_id` callable goes with it).
        drop(board);
        self.cache.clear();
    }

    /// Returns the board itself, for `with`.
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the board (`close()`); exceptions propagate.
    fn __exit__(
        &self,
        _ty: &Bound<'_, PyAny>,
        _value: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "<Scoreboard base_dir={:?}>",
            self.base_dir.display().to_string()
        )
    }
}
