//! Copying a mapped status out: retrying while the writer is mid-update, and
//! remapping when the worker grew its file.

use std::ffi::OsStr;
use std::io;
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;

use super::cache::Mapped;
use super::corrupt;
use crate::dir::BaseDir;
use crate::error::{Error, ErrorKind};
use crate::protocol::{self, Attempt};
use crate::shm::ReadMap;
use crate::sys::{self, FileId};

/// How long a reader keeps retrying a status that changes under it before it
/// reports the worker as busy. Only a writer that completes an update and starts
/// the next one during every single copy can cause this.
const BUSY_AFTER: Duration = Duration::from_secs(1);

/// Why a mapped status could not be copied.
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

/// Copies the published status of `m` into `buf`, following growth.
pub(super) fn read_status(
    dir: &BaseDir,
    name: &OsStr,
    m: &mut Mapped,
    buf: &mut Vec<u8>,
) -> Result<protocol::CopyMeta, Reread> {
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
            Attempt::NeedLen(need) => remap(dir, &text(), m, need)?,
            Attempt::Corrupt(why) => return Err(corrupt(dir, &text(), why).into()),
        }
    }
}

/// Maps `m`'s file again, now that its published copy needs `need` bytes: the
/// worker grew its file since it was mapped.
fn remap(dir: &BaseDir, text: &str, m: &mut Mapped, need: u64) -> Result<(), Reread> {
    let file = match sys::open_entry(dir.fd(), text, false) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Reread::Replaced),
        Err(e) => return Err(dir.err(text, e).into()),
    };
    let meta = file.metadata().map_err(|e| dir.err(text, e))?;
    if FileId::of(&meta) != m.file_id {
        return Err(Reread::Replaced);
    }
    // A mapping covers whole words only (a file whose size is not
    // a multiple of 8 is not one the library made).
    if meta.len() / 8 * 8 < need {
        return Err(corrupt(dir, text, "status extends beyond the end of the file").into());
    }
    m.map = ReadMap::new(&file, meta.len()).map_err(|e| dir.err(text, e))?;
    Ok(())
}
