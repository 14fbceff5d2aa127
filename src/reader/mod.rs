//! Reading every worker's status.
//!
//! A reader keeps, between reads, a read-only mapping of every live worker's
//! file (a mapping, never a descriptor, so 10,000 workers cost no descriptors)
//! up to a budget below `vm.max_map_count`, and maps the files beyond it for
//! each copy only (see [`cache`]); it learns which entries of `base_dir`
//! changed from an inotify watch. A warm read while nobody starts or exits is
//! one `read` of the watch, which finds nothing, plus a copy of each mapped
//! status: no other system call (and five for each worker beyond the budget).
//!
//! Names the watch reports (created, renamed, removed, closed after writing,
//! metadata changed) are looked at again before the read: open, `fstat`, lock
//! check, map if new. Without a watch (inotify unavailable, the user's inotify
//! instances used up, watching turned off, or events lost to a queue overflow)
//! the read lists the directory and looks at every entry.
//!
//! Deaths: when a worker dies its file is released, which drops its `flock`;
//! the kernel queues the watch's `IN_CLOSE_WRITE` for that name just *before*
//! it drops the lock. A read that looks at the name in between still finds it
//! locked, so a name found live right after such a close is a *suspect*,
//! looked at again on every read for a while. A read that starts after the
//! lock is gone therefore never shows the worker.
//!
//! One job per part:
//! - [`track`]: what changed since the last read (the watch, dirty names,
//!   suspects, lasting skips, listings);
//! - [`classify`]: what an entry is, and removing dead workers' files;
//! - [`cache`]: the files kept between reads (mapped, or not);
//! - [`header`]: the check of a file's static header;
//! - [`reopen`]: finding a kept file again by its name;
//! - [`copy`]: copying a status out, with retry and remapping;
//! - [`pread`]: the words of another user's file, read with `pread` (a
//!   reader that is not the board's owner never maps a file);
//! - [`perl`]: recognising the Perl module's status files among the skipped.
//!
//! This file runs a read through them in that order.

mod budget;
mod cache;
mod classify;
mod copy;
mod header;
mod perl;
mod pread;
mod reopen;
mod track;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use self::cache::{Cache, Lent};
use self::classify::{Found, Skip};
use self::copy::Patience;
pub(crate) use self::copy::SETTLE_TIMEOUT;
// For `crate::inspect` (feature `unstable-internals`), which loom builds
// leave out.
#[cfg(all(feature = "unstable-internals", not(loom)))]
pub(crate) use self::header::check_header;
use self::reopen::Reread;
use self::track::{Drained, Tracker};
use crate::dir::{self, BaseDir};
use crate::error::{Error, ErrorKind, Reason, Result};
use crate::sys;

/// One live worker, whose status a read has just copied into the visitor's
/// [`Visit::buffer`].
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    pub(crate) id: &'a str,
    pub(crate) pid: u32,
    pub(crate) started_ns: u64,
    pub(crate) updated_ns: u64,
    pub(crate) updates: u64,
}

/// Where a read puts what it finds: each status is copied straight into the
/// buffer the visitor hands out, once, with no copy of its own in between.
pub(crate) trait Visit {
    /// The buffer the status of the worker `id` is copied into next (its
    /// contents are replaced; room is reserved without aborting when memory
    /// runs out). After a copy that fails or turns out to have no status yet,
    /// a buffer is asked for again for the next worker.
    fn buffer(&mut self, id: &str) -> &mut Vec<u8>;
    /// A live worker with a status, now in the buffer last handed out.
    fn visit(&mut self, e: Entry<'_>);
    /// Called once before the copies: at most `n` workers will be visited.
    fn expect(&mut self, n: usize) {
        let _ = n;
    }
}

/// A visitor that only wants the read's side effects (removing the dead).
impl Visit for Vec<u8> {
    fn buffer(&mut self, _: &str) -> &mut Vec<u8> {
        self
    }
    fn visit(&mut self, _: Entry<'_>) {}
}

/// What a read is for, which says what it looks at and what it reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum How {
    /// The statuses (`read_all`): looks at the entries the watch reports
    /// changed (or at all of them when it cannot tell), and reports no
    /// skipped entry.
    Statuses,
    /// The statuses and what was skipped (`read_into`): as [`How::Statuses`],
    /// and collects every skipped entry, with why, into the report.
    WithSkipped,
    /// Removing the dead (`cleanup`): lists the directory and looks at every
    /// entry, whatever the watch says; reports no skipped entry.
    Cleanup,
}

impl How {
    /// Whether to list the directory and look at every entry.
    fn lists_all(self) -> bool {
        self == How::Cleanup
    }

