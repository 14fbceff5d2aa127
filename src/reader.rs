//! Reading every worker's status.
//!
//! A reader keeps, between reads, a read-only mapping of every live worker's
//! file (a mapping, never a descriptor, so 10,000 workers cost no descriptors)
//! and learns which entries of `base_dir` changed from an inotify watch. A warm
//! read while nobody starts or exits is one `read` of the watch, which finds
//! nothing, plus a copy of each mapped status: no other system call.
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
//! looked at again on every read for [`SUSPECT_FOR`]. A read that starts after
//! the lock is gone therefore never shows the worker.

use std::collections::btree_map::Entry as MapEntry;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;

use crate::dir::{self, BaseDir};
use crate::error::{Error, ErrorKind, Result};
use crate::fork;
use crate::id::{self, PREFIX, TMP_PREFIX};
use crate::layout::{HEADER_LEN, MAGIC, STATIC_WORDS, StaticHeader, VERSION};
use crate::protocol::{self, Attempt, Words};
use crate::shm::ReadMap;
use crate::sys::{self, Change, FileId, Watch};

/// How long a reader keeps retrying a status that changes under it before it
/// reports the worker as busy. Only a writer that completes an update and starts
/// the next one during every single copy can cause this.
const BUSY_AFTER: Duration = Duration::from_secs(1);

/// How long a name found live right after its file was closed is looked at
/// again on every read (see the module docs). The kernel drops the lock
/// microseconds after it queues the close; this covers a dying process that
/// is descheduled in between, many times over.
const SUSPECT_FOR: Duration = Duration::from_secs(2);

/// One live worker's status, borrowed from the reader for the visit.
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    pub(crate) id: &'a str,
    pub(crate) pid: u32,
    pub(crate) started_ns: u64,
    pub(crate) updated_ns: u64,
    pub(crate) updates: u64,
    pub(crate) status: &'a [u8],
}

/// What a read does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct How {
    /// List the directory and look at every entry, whatever the watch says.
    pub(crate) full: bool,
    /// Collect the skipped entries into the report.
    pub(crate) skipped: bool,
}

/// What a read found besides the live workers.
#[derive(Debug, Default)]
pub(crate) struct ScanReport {
    /// Dead workers' files this read removed.
    pub(crate) removed: usize,
    /// Entries skipped, each with why (when asked for).
    pub(crate) skipped: Vec<Error>,
    /// The first entry that could not be looked at for want of a resource.
    incomplete: Option<Error>,
}

/// A live worker's status file mapped by this reader, with its static header.
#[derive(Debug)]
struct Mapped {
    file_id: FileId,
    map: ReadMap,
    id: String,
    pid: u32,
    started_ns: u64,
    /// The listing that last saw it.
    seen: u64,
}

/// An entry skipped for a reason that lasts until the entry changes.
#[derive(Debug)]
struct Skipped {
    error: Error,
    seen: u64,
}

#[derive(Debug)]
enum Watching {
    /// Not set up yet: the first read sets it up (a board used only for
    /// updates never spends an inotify instance).
    NotYet,
    On {
        watch: Watch,
        /// The fork generation that set it up: a fork child must not read its
        /// parent's events, so it sets up its own.
        generation: u64,
    },
    /// Turned off, or unavailable: every read lists the directory.
    Off,
}

/// A reader's state kept between reads.
#[derive(Debug)]
pub(crate) struct Reader {
    watching: Watching,
    /// Live workers' files, by entry name. Ordered: names follow ids, so reads
    /// visit workers roughly in id order, which makes the callers' sorted
    /// inserts cheap.
    cache: BTreeMap<OsString, Mapped>,
    /// Entries skipped for a lasting reason, by name; looked at again when the
    /// watch reports them.
    lasting: HashMap<OsString, Skipped>,
    /// Names to look at before the next read, and whether a writer closed them.
    dirty: HashMap<OsString, bool>,
    /// Names found live right after a close, and until when to look again.
    suspects: HashMap<OsString, Instant>,
    /// Listings made, for dropping what a listing no longer shows.
    listing: u64,
    buf: Vec<u8>,
    /// The user whose files these are (taken once: one system call less per
    /// entry looked at).
    euid: u32,
}

