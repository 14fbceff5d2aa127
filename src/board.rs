//! The public face: [`Scoreboard`], its builder, and what reads return.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::dir::BaseDir;
use crate::error::{Error, Result};
use crate::fork;
use crate::reader::{Entry, How, Reader, ScanReport};
use crate::slots::Slots;

/// A plain read: what the watch reports, no list of skipped entries.
const READ: How = How {
    full: false,
    skipped: false,
};
use crate::worker::Worker;

type WorkerIdFn = Box<dyn Fn() -> String + Send + Sync + 'static>;

/// A scoreboard: a directory of per-worker status files.
///
/// Workers publish their status with [`update`](Self::update) or through a
/// [`Worker`] handle; monitors read every live worker's status with
/// [`read_all`](Self::read_all) or [`snapshot`](Self::snapshot). Cheap to share
/// between threads (`Send + Sync`).
///
/// # Examples
/// ```
/// use parallel_scoreboard::Scoreboard;
/// # let dir = tempfile::tempdir()?;
/// let board = Scoreboard::open(dir.path().join("board"))?;
/// board.update(b"this is my current status")?;
/// let all = board.read_all()?;
/// assert_eq!(all[&std::process::id().to_string()], b"this is my current status");
/// # Ok::<(), parallel_scoreboard::Error>(())
/// ```
pub struct Scoreboard {
    dir: Arc<BaseDir>,
    worker_id: Option<WorkerIdFn>,
    slots: Slots,
    reader: Mutex<Reader>,
}

/// Configures a [`Scoreboard`]; made by [`Scoreboard::builder`].
pub struct Builder {
    base_dir: PathBuf,
    worker_id: Option<WorkerIdFn>,
    watch: bool,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("base_dir", &self.base_dir)
            .field(
                "worker_id",
                &self.worker_id.as_ref().map(|_| "Fn() -> String"),
            )
            .field("watch", &self.watch)
            .finish()
    }
}

impl fmt::Debug for Scoreboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoreboard")
            .field("base_dir", &self.base_dir())
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Sets the function that names the calling worker for
    /// [`Scoreboard::update`] and [`Scoreboard::worker`] (default: the process
    /// id). It may return any non-empty UTF-8 string of up to 255 bytes.
    ///
    /// # Slots of `update` and threads
    /// [`Scoreboard::update`] makes one slot (one status file) per id it
    /// meets. With a custom `worker_id`, a slot is held by every thread that
    /// updated through it, and is released (its file removed, its descriptor
    /// closed) when the last of those threads has exited:
    /// - a thread that still runs keeps every slot it updated through, so a
    ///   long-lived thread with a fixed id keeps its worker, and threads that
    ///   come and go leave nothing behind;
    /// - two threads that map to one id share its slot until both have
    ///   exited;
    /// - a thread has exited once [`JoinHandle::join`](std::thread::JoinHandle::join)
    ///   has returned (its thread-local destructors have run then;
    ///   `std::thread::scope` may return a moment before);
    /// - the main thread's slots, and those of updates made from a
    ///   thread-local destructor late in a thread's exit, are kept until the
    ///   board is dropped (or the process exits);
    /// - dropping the board removes its slots whatever the threads do.
    ///
    /// For ids that change while a thread runs (one per request), take a
    /// [`Worker`] with [`Scoreboard::worker_with_id`] and drop it when done.
    ///
    /// With the default id (the process id) there is one slot per process,
    /// which no thread's exit releases: it goes with the board, or with the
    /// process.
    ///
    /// # Examples
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let board = parallel_scoreboard::Scoreboard::builder(dir.path())
    ///     .worker_id(|| format!("{:?}", std::thread::current().id()))
    ///     .open()?;
    /// std::thread::scope(|s| {
    ///     let t = s.spawn(|| board.update(b"short-lived"));
    ///     t.join().unwrap()
    /// })?;
    /// // The thread has exited: its worker is gone.
    /// assert!(board.read_all()?.is_empty());
    /// # Ok::<(), parallel_scoreboard::Error>(())
    /// ```
    #[must_use]
    pub fn worker_id(mut self, f: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.worker_id = Some(Box::new(f));
        self
    }

    /// Whether reads watch `base_dir` for changes (with inotify) rather than
    /// list it and check every entry's lock each time. On by default: a warm
    /// read then makes one system call whatever the number of workers. Where
    /// the watch cannot be set up (no inotify, the user's inotify instances
    /// used up) reads list the directory, with the same results. The
    /// environment variable `PARALLEL_SCOREBOARD_NO_WATCH=1` turns it off for
    /// every board of the process.
    #[must_use]
    pub fn watch(mut self, watch: bool) -> Self {
        self.watch = watch;
        self
    }

    /// Opens the scoreboard, creating `base_dir` (mode 0700) and its missing
    /// parents if needed. A concurrent creation is not an error.
    ///
    /// # Errors
    /// - [`ErrorKind::Io`](crate::ErrorKind::Io) when `base_dir` cannot be
    ///   created or opened.
    /// - [`ErrorKind::Insecure`](crate::ErrorKind::Insecure) when an existing
    ///   `base_dir` is owned by another user, or group or others may write to
    ///   it without the sticky bit.
    pub fn open(self) -> Result<Scoreboard> {
        fork::init().map_err(|e| Error::io(e).with_detail("installing fork handlers"))?;
        let dir = BaseDir::open(&self.base_dir)?;
        Ok(Scoreboard {
            dir: Arc::new(dir),
            worker_id: self.worker_id,
            slots: Slots::default(),
            reader: Mutex::new(Reader::new(
                self.watch
                    && std::env::var_os("PARALLEL_SCOREBOARD_NO_WATCH").is_none_or(|v| v == "0"),
            )),
        })
    }
}

