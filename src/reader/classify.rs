//! Deciding what an entry of `base_dir` is — a live worker's status file, a
//! temporary being published, a dead worker's file (removed here), or
//! something to skip — and why it is skipped.

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;

use super::{ScanReport, corrupt};
use crate::dir::{self, BaseDir};
use crate::error::{Error, ErrorKind, OsClass, Reason};
use crate::id::{PREFIX, TMP_PREFIX};
use crate::layout::MAGIC;
use crate::sys::{self, FileId};

/// What an entry is, once looked at.
pub(super) enum Found<'a> {
    /// A live worker's status file named `text`, open.
    Live {
        text: &'a str,
        file: File,
        meta: Metadata,
    },
    /// A live temporary: a worker being published; not shown, never mapped.
    Publishing,
    /// Nothing to show: gone, or removed as dead.
    Gone,
}

/// Why an entry was skipped.
pub(super) enum Skip {
    /// Lasts until the entry changes (not a status file, corrupt, another
    /// user's): not looked at again until the watch reports it.
    Lasting(Error),
    /// May pass by itself (an OS error that is transient or out of
    /// resources, a status that did not settle): looked at again on the next
    /// read.
    Passing(Error),
}

impl From<Error> for Skip {
    fn from(e: Error) -> Self {
        // Transient or out of resources (see `OsClass`), or a status that
        // did not settle in time.
        let passing =
            e.kind() == ErrorKind::Unsettled || e.os_class().is_some_and(OsClass::may_pass);
        if passing {
            Skip::Passing(e)
        } else {
            Skip::Lasting(e)
        }
    }
}

/// Opens the entry `name` and says what it is; removes it if it is a dead
/// worker's file (counted in `report`). The files trusted are those of the
/// directory's owner; a reader that is not the owner removes nothing (a dead
/// worker's file is skipped, [`Reason::DeadLeftForOwner`]) and never opens a
/// temporary.
pub(super) fn classify<'a>(
    dir: &BaseDir,
    name: &'a OsStr,
    report: &mut ScanReport,
) -> Result<Found<'a>, Skip> {
    let owner = dir.owner();
    let temp = name.as_encoded_bytes().starts_with(TMP_PREFIX.as_bytes());
    if temp && !dir.is_owner() {
        // Never shown; its liveness is its owner's business (a shared lock
        // taken to test it could refuse its creator the exclusive one).
        return Ok(Found::Publishing);
    }
    let ours = temp || name.as_encoded_bytes().starts_with(PREFIX.as_bytes());
    let Some(text) = name.to_str().filter(|_| ours) else {
        // Not a status file name: skipped while it exists, never opened (it
        // may be a FIFO, a device, anything).
        return match sys::identity_at(dir.fd(), name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Found::Gone),
            _ => Err(Skip::Lasting(foreign(dir, name))),
        };
    };
    let file = match sys::open_entry(dir.fd(), text, false) {
        Ok(f) => f,
        // Removed since it was reported or listed: a worker that left.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Gone),
        Err(e) => return Err(dir.err(text, e).into()),
    };
    let meta = file.metadata().map_err(|e| dir.err(text, e))?;
    if !meta.is_file() {
        return Err(Skip::Lasting(corrupt(dir, text, Reason::NotARegularFile)));
    }
    if meta.uid() != owner {
        let uid = meta.uid();
        return Err(Skip::Lasting(corrupt(
            dir,
            text,
            Reason::OwnedByAnotherUser { uid },
        )));
    }
    if !dir.is_owner() {
        if dir::is_dead_unlocked(&file).map_err(|e| dir.err(text, e))? {
            // As `remove_dead` tells them apart for the owner.
            let why = if has_magic(&file) {
                Reason::DeadLeftForOwner { uid: owner }
            } else {
                Reason::UnlockedWithoutHeader
            };
            return Err(Skip::Lasting(corrupt(dir, text, why)));
        }
        return Ok(Found::Live { text, file, meta });
    }
    if dir::is_dead(&file).map_err(|e| dir.err(text, e))? {
        remove_dead(dir, text, &file, FileId::of(&meta), temp, report)?;
        return Ok(Found::Gone);
    }
    if temp {
        return Ok(Found::Publishing);
    }
    Ok(Found::Live { text, file, meta })
}

/// Removes the dead worker's file `file`, named `text` (a temporary if `temp`).
fn remove_dead(
    dir: &BaseDir,
    text: &str,
    file: &File,
    file_id: FileId,
    temp: bool,
    report: &mut ScanReport,
) -> Result<(), Skip> {
    // A dead status file always has its magic (written before it was
    // named); anything else with our prefix is not ours to remove.
    // Temporaries are ours whatever they hold: their creator may have
    // died before writing anything.
    if !temp && !has_magic(file) {
        return Err(Skip::Lasting(corrupt(
            dir,
            text,
            Reason::UnlockedWithoutHeader,
        )));
    }
    // `file` keeps its shared lock until the removal is done.
    match dir.remove_dead(text, file_id) {
        Ok(true) => report.removed += 1,
        Ok(false) => {}
        Err(e) => {
            return Err(match Skip::from(e) {
                // A read-only mount, no permission: told to cleanup's caller
                // and in every snapshot until the entry changes.
                Skip::Lasting(e) => {
                    let e = e.with_detail("a dead worker's file could not be removed");
                    report.unremoved.push(e.clone());
                    Skip::Lasting(e)
                }
                passing @ Skip::Passing(_) => passing,
            });
        }
    }
    Ok(())
}

/// Whether `file` starts with a status file's magic.
fn has_magic(file: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let mut word = [0u8; 8];
    file.read_exact_at(&mut word, 0).is_ok() && u64::from_le_bytes(word) == MAGIC
}

/// An entry whose name is not a status file's.
#[cold]
fn foreign(dir: &BaseDir, name: &OsStr) -> Error {
    corrupt(dir, &name.to_string_lossy(), Reason::NotAStatusFileName)
}