/// How looking at one entry ended.
enum Look {
    /// A live worker's file, now mapped; or a live temporary.
    Live,
    /// Nothing to show: gone, removed as dead.
    Gone,
}

/// Why an entry was skipped.
enum Skip {
    /// Lasts until the entry changes (not a status file, corrupt, another
    /// user's): not looked at again until the watch reports it.
    Lasting(Error),
    /// May pass by itself (out of descriptors or memory, busy): looked at again
    /// on the next read.
    Passing(Error),
}

impl From<Error> for Skip {
    fn from(e: Error) -> Self {
        let passing = match e.kind() {
            ErrorKind::Busy => true,
            ErrorKind::Io => e
                .io_error()
                .and_then(io::Error::raw_os_error)
                .is_some_and(|c| {
                    matches!(
                        c,
                        libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::EINTR | libc::EAGAIN
                    )
                }),
            _ => false,
        };
        if passing {
            Skip::Passing(e)
        } else {
            Skip::Lasting(e)
        }
    }
}

impl Reader {
    /// A reader; `watch`: whether to watch `base_dir` with inotify.
    pub(crate) fn new(watch: bool) -> Self {
        Self {
            watching: if watch {
                Watching::NotYet
            } else {
                Watching::Off
            },
            cache: BTreeMap::new(),
            lasting: HashMap::new(),
            dirty: HashMap::new(),
            suspects: HashMap::new(),
            listing: 0,
            buf: Vec::new(),
            euid: sys::euid(),
        }
    }