/// One live worker's status and what is known about it, from
/// [`Scoreboard::snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStatus {
    /// The worker's id.
    pub id: String,
    /// Its latest complete status.
    pub status: Vec<u8>,
    /// The process that owns it.
    pub pid: u32,
    /// How many updates it has made.
    pub updates: u64,
    /// When it made the latest one.
    pub updated_at: SystemTime,
    /// When it started (created its status file).
    pub started_at: SystemTime,
}

/// Every live worker with a status, sorted by id, and the entries of `base_dir`
/// that were skipped. Made by [`Scoreboard::snapshot`]; refill one with
/// [`Scoreboard::snapshot_into`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Snapshot {
    /// The live workers, sorted by id.
    pub workers: Vec<WorkerStatus>,
    /// Why each skipped entry was skipped (not a status file, corrupt,
    /// another user's, busy), with its path.
    pub skipped: Vec<Error>,
    /// Files of dead workers this read removed.
    pub removed: usize,
}

impl Scoreboard {
    /// Opens the scoreboard in `base_dir` with the default worker id (the
    /// process id), creating the directory (mode 0700) if missing.
    ///
    /// # Errors
    /// As [`Builder::open`].
    pub fn open(base_dir: impl AsRef<Path>) -> Result<Self> {
        Self::builder(base_dir).open()
    }

    /// Starts configuring a scoreboard in `base_dir`.
    ///
    /// # Examples
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let board = parallel_scoreboard::Scoreboard::builder(dir.path())
    ///     .worker_id(|| format!("{:?}", std::thread::current().id()))
    ///     .open()?;
    /// # Ok::<(), parallel_scoreboard::Error>(())
    /// ```
    pub fn builder(base_dir: impl AsRef<Path>) -> Builder {
        Builder {
            base_dir: base_dir.as_ref().to_path_buf(),
            worker_id: None,
            watch: true,
        }
    }

