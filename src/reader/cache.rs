//! The reader's mappings of live workers' files, kept between reads: a
//! mapping, never a descriptor, so 10,000 workers cost no descriptors. A file
//! is mapped once, when first found live, and its header checked then (see
//! [`check_header`]).
//!
//! Mappings are kept within a budget: a process may have only
//! `vm.max_map_count` mappings (65,530 by default), and once it has them all
//! every `mmap` fails, the allocator's included, which aborts the process. So
//! the readers of a process keep, all together, at most the process's budget
//! ([`budget`]) of mappings, and each reader at most what
//! [`Builder::max_mappings`](crate::Builder::max_mappings) says; the files
//! found beyond it are kept *unmapped*: their header is checked once (through
//! a mapping dropped at once), and each read opens the file, maps it, copies
//! the status and drops the mapping and the descriptor. A mapping that fails
//! with `ENOMEM` lowers the budget to the mappings kept so far. A kept mapping
//! freed by a worker's exit (or by another reader) goes to the next unmapped
//! file a read copies.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io;

use super::Skip;
use super::budget;
use super::corrupt;
use super::header::check_header;
use super::pread::{self, Pread};
use super::reopen::{Reread, reopen};
use crate::dir::BaseDir;
use crate::error::{Error, OsClass, Reason};
use crate::layout::{self, HEADER_LEN};
use crate::shm::{self, ReadMap, Words};
use crate::sys::FileId;

/// A live worker's status file mapped by this reader, with its static header.
#[derive(Debug)]
pub(super) struct Mapped {
    pub(super) file_id: FileId,
    pub(super) map: ReadMap,
    pub(super) id: String,
    pub(super) pid: u32,
    pub(super) started_ns: u64,
    /// Where the last copy was found: which copy, and its payload's offset
    /// (`None` before the first).
    pub(super) last: Option<(usize, u64)>,
    /// The listing that last saw it.
    seen: u64,
}

/// Where a read is about to look in one worker's file, as plain addresses:
/// the prefetch hints a read gives for the worker a few places ahead of the
/// one it copies. Taken from the last read (the workers rarely change between
/// two reads; when they do, a hint is only a wasted prefetch).
#[derive(Clone, Copy, Debug, Default)]
struct Ahead {
    /// `published`'s line (0: the file was not mapped: no hints).
    published: usize,
    /// The line of the descriptor of the copy the last read took.
    desc: usize,
    /// That copy's payload.
    payload: usize,
    /// The id's bytes, which the visitor copies.
    id: usize,
    /// The [`Mapped`] itself, in the cache's map.
    entry: usize,
}

impl Ahead {
    /// How many workers ahead of the one being copied to prefetch: far enough
    /// for memory to answer in time, near enough for the lines to stay cached.
    const DISTANCE: usize = 8;
    /// How much of a payload to prefetch: the CPU's own prefetcher follows a
    /// longer copy once it has started.
    const PAYLOAD: usize = 256;

    fn of(m: &Mapped) -> Self {
        let (copy, off) = m.last.unwrap_or((0, HEADER_LEN));
        let base = m.map.base() as usize;
        Self {
            published: base + layout::PUBLISHED * 8,
            desc: base + layout::desc(copy) * 8,
            payload: base.wrapping_add(off as usize),
            id: m.id.as_ptr() as usize,
            entry: std::ptr::from_ref(m) as usize,
        }
    }

    #[inline]
    fn prefetch(&self) {
        if self.published != 0 {
            shm::prefetch(self.published);
            shm::prefetch(self.desc);
            shm::prefetch(self.id);
            shm::prefetch(self.entry);
            shm::prefetch(self.entry + 64);
            for line in (0..Self::PAYLOAD).step_by(64) {
                shm::prefetch(self.payload.wrapping_add(line));
            }
        }
    }
}

