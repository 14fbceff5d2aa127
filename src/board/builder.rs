//! [`Builder`]: a scoreboard's options, and opening it with them.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::reading::{ReaderLock, Settings};
use super::{Scoreboard, WorkerIdFn};
#[cfg(doc)]
use super::{Snapshot, Worker};
use crate::dir::BaseDir;
use crate::error::{Error, ErrorKind, Result};
use crate::fork;
use crate::reader::SETTLE_TIMEOUT;
use crate::slots::Slots;

/// Configures a [`Scoreboard`]; made by [`Scoreboard::builder`].
pub struct Builder {
    base_dir: PathBuf,
    worker_id: Option<WorkerIdFn>,
    watch: bool,
    create: bool,
    settle_timeout: Duration,
    max_mappings: Option<usize>,
    group: Option<u32>,
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
            .field("group", &self.group)
            .finish()
    }
}

impl Builder {
    /// The defaults, for [`Scoreboard::builder`].
    pub(super) fn new(base_dir: PathBuf) -> Self {
        Self {
            base_dir,
            worker_id: None,
            watch: true,
            create: true,
            settle_timeout: SETTLE_TIMEOUT,
            max_mappings: None,
            group: None,
        }
    }

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
    /// read then makes one system call whatever the number of workers. Every
    /// watching board of the process shares one inotify instance. Where
    /// the watch cannot be set up (no inotify, the user's inotify instances
    /// used up) reads list the directory, with the same results. `false`
    /// (listing mode) lists it at every read: more system calls per read, no
    /// inotify instance. This option is the one way to choose: the library
    /// reads no environment variable.
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
    /// [`ErrorKind::Unsettled`](crate::ErrorKind::Unsettled) in
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
    /// Whatever `n`, the boards of a process keep, all together, no more
    /// than the process's `vm.max_map_count` less the mappings it has when a
    /// board first reads, less a quarter of `vm.max_map_count` left for the
    /// rest of the process (without `max_mappings`, a board may take all of
    /// what the others leave): a process that runs out of mappings cannot
    /// allocate memory either, and Rust then aborts. A mapping refused for
    /// want of memory lowers that budget to the mappings kept so far.
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

    /// Shares the board with the group `gid` for reading (default: private
    /// to its user). [`open`](Self::open) gives `base_dir` that group and
    /// mode 2750 (setgid, so its entries take the group) when this process
    /// owns it, and this process's workers make their status files mode 0640
    /// with that group. A board whose directory the group may read (made so
    /// by systemd's `RuntimeDirectoryMode=0750`, or by `chgrp` and `chmod`)
    /// gets such files too, with or without this option.
    ///
    /// The members of the group, and root, then read the board with every
    /// reader of this crate (`read_all`, `snapshot`, the `scoreboard` tool),
    /// **read-only**: they change nothing of the owner's (dead workers'
    /// files are reported in [`Snapshot::skipped`] with
    /// [`Reason::DeadLeftForOwner`](crate::Reason::DeadLeftForOwner) and left
    /// for the owner's reads to remove), take no lock that could hold up the
    /// owner, and read its files with `pread`, never through a mapping, so
    /// that nothing the owner does to its files can crash or hang them. They
    /// cannot add workers to the board.
    ///
    /// The process must own `base_dir` (or create it) and be a member of
    /// `gid` (or root) for the group to be given; a board opened by another
    /// user ignores it.
    ///
    /// # Examples
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// use std::os::unix::fs::MetadataExt;
    /// // Our own primary group, which we are a member of.
    /// let gid = std::fs::metadata(tmp.path())?.gid();
    /// let path = tmp.path().join("board");
    /// let board = parallel_scoreboard::Scoreboard::builder(&path)
    ///     .group(gid)
    ///     .open()?;
    /// board.update(b"up")?;
    /// assert_eq!(std::fs::metadata(&path)?.mode() & 0o7777, 0o2750);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn group(mut self, gid: u32) -> Self {
        self.group = Some(gid);
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
    ///   `base_dir` is owned by another user and this process is neither
    ///   root nor a member of the group it is shared with (see
    ///   [`group`](Self::group)), or group or others may write to it without
    ///   the sticky bit.
    pub fn open(self) -> Result<Scoreboard> {
        fork::init().map_err(|e| Error::io(e).with_detail("installing fork handlers"))?;
        let dir = if self.create {
            Some(BaseDir::open(&self.base_dir, self.group)?)
        } else {
            match BaseDir::find(&self.base_dir) {
                Ok(dir) => Some(dir),
                Err(e) if e.kind() == ErrorKind::Missing => None,
                Err(e) => return Err(e),
            }
        };
        let dir = dir.map(Arc::new);
        let settings = Settings {
            path: self.base_dir.clone(),
            watch: self.watch,
            settle: self.settle_timeout,
            max_mappings: self.max_mappings,
        };
        let reader = ReaderLock::new(settings, dir.clone());
        Ok(Scoreboard {
            path: self.base_dir,
            dir: dir.map_or_else(OnceLock::new, OnceLock::from),
            worker_id: self.worker_id,
            slots: Slots::default(),
            reader,
        })
    }
}
