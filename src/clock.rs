//! [`Stamp`]: a time on the clock updates are stamped with.

use std::time::Duration;

use crate::sys;

/// A time on the clock every update is stamped with: the monotonic clock,
/// which never steps and which every process of the host shares.
///
/// [`Worker::update`](crate::Worker::update) reads it itself. A caller that
/// times something anyway (a server timing its requests) reads it once with
/// [`Stamp::now`] and passes it to
/// [`Worker::update_stamped`](crate::Worker::update_stamped), so that the
/// update's time and its own agree and the clock is read once.
///
/// ```
/// use parallel_scoreboard::{Scoreboard, Stamp};
/// # let dir = tempfile::tempdir()?;
/// let board = Scoreboard::open(dir.path())?;
/// let mut worker = board.worker_with_id("conn-1")?;
/// let started = Stamp::now();
/// worker.update_stamped(b"busy", started)?;
/// // ... the request runs ...
/// let ended = Stamp::now();
/// worker.update_stamped(b"idle", ended)?;
/// assert!(ended.saturating_duration_since(started) < std::time::Duration::from_secs(60));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    ns: u64,
}

impl Stamp {
    /// Now, to a kernel tick (1 to 4 ms): the coarse monotonic clock, read
    /// from the vDSO without a system call, as every update reads it.
    #[inline]
    #[must_use]
    pub fn now() -> Self {
        Self { ns: sys::mono_ns() }
    }

    /// Now, to the nanosecond, on the same clock (the coarse clock reads the
    /// value this one had at the last tick). Costs a few ns more than
    /// [`now`](Self::now).
    #[inline]
    #[must_use]
    pub fn precise_now() -> Self {
        Self {
            ns: sys::mono_precise_ns(),
        }
    }

    /// The time from `earlier` to `self`; zero if `earlier` is the later
    /// one.
    #[inline]
    #[must_use]
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.ns.saturating_sub(earlier.ns))
    }

    /// The time in ns of the monotonic clock, as stored in a status file.
    #[inline]
    pub(crate) fn as_ns(self) -> u64 {
        self.ns
    }
}