/// A live worker's file kept beyond the budget: its header, no mapping.
#[derive(Debug)]
struct Unmapped {
    file_id: FileId,
    id: String,
    pid: u32,
    started_ns: u64,
    seen: u64,
}

/// One live worker's file, mapped or not.
#[derive(Debug)]
enum Kept {
    Mapped(Mapped),
    Unmapped(Unmapped),
    /// Another user's file (the board's owner's, read by root or a member of
    /// its group): never mapped, read with `pread` (see [`super::pread`]).
    Foreign(Unmapped),
}

/// A kept file, ready for one copy.
pub(super) enum Lent<'a> {
    /// Mapped (kept so, or for this copy only).
    Mapped(&'a mut Mapped),
    /// Another user's, open for this copy.
    Foreign {
        id: &'a str,
        pid: u32,
        started_ns: u64,
        src: Pread,
    },
}

impl Kept {
    fn file_id(&self) -> FileId {
        match self {
            Kept::Mapped(m) => m.file_id,
            Kept::Unmapped(u) | Kept::Foreign(u) => u.file_id,
        }
    }

    fn seen(&mut self) -> &mut u64 {
        match self {
            Kept::Mapped(m) => &mut m.seen,
            Kept::Unmapped(u) | Kept::Foreign(u) => &mut u.seen,
        }
    }

    fn is_mapped(&self) -> bool {
        matches!(self, Kept::Mapped(_))
    }
}

/// Live workers' files, by entry name. Ordered: names follow ids, so reads
/// visit workers roughly in id order, which makes the callers' sorted inserts
/// cheap.
///
/// A kept name is a `str`: `classify` passes on only names that are UTF-8,
/// and the header check only those that are their id's
/// [`file_name`](crate::id::file_name), which is ASCII; so one string is both
/// the name opened and the text of messages, and nothing is converted back.
#[derive(Debug)]
pub(super) struct Cache {
    files: BTreeMap<String, Kept>,
    /// How many of `files` are mapped.
    mapped: usize,
    /// The most mappings the builder allows (`None`: no limit of its own),
    /// within the process's budget ([`budget`]).
    asked: Option<usize>,
    /// The last read's prefetch hints, in the order it visited the files.
    ahead: Vec<Ahead>,
}

impl Cache {
    /// A cache that keeps at most `asked` mappings, and never more than the
    /// process's budget leaves.
    pub(super) fn new(asked: Option<usize>) -> Self {
        Self {
            files: BTreeMap::new(),
            mapped: 0,
            asked,
            ahead: Vec::new(),
        }
    }

    /// Forgets every file.
    pub(super) fn clear(&mut self) {
        self.files.clear();
        budget::give(std::mem::take(&mut self.mapped));
    }

    /// Takes a mapping from this cache's and the process's budgets, if both
    /// have room; the caller counts it in `mapped` or gives it back.
    fn claim(&self) -> bool {
        self.mapped < self.asked.unwrap_or(usize::MAX) && budget::take()
    }

    /// Keeps the live status file `file`, named `name`: maps it if it is
    /// new, replaced the one kept or shrank below the mapping (within the
    /// budget, or else only checks its header), and records that listing
    /// `listing` saw it.
    pub(super) fn keep(
        &mut self,
        dir: &BaseDir,
        name: &str,
        file: &File,
        meta: &Metadata,
        listing: u64,
    ) -> Result<(), Skip> {
        let file_id = FileId::of(meta);
        if let Some(kept) = self.files.get_mut(name) {
            if kept.file_id() == file_id {
                *kept.seen() = listing;
                let shrank = matches!(kept, Kept::Mapped(m)
                    if meta.len() < m.map.len_words() as u64 * 8);
                if !shrank {
                    return Ok(());
                }
                // Truncated under our mapping (the library never shrinks a
                // file: another process of this user did): a copy from the
                // pages past the new end would fault (SIGBUS). Map it again
                // at its new size, which checks it afresh. (A file kept
                // unmapped is mapped at its size of the moment for each copy.)
            }
            self.remove(name.as_ref());
        }
        let kept = if dir.is_owner() {
            self.first_look(dir, name, file, meta.len(), file_id, listing)?
        } else {
            first_look_foreign(dir, name, file, meta.len(), file_id, listing)?
        };
        debug_assert!(name.is_ascii(), "the header check passed {name:?}");
        self.mapped += usize::from(kept.is_mapped());
        self.files.insert(name.to_owned(), kept);
        Ok(())
    }

