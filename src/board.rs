//! The public face: [`Scoreboard`], its builder, and what reads return.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cleanup::Cleanup;
use crate::dir::BaseDir;
use crate::error::{Error, ErrorKind, Result};
use crate::fork;
use crate::reader::{Entry, How, Reader, SETTLE_TIMEOUT, ScanReport, Visit};
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
    path: PathBuf,
    /// The directory new workers are made in: the one found at `path` when
    /// the board was opened, or the first found there since.
    dir: OnceLock<Arc<BaseDir>>,
    worker_id: Option<WorkerIdFn>,
    slots: Slots,
    reader: Mutex<Reader>,
}

/// Configures a [`Scoreboard`]; made by [`Scoreboard::builder`].
pub struct Builder {
    base_dir: PathBuf,
    worker_id: Option<WorkerIdFn>,
    watch: bool,
    create: bool,
    settle_timeout: Duration,
    max_mappings: Option<usize>,
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
            .field("create", &self.create)
            .field("settle_timeout", &self.settle_timeout)
            .field("max_mappings", &self.max_mappings)
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

    /// Whether [`open`](Self::open) creates a missing `base_dir` (the
    /// default). With `false` it neither creates it nor fails because it is
    /// missing: reads fail with [`ErrorKind::Missing`](crate::ErrorKind::Missing)
    /// until a directory is at the path, then read it; new workers are made in
    /// the first directory found there. For monitors that may start before
    /// the workers' server has made the board.
    ///
    /// # Examples
    /// ```
    /// use parallel_scoreboard::{ErrorKind, Scoreboard};
    /// # let tmp = tempfile::tempdir()?;
    /// let path = tmp.path().join("not-yet");
    /// let monitor = Scoreboard::builder(&path).create(false).open()?;
    /// assert_eq!(monitor.read_all().unwrap_err().kind(), ErrorKind::Missing);
    /// let server = Scoreboard::open(&path)?; // makes it
    /// server.update(b"up")?;
    /// assert_eq!(monitor.read_all()?.len(), 1);
    /// # Ok::<(), parallel_scoreboard::Error>(())
    /// ```
    #[must_use]
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// How long one read waits, all statuses together, for statuses that keep
    /// changing under it (default 100 ms). A status that does not settle in
    /// time (a file left marked as being written, a writer that starts a new
    /// update during every copy) is left out of that read and reported as
    /// [`ErrorKind::Busy`](crate::ErrorKind::Busy) in
    /// [`Snapshot::skipped`]; the rest of the board is returned. Once the
    /// time is spent each further such status gets a few quick retries only,
    /// so a read with many of them still takes about this long.
    ///
    /// # Examples
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let board = parallel_scoreboard::Scoreboard::builder(dir.path())
    ///     .settle_timeout(std::time::Duration::from_millis(20))
    ///     .open()?;
    /// # Ok::<(), parallel_scoreboard::Error>(())
    /// ```
    #[must_use]
    pub fn settle_timeout(mut self, timeout: Duration) -> Self {
        self.settle_timeout = timeout;
        self
    }

    /// How many workers' files reads keep mapped between reads, at most. A
    /// kept mapping makes a warm read of that worker a plain copy, with no
    /// system call; each worker beyond it costs every read an `open`,
    /// `fstat`, `mmap`, `munmap` and `close`. `0` keeps none.
    ///
    /// Whatever `n`, a board keeps no more than the process's
    /// `vm.max_map_count` less the mappings it has when the board first
    /// reads, less a quarter of `vm.max_map_count` left for the rest of the
    /// process (that is also the default): a process that runs out of
    /// mappings cannot allocate memory either, and Rust then aborts. A
    /// mapping refused for want of memory lowers the budget to the mappings
    /// kept so far.
    ///
    /// # Examples
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let board = parallel_scoreboard::Scoreboard::builder(dir.path())
    ///     .max_mappings(10_000)
    ///     .open()?;
    /// # Ok::<(), parallel_scoreboard::Error>(())
    /// ```
    #[must_use]
    pub fn max_mappings(mut self, n: usize) -> Self {
        self.max_mappings = Some(n);
        self
    }

