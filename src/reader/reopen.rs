//! Finding a kept file again by its name: for a copy of a file kept
//! unmapped, another user's file, or one that grew.

use std::fs::{File, Metadata};
use std::io;

use crate::dir::BaseDir;
use crate::error::Error;
use crate::sys::{self, FileId};

/// Why a kept file's status could not be copied.
pub(super) enum Reread {
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

/// Opens the entry `text` again, and its metadata, if it is still the file
/// `file_id` kept; [`Reread::Replaced`] if the name now leads elsewhere (or
/// nowhere: its worker died and another took the id during this read).
pub(super) fn reopen(
    dir: &BaseDir,
    text: &str,
    file_id: FileId,
) -> Result<(File, Metadata), Reread> {
    let file = match sys::open_entry(dir.fd(), text, false) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Reread::Replaced),
        Err(e) => return Err(dir.err(text, e).into()),
    };
    let meta = file.metadata().map_err(|e| dir.err(text, e))?;
    if FileId::of(&meta) != file_id {
        return Err(Reread::Replaced);
    }
    Ok((file, meta))
}
