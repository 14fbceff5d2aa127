//! A worker's own status file: creation, publication, updates, growth, removal.

use std::fmt;
use std::fs::{File, TryLockError};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::clock::Stamp;
use crate::dir::{self, BaseDir};
#[cfg(doc)]
use crate::error::ErrorKind;
use crate::error::{Error, Reason, Result};
use crate::fault;
use crate::fork::{self, Registered};
use crate::id;
use crate::layout::{INITIAL_FILE_LEN, MAX_CAP, PAGE, StaticHeader, page_round};
use crate::protocol::{self, WriterState};
use crate::shm::WriteMap;
use crate::sys::{self, FileId};

/// How often creation starts over after losing a race (a cleaner removing the
/// temporary, another newcomer taking over the same dead id) before giving up.
const MAX_ATTEMPTS: usize = 64;

/// An owned handle on one worker's status slot: the hot path for updates.
///
/// Made by [`Scoreboard::worker`](crate::Scoreboard::worker) or
/// [`Scoreboard::worker_with_id`](crate::Scoreboard::worker_with_id). While it
/// lives, its id is taken and readers list it; dropping it removes its file.
/// A `Worker` inherited through `fork()` belongs to the parent: in the child it
/// refuses to update, never keeps the parent's file alive, and its drop leaves
/// the parent's file alone.
pub struct Worker {
    id: String,
    name: String,
    dir: Arc<BaseDir>,
    state: WriterState,
    file_len: u64,
    generation: u64,
    map: WriteMap,
    /// The locked file: while it is open, the worker is live.
    file: Registered<File>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.id)
            .field("path", &self.path())
            .field("updates", &self.state.updates)
            .field("file_len", &self.file_len)
            .finish_non_exhaustive()
    }
}

/// How a publication attempt ended.
enum Published {
    Yes,
    /// A live worker holds the id.
    Taken,
    /// A race was lost; start over with a new temporary.
    Again,
}

impl Worker {
    /// Creates, locks and publishes the status file of `id` in `dir`.
    pub(crate) fn create(dir: Arc<BaseDir>, id: String) -> Result<Self> {
        id::validate(&id)?;
        fork::init().map_err(|e| Error::io(e).with_detail("installing fork handlers"))?;
        let name = id::file_name(&id);
        for _ in 0..MAX_ATTEMPTS {
            if let Some(new) = attempt(&dir, &id, &name)? {
                return Ok(Self {
                    id,
                    name,
                    dir,
                    state: new.state,
                    file_len: INITIAL_FILE_LEN,
                    generation: fork::generation(),
                    map: new.map,
                    file: new.file,
                });
            }
        }
        Err(Error::contended(&id, dir.entry(&name)))
    }