    /// Whether to collect the skipped entries into the report.
    fn reports_skipped(self) -> bool {
        self == How::WithSkipped
    }
}

/// What a read found besides the live workers.
#[derive(Debug, Default)]
pub(crate) struct ScanReport {
    /// Dead workers' files this read removed.
    pub(crate) removed: usize,
    /// Entries skipped, each with why (when asked for).
    pub(crate) skipped: Vec<Error>,
    /// Dead workers' files this read could not remove, each with why.
    pub(crate) unremoved: Vec<Error>,
    /// The first entry that could not be looked at for want of a resource.
    incomplete: Option<Error>,
}

/// A reader's state kept between reads.
#[derive(Debug)]
pub(crate) struct Reader {
    /// `base_dir`'s path, which reads follow.
    path: PathBuf,
    /// Whether to watch `base_dir` with inotify.
    watch: bool,
    /// How long one read waits for statuses that do not settle, in total.
    settle: Duration,
    /// The directory at `path`, as last found; `None` while there is none.
    dir: Option<Arc<BaseDir>>,
    track: Tracker,
    cache: Cache,
}

/// How looking at one entry ended.
enum Look {
    /// A live worker's file, now mapped; or a live temporary.
    Live,
    /// Nothing to show: gone, removed as dead.
    Gone,
}

impl Reader {
    /// A reader of the directory at `path`, which is `dir` if there was one
    /// there; `watch`: whether to watch it with inotify; `settle`: how long
    /// one read waits, in total, for statuses that keep changing.
    pub(crate) fn new(
        path: &Path,
        dir: Option<Arc<BaseDir>>,
        watch: bool,
        settle: Duration,
    ) -> Self {
        Self {
            path: path.to_path_buf(),
            watch,
            settle,
            dir,
            track: Tracker::new(watch),
            cache: Cache::new(None),
        }
    }

    /// Keeps at most `n` mappings between reads, and never more than the
    /// process's budget leaves (see [`budget`]).
    pub(crate) fn max_mappings(mut self, n: Option<usize>) -> Self {
        self.cache = Cache::new(n);
        self
    }

    /// Visits every live worker that has a status; removes dead workers' files.
    ///
    /// Fails when no directory is at `base_dir`'s path (`Missing`), when the
    /// one there is not private (`Insecure`) or cannot be listed, or when an
    /// entry that must be looked at cannot be opened for want of descriptors
    /// or memory (the read would be incomplete); a bad entry is skipped and
    /// reported, and never stops the read.
    pub(crate) fn read(&mut self, how: How, visit: &mut impl Visit) -> Result<ScanReport> {
        let mut report = ScanReport::default();
        let dir = self.scan(how, &mut report)?;
        let dir = &*dir;
        for name in self.track.due_suspects() {
            self.examine(dir, &name, false, &mut report, how);
        }
        if how.reports_skipped() {
            report.skipped.extend(self.track.lasting_skips().cloned());
        }
        if let Some(e) = report.incomplete.take() {
            return Err(
                e.and_detail("an entry could not be looked at now; the read would be incomplete")
            );
        }
        self.visit_all(dir, &mut report, how, visit);
        if let Some(e) = report.incomplete.take() {
            return Err(
                e.and_detail("a status could not be copied now; the read would be incomplete")
            );
        }
        Ok(report)
    }

