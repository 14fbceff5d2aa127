//! The public face: [`Scoreboard`], its builder, and what reads return.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cleanup::Cleanup;
use crate::dir::BaseDir;
use crate::error::{Error, Result};
use crate::fork;
use crate::reader::{Entry, How, Reader, ScanReport, Visit};
use crate::slots::Slots;
use crate::sys;
use reading::ReaderLock;

use crate::worker::Worker;

mod builder;
mod reading;

pub use builder::Builder;

type WorkerIdFn = Box<dyn Fn() -> String + Send + Sync + 'static>;

/// A scoreboard: a directory of per-worker status files.
///
/// Workers publish their status with [`update`](Self::update) or through a
/// [`Worker`] handle; monitors read every live worker's status with
/// [`read_all`](Self::read_all) or [`read_into`](Self::read_into). Cheap to share
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
    /// Locked for each read; never inherited held by a fork child.
    reader: ReaderLock,
}

impl fmt::Debug for Scoreboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoreboard")
            .field("base_dir", &self.base_dir())
            .finish_non_exhaustive()
    }
}

/// One live worker's status and what is known about it, from
/// [`Scoreboard::read_into`].
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
    /// When it made the latest one, on this process's wall clock.
    ///
    /// Workers stamp updates on the monotonic clock, which never steps and
    /// which every process of the host shares; a read turns the stamp into
    /// a wall-clock time with the reader's own clocks (`wall now -
    /// (monotonic now - stamp)`). So `SystemTime::now() - updated_at` is the
    /// true age of the update even when the worker's wall clock is wrong or
    /// either clock was set since (an NTP step, by hand); the time itself is
    /// as right as the reader's wall clock.
    pub updated_at: SystemTime,
    /// When it started (created its status file), on this process's wall
    /// clock, converted as `updated_at` is. Two reads give the same time for
    /// one worker unless this process's wall clock was set between them.
    pub started_at: SystemTime,
}