    /// Visits every live worker that has a status; removes dead workers' files.
    ///
    /// Fails only when `base_dir` itself cannot be listed, or when an entry
    /// that must be looked at cannot be opened for want of descriptors or
    /// memory (the read would be incomplete); a bad entry is skipped and
    /// reported, and never stops the read.
    pub(crate) fn read(
        &mut self,
        dir: &BaseDir,
        how: How,
        visit: &mut dyn FnMut(Entry<'_>),
    ) -> Result<ScanReport> {
        let mut report = ScanReport::default();
        let incremental = !how.full && self.drain(dir);
        if incremental {
            self.examine_dirty(dir, &mut report, how);
        } else {
            self.examine_all(dir, &mut report, how)?;
        }
        self.examine_suspects(dir, &mut report, how);
        if how.skipped {
            report
                .skipped
                .extend(self.lasting.values().map(|s| s.error.clone()));
        }
        if let Some(e) = report.incomplete.take() {
            return Err(
                e.with_detail("an entry could not be looked at now; the read would be incomplete")
            );
        }
        self.visit_all(dir, &mut report, how, visit);
        Ok(report)
    }

    /// Takes the watch's news into `dirty`. False when the whole directory
    /// must be listed: no watch, a new one, or events lost.
    fn drain(&mut self, dir: &BaseDir) -> bool {
        let generation = fork::generation();
        if matches!(&self.watching, Watching::On { generation: g, .. } if *g != generation) {
            // Inherited through fork: its events are the parent's to read.
            self.watching = Watching::NotYet;
        }
        match &self.watching {
            Watching::Off => false,
            Watching::NotYet => {
                // Set up before the listing, so nothing between the two is missed.
                self.watching = match Watch::new(dir.fd()) {
                    Ok(watch) => Watching::On { watch, generation },
                    // Out of descriptors or inotify instances for now: list,
                    // and try again on the next read.
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM)
                        ) =>
                    {
                        Watching::NotYet
                    }
                    Err(_) => Watching::Off,
                };
                false
            }
            Watching::On { watch, .. } => {
                let (mut complete, mut lost) = (true, false);
                let dirty = &mut self.dirty;
                let drained = watch.drain(|change| match change {
                    Change::Entry { name, closed } => *dirty.entry(name).or_default() |= closed,
                    Change::Overflow => complete = false,
                    Change::Lost => lost = true,
                });
                if drained.is_err() || lost {
                    // The directory was removed or unmounted, or the watch
                    // broke: listing tells which, from now on.
                    self.watching = Watching::Off;
                    return false;
                }
                complete
            }
        }
    }

    /// Lists `base_dir` and looks at every entry.
    fn examine_all(&mut self, dir: &BaseDir, report: &mut ScanReport, how: How) -> Result<()> {
        let names = sys::list(dir.fd()).map_err(|e| Error::io(e).with_path(dir.path()))?;
        if names.is_empty()
            && sys::is_removed(dir.fd()).map_err(|e| Error::io(e).with_path(dir.path()))?
        {
            return Err(Error::new(ErrorKind::Missing)
                .with_detail("base_dir was removed")
                .with_path(dir.path()));
        }
        self.listing += 1;
        let mut dirty = std::mem::take(&mut self.dirty);
        for name in names {
            let closed = dirty.remove(&name).unwrap_or(false);
            self.examine(dir, &name, closed, report, how);
        }
        // Names the watch reported that the listing no longer shows are gone;
        // names looked at again for a passing reason were put back.
        dirty.clear();
        let listing = self.listing;
        self.cache.retain(|_, m| m.seen == listing);
        self.lasting.retain(|_, s| s.seen == listing);
        if self.dirty.is_empty() {
            self.dirty = dirty;
        }
        Ok(())
    }

    /// Looks at the names the watch reported.
    fn examine_dirty(&mut self, dir: &BaseDir, report: &mut ScanReport, how: How) {
        if self.dirty.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        for (name, closed) in dirty.drain() {
            self.examine(dir, &name, closed, report, how);
        }
        // Keep the allocation unless looking put names back.
        if self.dirty.is_empty() {
            self.dirty = dirty;
        }
    }

    /// Looks again at the names found live right after a close.
    fn examine_suspects(&mut self, dir: &BaseDir, report: &mut ScanReport, how: How) {
        if self.suspects.is_empty() {
            return;
        }
        let now = Instant::now();
        self.suspects.retain(|_, until| *until > now);
        let names: Vec<OsString> = self.suspects.keys().cloned().collect();
        for name in names {
            self.examine(dir, &name, false, report, how);
        }
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
        self.lasting.remove(name);
        match self.look(dir, name, report) {
            Ok(Look::Live) => {
                if closed {
                    self.suspects
                        .entry(name.to_owned())
                        .or_insert_with(|| Instant::now() + SUSPECT_FOR);
                }
            }
            Ok(Look::Gone) => {
                self.cache.remove(name);
                self.suspects.remove(name);
            }
            Err(skip) => {
                // Never show a file that could not be looked at again.
                self.cache.remove(name);
                self.suspects.remove(name);
                match skip {
                    Skip::Lasting(error) => {
                        let seen = self.listing;
                        self.lasting
                            .insert(name.to_owned(), Skipped { error, seen });
                    }
                    Skip::Passing(error) => {
                        self.dirty.insert(name.to_owned(), closed);
                        if error.kind() == ErrorKind::Io {
                            // Out of descriptors or memory, or interrupted:
                            // whether this worker is live is unknown, so the
                            // read fails rather than leave it out.
                            report.incomplete.get_or_insert(error);
                        } else if how.skipped {
                            report.skipped.push(error);
                        }
                    }
                }
            }
        }
    }

    /// Opens the entry `name`, removes it if it is a dead worker's, maps it if
    /// it is a live worker's not mapped yet.
    fn look(
        &mut self,
        dir: &BaseDir,
        name: &OsStr,
        report: &mut ScanReport,
    ) -> std::result::Result<Look, Skip> {
        let temp = name.as_encoded_bytes().starts_with(TMP_PREFIX.as_bytes());
        let ours = temp || name.as_encoded_bytes().starts_with(PREFIX.as_bytes());
        let Some(text) = name.to_str().filter(|_| ours) else {
            // Not a status file name: skipped while it exists (it is never
            // opened: it may be a FIFO, a device, anything).
            return match sys::identity_at(dir.fd(), name) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Look::Gone),
                _ => Err(Skip::Lasting(foreign(dir, &name.to_string_lossy()))),
            };
        };
        let file = match sys::open_entry(dir.fd(), text, false) {
            Ok(f) => f,
            // Removed since it was reported or listed: a worker that left.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Look::Gone),
            Err(e) => return Err(dir.err(text, e).into()),
        };
        let meta = file.metadata().map_err(|e| dir.err(text, e))?;
        if !meta.is_file() {
            return Err(Skip::Lasting(corrupt(dir, text, "not a regular file")));
        }
        if meta.uid() != self.euid {
            return Err(Skip::Lasting(corrupt(dir, text, "owned by another user")));
        }
        let file_id = FileId::of(&meta);
        if dir::is_dead(&file).map_err(|e| dir.err(text, e))? {
            // A dead status file always has its magic (written before it was
            // named); anything else with our prefix is not ours to remove.
            // Temporaries are ours whatever they hold: their creator may have
            // died before writing anything.
            if !temp && !has_magic(&file) {
                return Err(Skip::Lasting(corrupt(
                    dir,
                    text,
                    "unlocked and without a status header; left in place",
                )));
            }
            // `file` keeps its shared lock until the removal is done.
            if dir.remove_dead(text, file_id)? {
                report.removed += 1;
            }
            return Ok(Look::Gone);
        }
        if temp {
            // A worker being published: not shown, never mapped.
            return Ok(Look::Live);
        }
        let listing = self.listing;
        match self.cache.entry(name.to_owned()) {
            MapEntry::Occupied(mut o) if o.get().file_id == file_id => o.get_mut().seen = listing,
            MapEntry::Occupied(mut o) => {
                *o.get_mut() = map_new(dir, text, &file, meta.len(), file_id, listing)?;
            }
            MapEntry::Vacant(v) => {
                v.insert(map_new(dir, text, &file, meta.len(), file_id, listing)?);
            }
        }
        Ok(Look::Live)
    }

    /// Copies every mapped status and visits those that have one.
    fn visit_all(
        &mut self,
        dir: &BaseDir,
        report: &mut ScanReport,
        how: How,
        visit: &mut dyn FnMut(Entry<'_>),
    ) {
        let Self {
            cache, buf, dirty, ..
        } = self;
        let mut replaced = Vec::new();
        for (name, m) in cache.iter_mut() {
            match read_status(dir, name, m, buf) {
                Ok(meta) => {
                    if meta.updates > 0 {
                        visit(Entry {
                            id: &m.id,
                            pid: m.pid,
                            started_ns: m.started_ns,
                            updated_ns: meta.updated_ns,
                            updates: meta.updates,
                            status: buf,
                        });
                    }
                }
                Err(Reread::Replaced) => replaced.push(name.clone()),
                Err(Reread::Failed(e)) => {
                    if how.skipped {
                        report.skipped.push(e);
                    }
                }
            }
        }
        for name in replaced {
            // Its worker died and another took the id during this read: the
            // next read maps the new file.
            cache.remove(&name);
            dirty.insert(name, false);
        }
    }
}