    /// The directory holding the status files.
    #[must_use]
    pub fn base_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Publishes `status` for the calling worker (the id `worker_id()` returns,
    /// by default this process's id), creating its status file on first use.
    /// The file belongs to this `Scoreboard` and is removed when it is dropped,
    /// or, with a custom id, when the threads that updated through it have
    /// exited ([`Builder::worker_id`] has the rule).
    ///
    /// After `fork()`, the child's first call creates the child's own entry.
    ///
    /// # Errors
    /// As [`Worker::update`], and on the first call for an id as
    /// [`worker_with_id`](Self::worker_with_id).
    pub fn update(&self, status: &[u8]) -> Result<()> {
        self.slots
            .update(&self.dir, self.worker_id.as_deref(), status)
    }

    /// An owned handle on the slot of the calling worker's id (`worker_id()`,
    /// by default this process's id).
    ///
    /// # Errors
    /// As [`worker_with_id`](Self::worker_with_id).
    pub fn worker(&self) -> Result<Worker> {
        let id = match &self.worker_id {
            Some(f) => f(),
            None => fork::pid().to_string(),
        };
        self.worker_with_id(id)
    }

    /// An owned handle on the slot of `id`. Its status file exists (with no
    /// status yet) until the handle is dropped.
    ///
    /// # Errors
    /// - [`ErrorKind::InvalidId`](crate::ErrorKind::InvalidId): `id` is empty or over 255 bytes.
    /// - [`ErrorKind::DuplicateId`](crate::ErrorKind::DuplicateId): a live worker holds `id`. A
    ///   dead worker's id is taken over.
    /// - [`ErrorKind::Io`](crate::ErrorKind::Io): the file cannot be created (full disk, no
    ///   permission, out of file descriptors).
    pub fn worker_with_id(&self, id: impl Into<String>) -> Result<Worker> {
        Worker::create(Arc::clone(&self.dir), id.into())
    }

    /// The latest complete status of every live worker that has one, by id.
    /// Dead workers' files are removed on the way.
    ///
    /// Warm reads are cheap: the board keeps every live worker's file mapped
    /// (no descriptor) and watches `base_dir`, so a read while nobody starts or
    /// exits makes one system call and copies the statuses. For polling loops,
    /// [`snapshot_into`](Self::snapshot_into) refills a [`Snapshot`] without
    /// allocating.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) only when `base_dir` cannot be
    /// listed, or when an entry cannot be opened for want of file descriptors
    /// or memory (the result would then miss workers). Entries that are not
    /// readable status files are skipped; [`snapshot`](Self::snapshot) says why.
    pub fn read_all(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut all = BTreeMap::new();
        self.read(READ, &mut |e: Entry<'_>| {
            all.insert(e.id.to_owned(), e.status.to_vec());
        })?;
        Ok(all)
    }

    /// Every live worker's status with its pid, update count and times, plus
    /// what was skipped and why. Dead workers' files are removed on the way.
    ///
    /// # Errors
    /// As [`read_all`](Self::read_all).
    pub fn snapshot(&self) -> Result<Snapshot> {
        let mut snap = Snapshot::default();
        self.snapshot_into(&mut snap)?;
        Ok(snap)
    }

    /// [`snapshot`](Self::snapshot) into an existing [`Snapshot`], reusing its
    /// buffers: once they are large enough, a warm read allocates nothing
    /// (while no entry is skipped).
    ///
    /// # Errors
    /// As [`read_all`](Self::read_all).
    pub fn snapshot_into(&self, snap: &mut Snapshot) -> Result<()> {
        let workers = &mut snap.workers;
        let mut n = 0;
        let report = self.read(
            How {
                full: false,
                skipped: true,
            },
            &mut |e: Entry<'_>| {
                if n == workers.len() {
                    workers.push(WorkerStatus {
                        id: String::new(),
                        status: Vec::new(),
                        pid: 0,
                        updates: 0,
                        updated_at: UNIX_EPOCH,
                        started_at: UNIX_EPOCH,
                    });
                }
                let w = &mut workers[n];
                n += 1;
                w.id.clear();
                w.id.push_str(e.id);
                w.status.clear();
                w.status.extend_from_slice(e.status);
                w.pid = e.pid;
                w.updates = e.updates;
                w.updated_at = UNIX_EPOCH + Duration::from_nanos(e.updated_ns);
                w.started_at = UNIX_EPOCH + Duration::from_nanos(e.started_ns);
            },
        );
        workers.truncate(n);
        let report = report?;
        workers.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        snap.skipped = report.skipped;
        snap.removed = report.removed;
        Ok(())
    }

    /// Removes the files of dead workers (and abandoned temporaries); returns
    /// how many. Lists `base_dir` and looks at every entry, whatever the watch
    /// says; [`read_all`](Self::read_all) removes the dead workers it comes
    /// across too.
    ///
    /// # Errors
    /// As [`read_all`](Self::read_all).
    pub fn cleanup(&self) -> Result<usize> {
        Ok(self
            .read(
                How {
                    full: true,
                    skipped: false,
                },
                &mut |_| {},
            )?
            .removed)
    }

    fn read(&self, how: How, visit: &mut dyn FnMut(Entry<'_>)) -> Result<ScanReport> {
        self.reader().read(&self.dir, how, visit)
    }

    fn reader(&self) -> MutexGuard<'_, Reader> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_and_sync_where_promised() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Scoreboard>();
        send::<Worker>();
    }
}
