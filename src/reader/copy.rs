//! Copying a mapped status out: retrying while the writer is mid-update, and
//! remapping when the worker grew its file.

use std::io;
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;

use super::cache::Mapped;
use super::corrupt;
use super::pread::Pread;
use super::reopen::{Reread, reopen};
use crate::dir::BaseDir;
use crate::error::{Error, Reason};
use crate::protocol::{self, Attempt};
use crate::shm::ReadMap;

/// How long one read waits, all statuses together, for statuses that keep
/// changing under it, unless the builder says otherwise.
pub(crate) const SETTLE_TIMEOUT: Duration = Duration::from_millis(100);

/// Attempts a status still gets once the read's time is spent: a few
/// spinning retries (no yield, no sleep) for a writer that is just finishing.
const LATE_ATTEMPTS: u32 = 8;

/// One read's time for statuses that do not settle: the clock starts when the
/// first status has used up its quick back-off (spinning, then yielding), and
/// once it has run out each further unsettled status gets only
/// [`LATE_ATTEMPTS`] spins. So a read spends at most about `budget` on all
/// its unsettled statuses together, however many there are.
#[derive(Debug)]
pub(super) struct Patience {
    budget: Duration,
    until: Option<Instant>,
}

impl Patience {
    pub(super) fn new(budget: Duration) -> Self {
        Self {
            budget,
            until: None,
        }
    }

    /// Starts the clock, if not started yet.
    fn start(&mut self) {
        if self.until.is_none() {
            self.until = Some(Instant::now() + self.budget);
        }
    }

    /// Whether the read's time is spent.
    fn spent(&self) -> bool {
        self.until.is_some_and(|until| Instant::now() >= until)
    }
}

/// Copies the published status of `m` into `buf`, following growth; a status
/// that does not settle within the read's `patience` is `Unsettled`; one there is
/// no memory for fails with `ENOMEM` (never an abort).
///
/// The common case, a status copied at the first attempt, is inlined into
/// the read's loop; everything else is out of line.
#[inline]
pub(super) fn read_status(
    dir: &BaseDir,
    name: &str,
    m: &mut Mapped,
    buf: &mut Vec<u8>,
    patience: &mut Patience,
) -> Result<protocol::CopyMeta, Reread> {
    match protocol::read_attempt(&m.map, buf) {
        Attempt::Done(meta) => {
            m.last = Some((meta.copy, meta.off));
            Ok(meta)
        }
        first => settle(dir, name, m, buf, patience, first),
    }
}

/// Copies the published status of another user's file, read with `pread`
/// (see [`pread`](super::pread)), into `buf`, as [`read_status`] does.
pub(super) fn read_foreign(
    dir: &BaseDir,
    name: &str,
    src: &mut Pread,
    buf: &mut Vec<u8>,
    patience: &mut Patience,
) -> Result<protocol::CopyMeta, Reread> {
    match src.attempt(dir, name, buf)? {
        Attempt::Done(meta) => Ok(meta),
        first => settle(dir, name, src, buf, patience, first),
    }
}

/// Where a status is copied from: a kept mapping, or another user's file
/// read with `pread`. Both run the protocol's one reader.
trait Source {
    /// One attempt at copying the published status into `buf`.
    fn attempt(&mut self, dir: &BaseDir, text: &str, buf: &mut Vec<u8>) -> Result<Attempt, Reread>;
    /// Follows the file's growth: its published copy needs `need` bytes.
    fn grow(&mut self, dir: &BaseDir, text: &str, need: u64) -> Result<(), Reread>;
    /// Records where the copy was found.
    fn found(&mut self, meta: &protocol::CopyMeta);
}

impl Source for Mapped {
    fn attempt(&mut self, _: &BaseDir, _: &str, buf: &mut Vec<u8>) -> Result<Attempt, Reread> {
        Ok(protocol::read_attempt(&self.map, buf))
    }
    fn grow(&mut self, dir: &BaseDir, text: &str, need: u64) -> Result<(), Reread> {
        remap(dir, text, self, need)
    }
    fn found(&mut self, meta: &protocol::CopyMeta) {
        self.last = Some((meta.copy, meta.off));
    }
}

impl Source for Pread {
    fn attempt(&mut self, dir: &BaseDir, text: &str, buf: &mut Vec<u8>) -> Result<Attempt, Reread> {
        Pread::attempt(self, dir, text, buf)
    }
    fn grow(&mut self, dir: &BaseDir, text: &str, need: u64) -> Result<(), Reread> {
        Pread::grow(self, dir, text, need)
    }
    fn found(&mut self, _: &protocol::CopyMeta) {}
}

/// [`read_status`] (or [`read_foreign`]) after a first attempt that did not
/// copy the status.
#[cold]
#[inline(never)]
fn settle(
    dir: &BaseDir,
    name: &str,
    src: &mut impl Source,
    buf: &mut Vec<u8>,
    patience: &mut Patience,
    mut attempt: Attempt,
) -> Result<protocol::CopyMeta, Reread> {
    let backoff = Backoff::new();
    let mut late = 0;
    loop {
        match attempt {
            Attempt::Done(meta) => {
                src.found(&meta);
                return Ok(meta);
            }
            Attempt::Retry if patience.spent() => {
                late += 1;
                if late > LATE_ATTEMPTS {
                    return Err(Error::unsettled(dir.entry(name)).into());
                }
                backoff.spin();
            }
            Attempt::Retry => {
                if backoff.is_completed() {
                    patience.start();
                }
                backoff.snooze();
            }
            Attempt::NeedLen(need) => src.grow(dir, name, need)?,
            Attempt::Corrupt(why) => return Err(corrupt(dir, name, why).into()),
            Attempt::NoMemory(len) => {
                return Err(dir
                    .err(name, io::Error::from_raw_os_error(libc::ENOMEM))
                    .with_detail(format!("no memory for its {len}-byte status"))
                    .into());
            }
        }
        attempt = src.attempt(dir, name, buf)?;
    }
}

/// Maps `m`'s file again, now that its published copy needs `need` bytes: the
/// worker grew its file since it was mapped.
fn remap(dir: &BaseDir, text: &str, m: &mut Mapped, need: u64) -> Result<(), Reread> {
    let (file, meta) = reopen(dir, text, m.file_id)?;
    // A mapping covers whole words only (a file whose size is not
    // a multiple of 8 is not one the library made).
    if meta.len() / 8 * 8 < need {
        return Err(corrupt(dir, text, Reason::BeyondEndOfFile).into());
    }
    m.map = ReadMap::new(&file, meta.len()).map_err(|e| dir.err(text, e))?;
    Ok(())
}
