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

/// Copies the published status of `m` into `buf`, following growth; a status
/// that does not settle within the read's `patience` is `Busy`; one there is
/// no memory for fails with `ENOMEM` (never an abort).
///
/// The common case, a status copied at the first attempt, is inlined into
/// the read's loop; everything else is out of line.
#[inline]
pub(super) fn read_status(
    dir: &BaseDir,
    name: &OsStr,
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

/// [`read_status`] after a first attempt that did not copy the status.
#[cold]
#[inline(never)]
fn settle(
    dir: &BaseDir,
    name: &OsStr,
    m: &mut Mapped,
    buf: &mut Vec<u8>,
    patience: &mut Patience,
    mut attempt: Attempt,
) -> Result<protocol::CopyMeta, Reread> {
    let backoff = Backoff::new();
    let mut late = 0;
    let text = || name.to_string_lossy();
    loop {
        match attempt {
            Attempt::Done(meta) => {
                m.last = Some((meta.copy, meta.off));
                return Ok(meta);
            }
            Attempt::Retry if patience.spent() => {
                late += 1;
                if late > LATE_ATTEMPTS {
                    return Err(Error::new(ErrorKind::Busy)
                        .with_detail("the status kept changing during this read")
                        .with_path(dir.entry(&text()))
                        .into());
                }
                backoff.spin();
            }
            Attempt::Retry => {
                if backoff.is_completed() {
                    patience.start();
                }
                backoff.snooze();
            }
            Attempt::NeedLen(need) => remap(dir, &text(), m, need)?,
            Attempt::Corrupt(why) => return Err(corrupt(dir, &text(), why).into()),
            Attempt::NoMemory(len) => {
                return Err(Error::io(io::Error::from_raw_os_error(libc::ENOMEM))
                    .with_detail(format!("no memory for its {len}-byte status"))
                    .with_path(dir.entry(&text()))
                    .into());
            }
        }
        attempt = protocol::read_attempt(&m.map, buf);
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