/// Every live worker with a status, sorted by id, and the entries of `base_dir`
/// that were skipped. Made by [`Scoreboard::read_into`]; refill one with
/// [`Scoreboard::read_into`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Snapshot {
    /// The live workers, sorted by id.
    pub workers: Vec<WorkerStatus>,
    /// Why each skipped entry was skipped (not a status file, corrupt,
    /// another user's, unsettled, a dead worker's file that could not be removed),
    /// with its path; a `Corrupt` one says why as a [`Reason`](crate::Reason)
    /// to match ([`Error::reason`]).
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
        Builder::new(base_dir.as_ref().to_path_buf())
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
        // A concurrent call may have set it first: use the one kept. Under
        // `fork::exclusive` (the fork handlers were installed by the builder),
        // so that no fork child inherits the cell in its "being set" state,
        // in which the child's first update would wait for good.
        Ok(fork::exclusive(|| Arc::clone(self.dir.get_or_init(|| dir))))
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
    /// path sees), and making a new one fails (docs/protocol.md, "A removed or
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
    /// - [`ErrorKind::Corrupt`](crate::ErrorKind::Corrupt): the id's name is
    ///   taken by something that is not this user's status file (its
    ///   [`Reason`](crate::Reason) says which).
    /// - [`ErrorKind::Contended`](crate::ErrorKind::Contended): other
    ///   processes kept creating and removing files of the same id while
    ///   this one tried to publish its file.
    /// - [`ErrorKind::ReadOnly`](crate::ErrorKind::ReadOnly): this process
    ///   only reads another user's board.
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
    /// [`read_into`](Self::read_into) refills a [`Snapshot`] without
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
    /// [`read_into`](Self::read_into) says why.
    pub fn read_all(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut all = Collect::default();
        self.read(How::Statuses, &mut all)?;
        // Collected in name order, which is nearly id order: the map is built
        // in one go (a sort that finds the run, then a bulk build), with no
        // search per insert.
        Ok(all.found.into_iter().collect())
    }

    /// Refills `snap` with every live worker's status, its pid, update count
    /// and times, and what was skipped and why. Dead workers' files are
    /// removed on the way.
    ///
    /// `snap`'s buffers are reused: once they are large enough (keep one
    /// `Snapshot` for a polling loop), a warm read allocates nothing while no
    /// entry is skipped. (The boards of a process share one directory watch,
    /// and a read hands the events it drains to the boards they concern: a
    /// board's queue of events allocates until it has room for what arrives
    /// between its reads.)
    ///
    /// ```
    /// use parallel_scoreboard::{Scoreboard, Snapshot};
    /// # let dir = tempfile::tempdir()?;
    /// let board = Scoreboard::open(dir.path())?;
    /// board.worker_with_id("w-1")?.update(b"idle")?;
    /// let mut snap = Snapshot::default();
    /// board.read_into(&mut snap)?;
    /// assert!(snap.workers.is_empty()); // the worker above was dropped: gone
    /// let mut w = board.worker_with_id("w-1")?;
    /// w.update(b"busy")?;
    /// board.read_into(&mut snap)?;
    /// assert_eq!((snap.workers[0].id.as_str(), &snap.workers[0].status[..]), ("w-1", &b"busy"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`read_all`](Self::read_all).
    pub fn read_into(&self, snap: &mut Snapshot) -> Result<()> {
        let mut fill = Refill {
            workers: &mut snap.workers,
            n: 0,
            wall_minus_mono: sys::wall_minus_mono_ns(),
        };
        let report = self.read(How::WithSkipped, &mut fill);
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
    /// [`read_into`](Self::read_into) reports those it cannot remove in
    /// [`Snapshot::skipped`].
    ///
    /// A board of another user, read by root or a member of its group (see
    /// [`Builder::group`]), is only read: this removes nothing there (its
    /// dead workers are reported by `read_into` as
    /// [`Reason::DeadLeftForOwner`](crate::Reason::DeadLeftForOwner)).
    ///
    /// # Errors
    /// As [`read_all`](Self::read_all). A file that cannot be removed is not
    /// an error of the call: it is in [`Cleanup::failed`].
    pub fn cleanup(&self) -> Result<Cleanup> {
        let report = self.read(How::Cleanup, &mut Vec::new())?;
        Ok(Cleanup {
            removed: report.removed,
            failed: report.unremoved,
        })
    }

    fn read(&self, how: How, visit: &mut impl Visit) -> Result<ScanReport> {
        self.reader().read(how, visit)
    }

    fn reader(&self) -> MutexGuard<'_, Reader> {
        self.reader.lock()
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
        // Fallible: a failure leaves the vector to grow as it goes (and a
        // read for which memory runs out then fails its copies, with ENOMEM).
        let _ = self.found.try_reserve_exact(n);
    }
}

/// What [`Scoreboard::read_into`] refills: the `n`th worker found goes
/// into `workers[n]`, reusing its buffers.
struct Refill<'a> {
    workers: &'a mut Vec<WorkerStatus>,
    n: usize,
    /// What turns the workers' monotonic times into wall-clock ones.
    wall_minus_mono: i64,
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
        w.updated_at = wall_time(e.updated_ns, self.wall_minus_mono);
        w.started_at = wall_time(e.started_ns, self.wall_minus_mono);
    }
}

/// The wall-clock time of `mono_ns` on the monotonic clock, given the wall
/// clock less the monotonic one (`sys::wall_minus_mono_ns`). Any word a
/// file holds gives a time: before the epoch reads as the epoch, beyond
/// `u64` ns (the year 2554) as that.
fn wall_time(mono_ns: u64, wall_minus_mono: i64) -> SystemTime {
    let ns = i128::from(mono_ns) + i128::from(wall_minus_mono);
    let ns = u64::try_from(ns.max(0)).unwrap_or(u64::MAX);
    UNIX_EPOCH + Duration::from_nanos(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_times_become_wall_clock_times() {
        let at = |ns| UNIX_EPOCH + Duration::from_nanos(ns);
        assert_eq!(wall_time(5, 1_000), at(1_005));
        assert_eq!(wall_time(5_000, -1_000), at(4_000));
        assert_eq!(wall_time(5, -1_000), UNIX_EPOCH);
        assert_eq!(wall_time(u64::MAX, i64::MAX), at(u64::MAX));
        assert_eq!(wall_time(0, i64::MIN), UNIX_EPOCH);
    }

    #[test]
    fn handles_are_send_and_sync_where_promised() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Scoreboard>();
        send::<Worker>();
    }
}