    /// Checks the header of a file not kept yet, and maps it if the budget
    /// allows.
    fn first_look(
        &mut self,
        dir: &BaseDir,
        text: &str,
        file: &File,
        size: u64,
        file_id: FileId,
        seen: u64,
    ) -> Result<Kept, Skip> {
        if size < HEADER_LEN {
            return Err(Skip::Lasting(corrupt(dir, text, Reason::ShortHeader)));
        }
        if self.claim() {
            let kept = match ReadMap::new(file, size) {
                Ok(map) => checked(dir, text, map, file_id, seen).map(Kept::Mapped),
                Err(e) => Err(dir.err(text, e).into()),
            };
            match kept {
                Ok(kept) => return Ok(kept),
                Err(Skip::Passing(e)) if is_no_memory(&e) => {
                    // Out of mappings: keep no more than now.
                    budget::give(1);
                    budget::exhausted();
                }
                Err(skip) => {
                    budget::give(1);
                    return Err(skip);
                }
            }
        }
        let map = ReadMap::new(file, HEADER_LEN).map_err(|e| dir.err(text, e))?;
        let m = checked(dir, text, map, file_id, seen)?;
        Ok(Kept::Unmapped(Unmapped {
            file_id,
            id: m.id,
            pid: m.pid,
            started_ns: m.started_ns,
            seen,
        }))
    }

    /// Drops the file `name`, if kept (a name that is not UTF-8 never is).
    pub(super) fn remove(&mut self, name: &OsStr) {
        let Some(name) = name.to_str() else {
            return;
        };
        if let Some(kept) = self.files.remove(name) {
            let n = usize::from(kept.is_mapped());
            self.mapped -= n;
            budget::give(n);
        }
    }

    /// Drops the files listing `listing` did not see.
    pub(super) fn retain_seen(&mut self, listing: u64) {
        let mut dropped = 0;
        self.files.retain(|_, kept| {
            let keep = *kept.seen() == listing;
            if !keep {
                dropped += usize::from(kept.is_mapped());
            }
            keep
        });
        self.mapped -= dropped;
        budget::give(dropped);
    }

    /// How many files are kept.
    pub(super) fn len(&self) -> usize {
        self.files.len()
    }