    /// The worker's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The path of the worker's status file.
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.dir.entry(&self.name)
    }

    /// How many updates this worker has made.
    #[must_use]
    pub fn updates(&self) -> u64 {
        self.state.updates
    }

    /// Publishes `status` as this worker's current status.
    ///
    /// When the status fits the space the file already has, this is a handful
    /// of stores into shared memory: no system call, no lock, never waiting for
    /// readers. A larger status grows the file first (allocating its blocks).
    ///
    /// # Errors
    /// - [`ErrorKind::Forked`] on a handle inherited through `fork()`.
    /// - [`ErrorKind::Io`] when the file cannot grow (a full file system, a
    ///   file size limit: `EFBIG`, checked before growing, so SIGXFSZ is
    ///   never raised); the previous status stays published and the worker
    ///   stays usable.
    /// - [`ErrorKind::TooLarge`] for a status over 1 TiB.
    ///
    /// # Examples
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let board = parallel_scoreboard::Scoreboard::open(dir.path())?;
    /// let mut worker = board.worker_with_id("acceptor-3")?;
    /// worker.update(b"busy GET /index.html")?;
    /// assert_eq!(board.read_all()?["acceptor-3"], b"busy GET /index.html");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    // Always: the body is small, and measured, the call left out of line was
    // a visible part of a 64 B update; `#[inline]` alone left it out of line
    // (BENCHMARKS.md, "The fixed cost of a 64 B update" and "What did not
    // pay").
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub fn update(&mut self, status: &[u8]) -> Result<()> {
        // The hot path is only this: two compares, the clock, the stores.
        // Errors and growth are out of line, so that this inlines into the
        // caller.
        if fork::generation() != self.generation {
            return Err(self.forked());
        }
        self.update_unforked(status)
    }

    /// [`update`](Self::update) for a caller that has checked that this
    /// handle was made in this fork generation: the slots, whose table is
    /// made anew in each generation (`crate::slots`, rule 5).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub(crate) fn update_unforked(&mut self, status: &[u8]) -> Result<()> {
        self.write_stamped(status, sys::mono_ns())
    }

    /// [`update`](Self::update), stamped `at` instead of the time the clock
    /// reads now: for a caller that has read the clock anyway (a server
    /// timing its requests), so that the update's time is its own and the
    /// clock is read once.
    ///
    /// # Errors
    /// As [`update`](Self::update).
    #[inline]
    pub fn update_stamped(&mut self, status: &[u8], at: Stamp) -> Result<()> {
        if fork::generation() != self.generation {
            return Err(self.forked());
        }
        self.write_stamped(status, at.as_ns())
    }

    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn write_stamped(&mut self, status: &[u8], mono_ns: u64) -> Result<()> {
        debug_assert_eq!(fork::generation(), self.generation);
        let len = status.len() as u64;
        let next = self.state.next();
        if len > self.state.region(next).1 {
            self.grow(next, len)?;
        }
        protocol::write(&self.map.writable(), &mut self.state, status, mono_ns);
        Ok(())
    }

    /// The error of an update on a handle inherited through `fork()`.
    #[cold]
    #[inline(never)]
    fn forked(&self) -> Error {
        Error::forked(self.path())
    }

    /// Gives copy `i` a new region of at least `need` bytes at the end of the
    /// file. Readers keep reading the published copy meanwhile; the region is
    /// only used once the update that fills it is published.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, i: usize, need: u64) -> Result<()> {
        if need > MAX_CAP {
            return Err(Error::too_large(need, MAX_CAP, self.path()));
        }
        let mut cap = page_round(need.max(self.state.region(i).1.saturating_mul(2))).min(MAX_CAP);
        let off = self.file_len;
        let io_err = |e: io::Error| self.dir.err(&self.name, e);
        // Under a file size limit, a region that would cross it is cut to
        // what is left below it, if that still holds the status (growing
        // past it would raise SIGXFSZ: `sys::allocate` refuses with EFBIG).
        let limit = sys::file_size_limit().map_err(io_err)?;
        if let Some(limit) = limit.filter(|&l| off.saturating_add(cap) > l) {
            let room = limit.saturating_sub(off) / PAGE * PAGE;
            if room < page_round(need) {
                return Err(
                    io_err(io::Error::from_raw_os_error(libc::EFBIG)).with_detail(format!(
                        "the process's file size limit (RLIMIT_FSIZE) is {limit} bytes"
                    )),
                );
            }
            cap = room;
        }
        sys::allocate(&self.file, off, cap).map_err(io_err)?;
        fault::point("grow:allocated");
        let grown = self.map.grow(off + cap);
        grown.map_err(io_err)?;
        fault::point("grow:mapped");
        self.file_len = off + cap;
        self.state.set_region(i, off, cap);
        Ok(())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if fork::generation() != self.generation {
            // Inherited: the descriptor already points at the placeholder, and
            // the file is the parent's to remove.
            return;
        }
        // We still hold the lock, so the name is ours: nobody else removes or
        // replaces a live file's name. An error leaves a file that is dead as
        // soon as the lock goes below, and the next read or cleanup removes it.
        let _ = sys::unlink(self.dir.fd(), &self.name);
        fault::point("drop:unlinked");
    }
}

/// Allocates a new file's first page, maps it through `for_map` and writes
/// its header.
///
/// `for_map` is the file opened again: an open file description of its own,
/// never the locked one `file`. A mapping keeps its description alive, and
/// after the process dies that reference can outlive it (another task reading
/// `/proc/PID/stat` or `maps` holds its memory for a moment, and the mapping
/// is torn down when that task lets go); the lock must go with the process's
/// descriptors.
fn init_file(file: &File, for_map: &File, id: &str) -> io::Result<(WriteMap, WriterState)> {
    sys::allocate(file, 0, INITIAL_FILE_LEN)?;
    let map = WriteMap::new(for_map, INITIAL_FILE_LEN)?;
    let state = WriterState::new();
    protocol::init(&map.writable(), &state);
    map.store_words(
        0,
        &StaticHeader::new(id, fork::pid(), (sys::wall_ns(), sys::mono_ns())).to_words(),
    );
    Ok((map, state))
}

