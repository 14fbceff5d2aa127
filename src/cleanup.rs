//! What [`Scoreboard::cleanup`](crate::Scoreboard::cleanup) did.

use crate::error::Error;

/// The dead workers' files a cleanup removed, and those it could not remove.
///
/// # Examples
/// ```
/// use parallel_scoreboard::Scoreboard;
/// # let dir = tempfile::tempdir()?;
/// let board = Scoreboard::open(dir.path())?;
/// let done = board.cleanup()?;
/// for e in &done.failed {
///     eprintln!("left behind: {e}");
/// }
/// assert_eq!((done.removed, done.failed.len()), (0, 0));
/// # Ok::<(), parallel_scoreboard::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Cleanup {
    /// Files of dead workers (and abandoned temporaries) removed.
    pub removed: usize,
    /// Dead workers' files that could not be removed (a read-only mount, no
    /// permission), each with its path and the OS error.
    pub failed: Vec<Error>,
}

impl Cleanup {
    /// Whether every dead worker's file found was removed.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}