    /// Opens the scoreboard, creating `base_dir` (mode 0700) and its missing
    /// parents if needed (unless told not to with [`create`](Self::create)).
    /// A concurrent creation is not an error.
    ///
    /// # Errors
    /// - [`ErrorKind::Io`](crate::ErrorKind::Io) when `base_dir` cannot be
    ///   created or opened.
    /// - [`ErrorKind::Insecure`](crate::ErrorKind::Insecure) when an existing
    ///   `base_dir` is owned by another user, or group or others may write to
    ///   it without the sticky bit.
    pub fn open(self) -> Result<Scoreboard> {
        fork::init().map_err(|e| Error::io(e).with_detail("installing fork handlers"))?;
        let dir = if self.create {
            Some(BaseDir::open(&self.base_dir)?)
        } else {
            match BaseDir::find(&self.base_dir) {
                Ok(dir) => Some(dir),
                Err(e) if e.kind() == ErrorKind::Missing => None,
                Err(e) => return Err(e),
            }
        };
        let dir = dir.map(Arc::new);
        let watch =
            self.watch && std::env::var_os("PARALLEL_SCOREBOARD_NO_WATCH").is_none_or(|v| v == "0");
        let reader = Reader::new(&self.base_dir, dir.clone(), watch, self.settle_timeout)
            .max_mappings(self.max_mappings);
        Ok(Scoreboard {
            path: self.base_dir,
            dir: dir.map_or_else(OnceLock::new, OnceLock::from),
            worker_id: self.worker_id,
            slots: Slots::default(),
            reader: Mutex::new(reader),
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
    /// another user's, busy, a dead worker's file that could not be removed),
    /// with its path.
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
            create: true,
            settle_timeout: SETTLE_TIMEOUT,
            max_mappings: None,
        }
    }

    /// The directory holding the status files.
    #[must_use]
    pub fn base_dir(&self) -> &Path {
        &self.path
    }

    /// The directory new workers are made in (see [`Builder::create`]).
    fn writer_dir(&self) -> Result<Arc<BaseDir>> {
        if let Some(dir) = self.dir.get() {
            return Ok(Arc::clone(dir));
        }
        let dir = Arc::new(BaseDir::find(&self.path)?);
        // A concurrent call may have set it first: use the one kept.
        Ok(Arc::clone(self.dir.get_or_init(|| dir)))
    }

    /// Publishes `status` for the calling worker (the id `worker_id()` returns,
    /// by default this process's id), creating its status file on first use.
    /// The file belongs to this `Scoreboard` and is removed when it is dropped,
    /// or, with a custom id, when the threads that updated through it have
    /// exited ([`Builder::worker_id`] has the rule).
    ///
    /// After `fork()`, the child's first call creates the child's own entry.
    ///
    /// Files are made in the directory the board opened: if it is removed,
    /// existing workers' updates still succeed (into files no reader of the
    /// path sees), and making a new one fails (see the README, "A removed or
    /// recreated `base_dir`").
    ///
    /// # Errors
    /// As [`Worker::update`], and on the first call for an id as
    /// [`worker_with_id`](Self::worker_with_id).
    pub fn update(&self, status: &[u8]) -> Result<()> {
        self.slots
            .update(&|| self.writer_dir(), self.worker_id.as_deref(), status)
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
    ///   permission, out of file descriptors, `base_dir` removed).
    /// - [`ErrorKind::Missing`](crate::ErrorKind::Missing): the board was
    ///   opened with [`Builder::create(false)`](Builder::create) and no
    ///   directory has been at its path since.
    pub fn worker_with_id(&self, id: impl Into<String>) -> Result<Worker> {
        Worker::create(self.writer_dir()?, id.into())
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
    /// Reads follow `base_dir`'s path: when the directory there is removed
    /// or replaced (by `mkdir` or a rename), the next read reads the one there
    /// now, never reporting a removed board as an empty one.
    ///
    /// # Errors
    /// - [`ErrorKind::Missing`](crate::ErrorKind::Missing) while no directory
    ///   is at `base_dir`'s path.
    /// - [`ErrorKind::Insecure`](crate::ErrorKind::Insecure) when the
    ///   directory now there is not private (as [`Builder::open`] checks).
    /// - [`ErrorKind::Io`](crate::ErrorKind::Io) when `base_dir` cannot be
    ///   listed, or when an entry cannot be opened, mapped or copied for want
    ///   of file descriptors, memory or mappings (the result would then miss
    ///   workers): never an abort.
    ///
    /// Entries that are not readable status files are skipped;
    /// [`snapshot`](Self::snapshot) says why.
    pub fn read_all(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut all = Collect::default();
        self.read(READ, &mut all)?;
        // Collected in name order, which is nearly id order: the map is built
        // in one go (a sort that finds the run, then a bulk build), with no
        // search per insert.
        Ok(all.found.into_iter().collect())
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
        let mut fill = Refill {
            workers: &mut snap.workers,
            n: 0,
        };
        let report = self.read(
            How {
                full: false,
                skipped: true,
            },
            &mut fill,
        );
        let n = fill.n;
        snap.workers.truncate(n);
        let report = report?;
        snap.workers.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        snap.skipped = report.skipped;
        snap.removed = report.removed;
        Ok(())
    }

    /// Removes the files of dead workers (and abandoned temporaries); says
    /// how many it removed and which it could not remove (a read-only mount,
    /// no permission: [`Cleanup::failed`]). Lists `base_dir` and looks at
    /// every entry, whatever the watch says; [`read_all`](Self::read_all)
    /// removes the dead workers it comes across too, and
    /// [`snapshot`](Self::snapshot) reports those it cannot remove in
    /// [`Snapshot::skipped`].
    ///
    /// # Errors
    /// As [`read_all`](Self::read_all). A file that cannot be removed is not
    /// an error of the call: it is in [`Cleanup::failed`].
    pub fn cleanup(&self) -> Result<Cleanup> {
        let report = self.read(
            How {
                full: true,
                skipped: false,
            },
            &mut Vec::new(),
        )?;
        Ok(Cleanup {
            removed: report.removed,
            failed: report.unremoved,
        })
    }

    fn read(&self, how: How, visit: &mut impl Visit) -> Result<ScanReport> {
        self.reader().read(how, visit)
    }

    fn reader(&self) -> MutexGuard<'_, Reader> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What [`Scoreboard::read_all`] collects: each status copied into a vector
/// of its own, no copy in between.
#[derive(Default)]
struct Collect {
    found: Vec<(String, Vec<u8>)>,
    next: (String, Vec<u8>),
}

impl Visit for Collect {
    fn buffer(&mut self, id: &str) -> &mut Vec<u8> {
        // The id's string first, then the status's vector, as cloning both
        // would: the allocator then places them in turn, and freeing the map
        // later does not merge the statuses into large free chunks (which
        // makes the allocator consolidate, over and over).
        // A fresh string: the last one went into the map (and reusing one
        // left by a failed copy would only add a growth check).
        self.next.0 = String::from(id);
        &mut self.next.1
    }

    fn visit(&mut self, _: Entry<'_>) {
        self.found.push(std::mem::take(&mut self.next));
    }

    fn expect(&mut self, n: usize) {
        self.found.reserve_exact(n);
    }
}

/// What [`Scoreboard::snapshot_into`] refills: the `n`th worker found goes
/// into `workers[n]`, reusing its buffers.
struct Refill<'a> {
    workers: &'a mut Vec<WorkerStatus>,
    n: usize,
}

impl Visit for Refill<'_> {
    fn buffer(&mut self, _: &str) -> &mut Vec<u8> {
        if self.n == self.workers.len() {
            self.workers.push(WorkerStatus {
                id: String::new(),
                status: Vec::new(),
                pid: 0,
                updates: 0,
                updated_at: UNIX_EPOCH,
                started_at: UNIX_EPOCH,
            });
        }
        &mut self.workers[self.n].status
    }

    fn visit(&mut self, e: Entry<'_>) {
        let w = &mut self.workers[self.n];
        self.n += 1;
        if w.id != e.id {
            w.id.clear();
            w.id.push_str(e.id);
        }
        w.pid = e.pid;
        w.updates = e.updates;
        w.updated_at = UNIX_EPOCH + Duration::from_nanos(e.updated_ns);
        w.started_at = UNIX_EPOCH + Duration::from_nanos(e.started_ns);
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