    /// Calls `f` with every file kept, in name order, and a mapping of it:
    /// the kept one, or for an unmapped file one made for the call (kept
    /// after it if the budget has room again, dropped otherwise); another
    /// user's file is opened for the call instead. `Err` when an unmapped or
    /// another user's file could not be opened or mapped:
    /// [`Reread::Replaced`] when its name leads to another file now, or to
    /// none.
    pub(super) fn each(
        &mut self,
        dir: &BaseDir,
        mut f: impl FnMut(&str, Result<Lent<'_>, Reread>),
    ) {
        let asked = self.asked.unwrap_or(usize::MAX);
        let ahead = &mut self.ahead;
        let mut k = 0;
        for (name, kept) in &mut self.files {
            if let Some(a) = ahead.get(k + Ahead::DISTANCE) {
                a.prefetch();
            }
            let hint = match kept {
                Kept::Mapped(m) => {
                    f(name, Ok(Lent::Mapped(m)));
                    Ahead::of(m)
                }
                Kept::Foreign(u) => {
                    match reopen(dir, name, u.file_id)
                        .and_then(|(file, meta)| Pread::new(dir, name, file, &meta))
                    {
                        Ok(src) => f(
                            name,
                            Ok(Lent::Foreign {
                                id: &u.id,
                                pid: u.pid,
                                started_ns: u.started_ns,
                                src,
                            }),
                        ),
                        Err(e) => f(name, Err(e)),
                    }
                    Ahead::default()
                }
                Kept::Unmapped(u) => match lend(dir, name, u) {
                    Err(e) => {
                        f(name, Err(e));
                        Ahead::default()
                    }
                    Ok(mut m) => {
                        f(name, Ok(Lent::Mapped(&mut m)));
                        if self.mapped < asked && budget::take() {
                            self.mapped += 1;
                            *kept = Kept::Mapped(m);
                        } else {
                            // The id goes back; the mapping and the
                            // descriptor are gone.
                            u.id = m.id;
                        }
                        Ahead::default()
                    }
                },
            };
            match ahead.get_mut(k) {
                Some(a) => *a = hint,
                None => ahead.push(hint),
            }
            k += 1;
        }
        ahead.truncate(k);
    }
}

/// Checks the header read through `map` of the file `text`.
fn checked(
    dir: &BaseDir,
    text: &str,
    map: ReadMap,
    file_id: FileId,
    seen: u64,
) -> Result<Mapped, Skip> {
    match check_header(&map, text) {
        Ok(h) => Ok(Mapped {
            file_id,
            map,
            id: h.id,
            pid: h.pid,
            started_ns: h.started_ns,
            last: None,
            seen,
        }),
        Err(why) => Err(Skip::Lasting(corrupt(dir, text, why))),
    }
}

/// Checks the header of another user's file `file` (named `text`, `size`
/// bytes long) with `pread`, and keeps it unmapped.
fn first_look_foreign(
    dir: &BaseDir,
    text: &str,
    file: &File,
    size: u64,
    file_id: FileId,
    seen: u64,
) -> Result<Kept, Skip> {
    if size < HEADER_LEN {
        return Err(Skip::Lasting(corrupt(dir, text, Reason::ShortHeader)));
    }
    let h = match pread::check_header(dir, text, file, size) {
        Ok(h) => h,
        Err(Reread::Failed(e)) => return Err(e.into()),
        // Not returned for a file already open; a name that moved on is
        // looked at again when the watch reports it.
        Err(Reread::Replaced) => {
            return Err(Skip::Passing(corrupt(dir, text, Reason::Shrank)));
        }
    };
    Ok(Kept::Foreign(Unmapped {
        file_id,
        id: h.id,
        pid: h.pid,
        started_ns: h.started_ns,
        seen,
    }))
}

/// Maps the unmapped file `u`, named `name`, for one copy: opens it (the
/// descriptor is closed on return), checks that the name still leads to the
/// file kept, and maps all of it. Its id is moved into the mapping (and given
/// back by the caller).
fn lend(dir: &BaseDir, name: &str, u: &mut Unmapped) -> Result<Mapped, Reread> {
    let (file, meta) = reopen(dir, name, u.file_id)?;
    let map = ReadMap::new(&file, meta.len()).map_err(|e| dir.err(name, e))?;
    Ok(Mapped {
        file_id: u.file_id,
        map,
        id: std::mem::take(&mut u.id),
        pid: u.pid,
        started_ns: u.started_ns,
        last: None,
        seen: u.seen,
    })
}

/// Whether `e` says a resource ran out (descriptors, memory, mappings): the
/// read that met it fails rather than leave a live worker out.
pub(super) fn is_exhaustion(e: &Error) -> bool {
    e.os_class() == Some(OsClass::OutOfResources)
}

/// Whether `e` says that memory (or mappings) ran out.
fn is_no_memory(e: &Error) -> bool {
    e.io_error().and_then(io::Error::raw_os_error) == Some(libc::ENOMEM)
}

impl Drop for Cache {
    fn drop(&mut self) {
        budget::give(self.mapped);
    }
}