/// Maps a status file not seen before and checks its header.
fn map_new(
    dir: &BaseDir,
    name: &str,
    file: &File,
    size: u64,
    file_id: FileId,
    seen: u64,
) -> std::result::Result<Mapped, Skip> {
    if size < HEADER_LEN {
        return Err(Skip::Lasting(corrupt(dir, name, "shorter than the header")));
    }
    let map = ReadMap::new(file, size).map_err(|e| dir.err(name, e))?;
    match check_header(&map, name) {
        Ok(h) => Ok(Mapped {
            file_id,
            map,
            id: h.id,
            pid: h.pid,
            started_ns: h.started_ns,
            seen,
        }),
        Err(why) => Err(Skip::Lasting(corrupt(dir, name, &why))),
    }
}

/// What a reader takes from a status file's static header.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) id: String,
    pub(crate) pid: u32,
    pub(crate) started_ns: u64,
}

/// Checks the static header of the status file named `name`: its magic,
/// format version, header length, id, and that the id maps to `name`.
pub(crate) fn check_header<W: Words>(
    words: &W,
    name: &str,
) -> std::result::Result<Header, std::borrow::Cow<'static, str>> {
    if words.len_words() * 8 < HEADER_LEN as usize {
        return Err("shorter than the header".into());
    }
    let mut raw = [0u64; STATIC_WORDS];
    for (i, w) in raw.iter_mut().enumerate() {
        *w = words.load(i);
    }
    let h = StaticHeader::from_words(&raw);
    if h.magic != MAGIC {
        return Err("bad magic".into());
    }
    if h.version != VERSION || u64::from(h.header_len) != HEADER_LEN {
        return Err(format!(
            "unsupported format version {} (header length {})",
            h.version, h.header_len
        )
        .into());
    }
    let Some(id) = h.id() else {
        return Err("bad worker id".into());
    };
    if id::file_name(id) != name {
        return Err("file name does not match the worker id".into());
    }
    Ok(Header {
        id: id.to_owned(),
        pid: u32::try_from(h.pid).unwrap_or(0),
        started_ns: h.started_ns,
    })
}

