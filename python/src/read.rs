//! Reads: the board is copied into a [`Snapshot`] with the GIL released,
//! then the Python objects are built from it with the GIL held.
//!
//! A board keeps one [`ReadCache`] between reads: the `Snapshot`, whose
//! buffers a warm read reuses (the crate's read then allocates nothing), and
//! the `str` object of every id it returned last time, so that a warm read
//! makes no id string (and the dict hashes each with the hash the string
//! kept). Two threads reading at once: the first takes the cache, the second
//! reads with a fresh one; whichever finishes last puts its own back.

use std::sync::{Mutex, TryLockError};
use std::time::{SystemTime, UNIX_EPOCH};

use parallel_scoreboard::{Cleanup, Scoreboard, Snapshot};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::errors;
use crate::json;

/// What a board keeps between reads; see the module docs.
#[derive(Default)]
pub(crate) struct ReadCache {
    snap: Snapshot,
    /// The last read's ids with their `str` objects, sorted by id (as
    /// `Snapshot::workers` is): the `n`th is the `n`th worker's.
    ids: Vec<(String, Py<PyString>)>,
    /// The vector `ids` is rebuilt into (its buffer kept).
    spare: Vec<(String, Py<PyString>)>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("workers", &self.snap.workers.len())
            .finish_non_exhaustive()
    }
}

/// The board's cache slot: empty while a read has taken it.
#[derive(Debug, Default)]
pub(crate) struct CacheSlot(Mutex<Option<ReadCache>>);

impl CacheSlot {
    // The lock is only ever taken with the GIL held, for a swap: it is never
    // contended, and no `os.fork()` (which takes the GIL) finds it held. It
    // is tried all the same, so that nothing could ever wait on it: a read
    // that finds it taken reads with a fresh cache.

    fn take(&self) -> ReadCache {
        match self.0.try_lock() {
            Ok(mut slot) => slot.take().unwrap_or_default(),
            Err(TryLockError::Poisoned(e)) => e.into_inner().take().unwrap_or_default(),
            Err(TryLockError::WouldBlock) => ReadCache::default(),
        }
    }

    fn put(&self, cache: ReadCache) {
        let old = match self.0.try_lock() {
            Ok(mut slot) => slot.replace(cache),
            Err(TryLockError::Poisoned(e)) => e.into_inner().replace(cache),
            Err(TryLockError::WouldBlock) => Some(cache),
        };
        // Dropped outside the lock (its `str` objects are released then).
        drop(old);
    }

    /// Drops the cache (its snapshot and id strings).
    pub(crate) fn clear(&self) {
        drop(self.take());
    }
}

/// Reads `board` into the cache (GIL released), then hands the snapshot and
/// the ids' `str` objects to `f` (GIL held).
pub(crate) fn with_read<R>(
    py: Python<'_>,
    board: &Scoreboard,
    slot: &CacheSlot,
    f: impl FnOnce(&Snapshot, &[(String, Py<PyString>)]) -> PyResult<R>,
) -> PyResult<R> {
    let mut cache = slot.take();
    // The copy of every status, with the GIL released: other threads run
    // meanwhile (a read of a large board takes milliseconds).
    let read = py.detach(|| board.read_into(&mut cache.snap));
    let result = match read {
        Ok(()) => {
            refresh_ids(py, &mut cache);
            f(&cache.snap, &cache.ids)
        }
        Err(e) => Err(errors::to_py(py, &e)),
    };
    // A large board's statuses are not kept alive between reads.
    let held: usize = cache.snap.workers.iter().map(|w| w.status.capacity()).sum();
    if held > KEEP_BYTES {
        cache.snap = Snapshot::default();
    }
    slot.put(cache);
    result
}

/// The most status bytes a board's kept snapshot holds between reads.
const KEEP_BYTES: usize = 8 << 20;

/// Makes `cache.ids` the `str` objects of the snapshot's ids, reusing last
/// read's for the ids seen again (both lists are sorted: one merge pass).
fn refresh_ids(py: Python<'_>, cache: &mut ReadCache) {
    let ReadCache { snap, ids, spare } = cache;
    spare.clear();
    {
        let mut old = ids.drain(..).peekable();
        for w in &snap.workers {
            while old.next_if(|(id, _)| id.as_str() < w.id.as_str()).is_some() {}
            let entry = match old.next_if(|(id, _)| *id == w.id) {
                Some(entry) => entry,
                None => (w.id.clone(), PyString::new(py, &w.id).unbind()),
            };
            spare.push(entry);
        }
    }
    std::mem::swap(ids, spare);
}

/// `{id: value(status)}` of a read.
pub(crate) fn statuses<'py>(
    py: Python<'py>,
    snap: &Snapshot,
    ids: &[(String, Py<PyString>)],
    value: impl Fn(Python<'py>, &[u8]) -> Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (w, (_, id)) in snap.workers.iter().zip(ids) {
        dict.set_item(id.bind(py), value(py, &w.status))?;
    }
    Ok(dict)
}