    /// Finds the directory at the path and looks at the entries that changed
    /// (or at all of them); returns the directory.
    fn scan(&mut self, how: How, report: &mut ScanReport) -> Result<Arc<BaseDir>> {
        for _ in 0..2 {
            let (dir, drained) = self.locate()?;
            if drained == Drained::Complete && !how.lists_all() {
                self.examine_dirty(&dir, report, how);
                return Ok(dir);
            }
            if self.examine_all(&dir, report, how)? {
                return Ok(dir);
            }
            // Removed between the look-up and the listing: look again.
            self.forget();
        }
        Err(dir::missing(&self.path))
    }

    /// The directory at the path, and what the watch says changed in it.
    ///
    /// A warm read with a watch that follows the path makes one system call
    /// here (the watch's `read`); otherwise the path is looked up (`stat`) and,
    /// when it no longer leads to the directory read so far, the directory now
    /// there is opened (with the checks of `open`) and read afresh.
    fn locate(&mut self) -> Result<(Arc<BaseDir>, Drained)> {
        if let Some(dir) = self.dir.clone() {
            let drained = self.track.drain(&dir);
            let here = match drained {
                Drained::Lost => false,
                Drained::Complete if self.track.follows_path() => true,
                Drained::Complete | Drained::List => dir.is_at_path()?,
            };
            if here {
                return Ok((dir, drained));
            }
            self.forget();
        }
        let dir = Arc::new(BaseDir::find(&self.path)?);
        self.dir = Some(Arc::clone(&dir));
        let drained = self.track.drain(&dir);
        Ok((dir, drained))
    }

    /// Forgets the directory read so far: its path leads elsewhere now.
    fn forget(&mut self) {
        self.dir = None;
        self.track = Tracker::new(self.watch);
        self.cache.clear();
    }

    /// Lists `base_dir` and looks at every entry. False when the directory
    /// turned out to be removed.
    fn examine_all(&mut self, dir: &BaseDir, report: &mut ScanReport, how: How) -> Result<bool> {
        let names = sys::list(dir.fd()).map_err(|e| Error::io_at(dir.path(), e))?;
        if names.is_empty() && sys::is_removed(dir.fd()).map_err(|e| Error::io_at(dir.path(), e))? {
            return Ok(false);
        }
        let mut dirty = self.track.begin_listing();
        for name in names {
            let closed = dirty.remove(name.as_os_str()).unwrap_or(false);
            self.examine(dir, &name, closed, report, how);
        }
        self.cache.retain_seen(self.track.listing());
        self.track.end_listing(dirty);
        Ok(true)
    }

    /// Looks at the names the watch reported.
    fn examine_dirty(&mut self, dir: &BaseDir, report: &mut ScanReport, how: How) {
        let mut dirty = self.track.take_dirty();
        for (name, closed) in dirty.drain() {
            self.examine(dir, &name, closed, report, how);
        }
        self.track.give_back(dirty);
    }

    /// Looks at the entry `name` and records what it is.
    fn examine(
        &mut self,
        dir: &BaseDir,
        name: &OsStr,
        closed: bool,
        report: &mut ScanReport,
        how: How,
    ) {
        self.track.forget_skip(name);
        match self.look(dir, name, report) {
            Ok(Look::Live) => {
                if closed {
                    self.track.suspect(name);
                }
            }
            Ok(Look::Gone) => {
                self.cache.remove(name);
                self.track.unsuspect(name);
            }
            Err(skip) => {
                // Never show a file that could not be looked at again.
                self.cache.remove(name);
                self.track.unsuspect(name);
                match skip {
                    Skip::Lasting(error) => self.track.skip_lasting(name, error),
                    Skip::Passing(error) => {
                        self.track.mark(name, closed);
                        if error.kind() == ErrorKind::Io {
                            // Out of descriptors or memory, or interrupted:
                            // whether this worker is live is unknown, so the
                            // read fails rather than leave it out.
                            report.incomplete.get_or_insert(error);
                        } else if how.reports_skipped() {
                            report.skipped.push(error);
                        }
                    }
                }
            }
        }
    }

