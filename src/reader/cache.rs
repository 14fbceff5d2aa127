//! The reader's mappings of live workers' files, kept between reads: a
//! mapping, never a descriptor, so 10,000 workers cost no descriptors. A file
//! is mapped once, when first found live, and its header checked then (see
//! [`check_header`]).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry as MapEntry;
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};

use super::Skip;
use super::corrupt;
use crate::dir::BaseDir;
use crate::layout::{HEADER_LEN, check_header};
use crate::protocol::Words;
use crate::shm::ReadMap;
use crate::sys::FileId;

/// A live worker's status file mapped by this reader, with its static header.
#[derive(Debug)]
pub(super) struct Mapped {
    pub(super) file_id: FileId,
    pub(super) map: ReadMap,
    pub(super) id: String,
    pub(super) pid: u32,
    pub(super) started_ns: u64,
    /// The listing that last saw it.
    seen: u64,
}

/// Live workers' files, by entry name. Ordered: names follow ids, so reads
/// visit workers roughly in id order, which makes the callers' sorted inserts
/// cheap.
#[derive(Debug, Default)]
pub(super) struct Cache {
    maps: BTreeMap<OsString, Mapped>,
}

impl Cache {
    /// Keeps the live status file `file` (named `name`, which is `text`)
    /// mapped: maps it if it is new, replaced the one mapped or shrank below
    /// the mapping, and records that listing `listing` saw it.
    pub(super) fn keep(
        &mut self,
        dir: &BaseDir,
        name: &OsStr,
        text: &str,
        file: &File,
        meta: &Metadata,
        listing: u64,
    ) -> Result<(), Skip> {
        let file_id = FileId::of(meta);
        match self.maps.entry(name.to_owned()) {
            MapEntry::Occupied(mut o) if o.get().file_id == file_id => {
                let m = o.get_mut();
                m.seen = listing;
                if meta.len() < m.map.len_words() as u64 * 8 {
                    // Truncated under our mapping (the library never shrinks a
                    // file: another process of this user did): a copy from
                    // the pages past the new end would fault (SIGBUS). Map it
                    // again at its new size, which checks it afresh.
                    *m = map_new(dir, text, file, meta.len(), file_id, listing)?;
                }
            }
            MapEntry::Occupied(mut o) => {
                *o.get_mut() = map_new(dir, text, file, meta.len(), file_id, listing)?;
            }
            MapEntry::Vacant(v) => {
                v.insert(map_new(dir, text, file, meta.len(), file_id, listing)?);
            }
        }
        Ok(())
    }

    /// Drops the mapping of `name`, if any.
    pub(super) fn remove(&mut self, name: &OsStr) {
        self.maps.remove(name);
    }

    /// Drops the mappings listing `listing` did not see.
    pub(super) fn retain_seen(&mut self, listing: u64) {
        self.maps.retain(|_, m| m.seen == listing);
    }

    /// Every mapping, in name order.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&OsString, &mut Mapped)> {
        self.maps.iter_mut()
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
) -> Result<Mapped, Skip> {
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