/// A status as `bytes`.
pub(crate) fn as_bytes<'py>(py: Python<'py>, status: &[u8]) -> Bound<'py, PyAny> {
    PyBytes::new(py, status).into_any()
}

/// A status decoded as JSON, or its `bytes` when it is not JSON.
pub(crate) fn decode_or_bytes<'py>(py: Python<'py>, status: &[u8]) -> Bound<'py, PyAny> {
    json::decode(py, status).unwrap_or_else(|| as_bytes(py, status))
}

/// Seconds since the epoch, as `time.time()` gives them.
fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// One live worker's status and what is known about it (`Snapshot.workers`).
///
/// `updated_at` and `started_at` are seconds since the epoch, as
/// `time.time()` gives them (`time.time() - w.updated_at` is the age of the
/// update, right even when the clock was set since it was made).
#[pyclass(name = "WorkerStatus", module = "parallel_scoreboard", frozen, get_all)]
pub(crate) struct PyWorkerStatus {
    /// The worker's id.
    id: Py<PyString>,
    /// Its latest complete status.
    status: Py<PyBytes>,
    /// The process that owns it.
    pid: u32,
    /// How many updates it has made.
    updates: u64,
    /// When it made the latest one (seconds since the epoch).
    updated_at: f64,
    /// When it started (seconds since the epoch).
    started_at: f64,
}

#[pymethods]
impl PyWorkerStatus {
    /// The status decoded as JSON (`json.loads`); raises `ValueError` when it
    /// is not JSON.
    fn json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json::decode_or_err(py, self.status.bind(py).as_bytes())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "WorkerStatus(id={}, status={}, pid={}, updates={}, updated_at={}, started_at={})",
            self.id.bind(py).repr()?,
            self.status.bind(py).repr()?,
            self.pid,
            self.updates,
            self.updated_at,
            self.started_at
        ))
    }
}

/// What `Scoreboard.snapshot()` returns: every live worker with a status
/// (`workers`, sorted by id), the entries of the board's directory the read
/// skipped (`skipped`: `ScoreboardError` instances, not raised, each with its
/// `kind`, `path` and, for a corrupt entry, its `reason`) and how many dead
/// workers' files the read removed (`removed`).
#[pyclass(name = "Snapshot", module = "parallel_scoreboard", frozen, get_all)]
pub(crate) struct PySnapshot {
    /// The live workers (`WorkerStatus`), sorted by id.
    workers: Py<PyList>,
    /// Why each skipped entry was skipped (`ScoreboardError` instances).
    skipped: Py<PyList>,
    /// Files of dead workers this read removed.
    removed: usize,
}

#[pymethods]
impl PySnapshot {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<Snapshot workers={} skipped={} removed={}>",
            self.workers.bind(py).len(),
            self.skipped.bind(py).len(),
            self.removed
        )
    }
}

/// The `Snapshot` of a read.
pub(crate) fn snapshot(
    py: Python<'_>,
    snap: &Snapshot,
    ids: &[(String, Py<PyString>)],
) -> PyResult<PySnapshot> {
    let workers = PyList::empty(py);
    for (w, (_, id)) in snap.workers.iter().zip(ids) {
        let status = PyWorkerStatus {
            id: id.clone_ref(py),
            status: PyBytes::new(py, &w.status).unbind(),
            pid: w.pid,
            updates: w.updates,
            updated_at: epoch_seconds(w.updated_at),
            started_at: epoch_seconds(w.started_at),
        };
        workers.append(Bound::new(py, status)?)?;
    }
    let skipped = PyList::empty(py);
    for e in &snap.skipped {
        skipped.append(errors::exception(py, e)?)?;
    }
    Ok(PySnapshot {
        workers: workers.unbind(),
        skipped: skipped.unbind(),
        removed: snap.removed,
    })
}

/// What `Scoreboard.cleanup()` returns: how many dead workers' files (and
/// abandoned temporaries) it removed (`removed`), and the ones it could not
/// remove (`failed`: `ScoreboardError` instances, not raised).
#[pyclass(name = "Cleanup", module = "parallel_scoreboard", frozen, get_all)]
pub(crate) struct PyCleanup {
    /// Files removed.
    removed: usize,
    /// Why each file that could not be removed stayed (`ScoreboardError`s).
    failed: Py<PyList>,
}

#[pymethods]
impl PyCleanup {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<Cleanup removed={} failed={}>",
            self.removed,
            self.failed.bind(py).len()
        )
    }
}

/// The `Cleanup` of the crate's.
pub(crate) fn cleanup(py: Python<'_>, done: &Cleanup) -> PyResult<PyCleanup> {
    let failed = PyList::empty(py);
    for e in &done.failed {
        failed.append(errors::exception(py, e)?)?;
    }
    Ok(PyCleanup {
        removed: done.removed,
        failed: failed.unbind(),
    })
}