    /// Says what the entry `name` is, and maps it if it is a live worker's
    /// file not mapped yet. A file without our header that holds the Perl
    /// module's record (both name a worker's file `status_<id>`) is skipped
    /// as [`Reason::PerlStatusFile`].
    fn look(
        &mut self,
        dir: &BaseDir,
        name: &OsStr,
        report: &mut ScanReport,
    ) -> std::result::Result<Look, Skip> {
        self.look_at(dir, name, report)
            .map_err(|skip| perl::hint(dir, name, skip))
    }

    fn look_at(
        &mut self,
        dir: &BaseDir,
        name: &OsStr,
        report: &mut ScanReport,
    ) -> std::result::Result<Look, Skip> {
        match classify::classify(dir, name, report)? {
            Found::Gone => Ok(Look::Gone),
            Found::Publishing => Ok(Look::Live),
            Found::Live { text, file, meta } => {
                let listing = self.track.listing();
                self.cache.keep(dir, text, &file, &meta, listing)?;
                Ok(Look::Live)
            }
        }
    }

    /// Copies every kept status and visits those that have one.
    fn visit_all(
        &mut self,
        dir: &BaseDir,
        report: &mut ScanReport,
        how: How,
        visit: &mut impl Visit,
    ) {
        let mut replaced: Vec<String> = Vec::new();
        let mut patience = Patience::new(self.settle);
        visit.expect(self.cache.len());
        self.cache.each(dir, |name, lent| {
            let copied = match lent {
                Ok(Lent::Mapped(m)) => {
                    copy::read_status(dir, name, m, visit.buffer(&m.id), &mut patience)
                        .map(|meta| (&*m.id, m.pid, m.started_ns, meta))
                }
                Ok(Lent::Foreign {
                    id,
                    pid,
                    started_ns,
                    mut src,
                }) => copy::read_foreign(dir, name, &mut src, visit.buffer(id), &mut patience)
                    .map(|meta| (id, pid, started_ns, meta)),
                Err(e) => Err(e),
            };
            match copied {
                Ok((id, pid, started_ns, meta)) => {
                    if meta.updates > 0 {
                        visit.visit(Entry {
                            id,
                            pid,
                            started_ns,
                            updated_ns: meta.updated_ns,
                            updates: meta.updates,
                        });
                    }
                }
                Err(e) => not_copied(name, e, how, report, &mut replaced),
            }
        });
        for name in replaced {
            // Its worker died and another took the id during this read: the
            // next read maps the new file.
            self.cache.remove(name.as_ref());
            self.track.mark(name.as_ref(), false);
        }
    }
}

/// Records why the status of `name` was not copied.
#[cold]
#[inline(never)]
fn not_copied(
    name: &str,
    why: Reread,
    how: How,
    report: &mut ScanReport,
    replaced: &mut Vec<String>,
) {
    match why {
        Reread::Replaced => replaced.push(name.to_owned()),
        Reread::Failed(e) if cache::is_exhaustion(&e) => {
            // Whether it still lives is known, its status is not: the read
            // fails rather than leave it out.
            report.incomplete.get_or_insert(e);
        }
        Reread::Failed(e) => {
            if how.reports_skipped() {
                report.skipped.push(e);
            }
        }
    }
}

/// A corrupt entry `name` of `dir`, and why.
#[cold]
fn corrupt(dir: &BaseDir, name: &str, why: Reason) -> Error {
    Error::corrupt(dir.entry(name), why)
}