/// Why a mapped status could not be copied.
enum Reread {
    /// The name now points to another file (its worker died and the id was
    /// taken over during this read).
    Replaced,
    Failed(Error),
}

impl From<Error> for Reread {
    fn from(e: Error) -> Self {
        Reread::Failed(e)
    }
}

/// Copies the published status of `m` into `buf`, following growth.
fn read_status(
    dir: &BaseDir,
    name: &OsStr,
    m: &mut Mapped,
    buf: &mut Vec<u8>,
) -> std::result::Result<protocol::CopyMeta, Reread> {
    let backoff = Backoff::new();
    let mut started: Option<Instant> = None;
    let text = || name.to_string_lossy();
    loop {
        match protocol::read_attempt(&m.map, buf) {
            Attempt::Done(meta) => return Ok(meta),
            Attempt::Retry => {
                if backoff.is_completed() {
                    let t0 = *started.get_or_insert_with(Instant::now);
                    if t0.elapsed() > BUSY_AFTER {
                        return Err(Error::new(ErrorKind::Busy)
                            .with_path(dir.entry(&text()))
                            .into());
                    }
                }
                backoff.snooze();
            }
            Attempt::NeedLen(need) => {
                // The worker grew its file since it was mapped.
                let file = match sys::open_entry(dir.fd(), &text(), false) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Reread::Replaced),
                    Err(e) => return Err(dir.err(&text(), e).into()),
                };
                let meta = file.metadata().map_err(|e| dir.err(&text(), e))?;
                if FileId::of(&meta) != m.file_id {
                    return Err(Reread::Replaced);
                }
                // A mapping covers whole words only (a file whose size is not
                // a multiple of 8 is not one the library made).
                if meta.len() / 8 * 8 < need {
                    return Err(
                        corrupt(dir, &text(), "status extends beyond the end of the file").into(),
                    );
                }
                m.map = ReadMap::new(&file, meta.len()).map_err(|e| dir.err(&text(), e))?;
            }
            Attempt::Corrupt(why) => return Err(corrupt(dir, &text(), why).into()),
        }
    }
}

/// Whether `file` starts with a status file's magic.
fn has_magic(file: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let mut word = [0u8; 8];
    file.read_exact_at(&mut word, 0).is_ok() && u64::from_le_bytes(word) == MAGIC
}

fn corrupt(dir: &BaseDir, name: &str, why: &str) -> Error {
    Error::new(ErrorKind::Corrupt)
        .with_detail(why)
        .with_path(dir.entry(name))
}

fn foreign(dir: &BaseDir, name: &str) -> Error {
    corrupt(dir, name, "not a status file name")
}