/// A published, locked, mapped status file.
struct NewFile {
    file: Registered<File>,
    map: WriteMap,
    state: WriterState,
}

/// A temporary of this process, removed on every way out but publication.
/// Declared after its `File`, it is dropped (and the name removed) while the
/// file is still locked.
struct Temp<'a> {
    dir: &'a BaseDir,
    name: String,
    id: FileId,
    published: bool,
}

impl Drop for Temp<'_> {
    fn drop(&mut self) {
        if !self.published {
            self.dir.remove_own_temp(&self.name, self.id);
        }
    }
}

/// One attempt at publishing a new status file for `id` as `name`: a new
/// temporary, locked, initialised, then renamed. `Ok(None)`: a race was lost
/// (a cleaner took the temporary, the name changed hands); try again.
fn attempt(dir: &BaseDir, id: &str, name: &str) -> Result<Option<NewFile>> {
    // Registered as it is opened, before it is locked: no fork may hand the
    // child a reference to the description we lock.
    let (file, temp) = dir.new_temp()?;
    fault::point("create:temp");
    let meta = file.metadata().map_err(|e| dir.err(&temp, e))?;
    let mut temp = Temp {
        dir,
        name: temp,
        id: FileId::of(&meta),
        published: false,
    };
    match file.try_lock() {
        Ok(()) => {}
        // A cleaner found the temporary before we locked it and holds it to
        // remove it: start over.
        Err(TryLockError::WouldBlock) => return Ok(None),
        Err(TryLockError::Error(e)) => return Err(dir.err(&temp.name, e)),
    }
    fault::point("create:locked");
    // The temporary opened again, for the mapping (see `init_file`).
    let for_map = match sys::open_entry(dir.fd(), &temp.name, true) {
        Ok(f) => f,
        // A cleaner removed it just before we locked it: start over.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(dir.err(&temp.name, e)),
    };
    let meta = for_map.metadata().map_err(|e| dir.err(&temp.name, e))?;
    if FileId::of(&meta) != temp.id {
        // Removed, and the name taken by another process's temporary.
        return Ok(None);
    }
    let (map, state) = init_file(&file, &for_map, id).map_err(|e| dir.err(&temp.name, e))?;
    fault::point("create:header");
    match publish(dir, &temp.name, name, temp.id)? {
        Published::Yes => {
            fault::point("create:published");
            temp.published = true;
            Ok(Some(NewFile { file, map, state }))
        }
        Published::Taken => Err(Error::duplicate_id(id, dir.entry(name))),
        Published::Again => Ok(None),
    }
}

/// Moves the temporary to `name`, or over `name` when that file's worker is dead.
fn publish(dir: &BaseDir, temp: &str, name: &str, temp_id: FileId) -> Result<Published> {
    match sys::rename_noreplace(dir.fd(), temp, name) {
        Ok(()) => return Ok(Published::Yes),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        // The temporary was removed by a cleaner before we locked it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Published::Again),
        Err(e) => return Err(dir.err(name, e)),
    }
    // `name` exists. Take it over if its worker is dead.
    let old = match sys::open_entry(dir.fd(), name, false) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Published::Again),
        Err(e) => {
            return Err(dir
                .err(name, e)
                .with_detail("the id's name is taken by something else"));
        }
    };
    let meta = old.metadata().map_err(|e| dir.err(name, e))?;
    let not_ours = if !meta.is_file() {
        Some(Reason::NotARegularFile)
    } else if sys::uid_of(&meta) != sys::euid() {
        Some(Reason::OwnedByAnotherUser {
            uid: sys::uid_of(&meta),
        })
    } else {
        None
    };
    if let Some(why) = not_ours {
        return Err(Error::corrupt(dir.entry(name), why).with_detail(
            "the id's name is taken by an entry that is not this user's status file",
        ));
    }
    if !dir::is_dead(&old).map_err(|e| dir.err(name, e))? {
        return Ok(Published::Taken);
    }
    let Some(claim) = dir.claim(name, FileId::of(&meta))? else {
        return Ok(Published::Again);
    };
    fault::point("takeover:claimed");
    // Our temporary must still be ours (a cleaner may have removed it before
    // we locked it); then replace the dead file in one step.
    if sys::identity_at(dir.fd(), temp).ok() != Some(temp_id) {
        return Ok(Published::Again);
    }
    sys::rename_replace(dir.fd(), temp, name).map_err(|e| dir.err(name, e))?;
    drop(claim);
    Ok(Published::Yes)
}
