//! Where records come from: a parallel-scoreboard board, or a directory
//! written by Perl's `Parallel::Scoreboard`.
//!
//! `list`, `show` and `cleanup` open the board at once and fail on a missing
//! directory ([`Source::open`]); `serve` and `watch` may start before it
//! exists and wait for it ([`Source::wait`]): each read tries the open again
//! until it succeeds, and fails with [`is_missing`] errors meanwhile.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context as _, Result, bail};
use parallel_scoreboard::render::Record;
use parallel_scoreboard::{Builder, Cleanup, Error, ErrorKind, Reason, Scoreboard, Snapshot};

use crate::legacy::LegacyBoard;
use crate::text;

/// A board to read.
#[derive(Debug)]
pub(crate) struct Source {
    dir: PathBuf,
    legacy: bool,
    /// The board, once its directory has been there.
    opened: OnceLock<Opened>,
}

#[derive(Debug)]
// One per process: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Opened {
    /// A board of this library.
    Board(Scoreboard),
    /// A directory of the Perl module's `status_<id>` files.
    Legacy(LegacyBoard),
}

impl Source {
    /// Opens the board in `dir`, which must be an existing directory (the
    /// library would create a missing one; a monitor must not).
    pub(crate) fn open(dir: &Path, legacy: bool) -> Result<Self> {
        let source = Self::unopened(dir, legacy);
        source.opened()?;
        Ok(source)
    }

    /// The board in `dir`, opened now if the directory is there, else by the
    /// first read that finds it. Other failures to open (not a directory,
    /// not private) are reported now.
    pub(crate) fn wait(dir: &Path, legacy: bool) -> Result<Self> {
        let source = Self::unopened(dir, legacy);
        match source.opened() {
            Err(e) if is_missing(&e) => Ok(source),
            Err(e) => Err(e),
            Ok(_) => Ok(source),
        }
    }

    /// A board already opened (by `demo`, which makes it).
    pub(crate) fn of_board(board: Scoreboard) -> Self {
        let source = Self::unopened(board.base_dir(), false);
        let _ = source.opened.set(Opened::Board(board));
        source
    }

    fn unopened(dir: &Path, legacy: bool) -> Self {
        Self {
            dir: dir.to_path_buf(),
            legacy,
            opened: OnceLock::new(),
        }
    }

    /// The opened board, opening it if its directory is there now.
    fn opened(&self) -> Result<&Opened> {
        if let Some(opened) = self.opened.get() {
            return Ok(opened);
        }
        let dir = &self.dir;
        let meta = std::fs::metadata(dir).with_context(|| format!("{}", dir.display()))?;
        if !meta.is_dir() {
            bail!("{}: not a directory", dir.display());
        }
        let opened = if self.legacy {
            // Fail now, with a clear message, on a directory that cannot be
            // listed (the library says why for its own boards).
            std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))?;
            Opened::Legacy(LegacyBoard::new(dir))
        } else {
            // Never made by a monitor; once opened, the library follows the
            // path (a removed directory is `ErrorKind::Missing`, one made
            // again is read).
            let board = builder(dir)
                .create(false)
                .open()
                .with_context(|| format!("opening the board {}", dir.display()))?;
            Opened::Board(board)
        };
        // Only this process's one reader opens it: a lost race drops a copy.
        Ok(self.opened.get_or_init(|| opened))
    }

    /// Every live worker, sorted by id.
    pub(crate) fn read(&self) -> Result<Vec<Record>> {
        Ok(self.read_noting_skipped()?.0)
    }

    /// Every live worker, sorted by id, and a note on the entries of the
    /// directory that were skipped (not status files, corrupt, another
    /// user's), if any.
    pub(crate) fn read_noting_skipped(&self) -> Result<(Vec<Record>, Option<String>)> {
        let snapshot = match self.opened()? {
            Opened::Legacy(legacy) => return Ok((legacy.read()?, None)),
            Opened::Board(board) => {
                let mut snap = Snapshot::default();
                board.read_into(&mut snap)?;
                snap
            }
        };
        let note = skipped_note(&snapshot.skipped);
        // Moved, not copied: statuses can be large.
        let records = snapshot.workers.into_iter().map(Record::from).collect();
        Ok((records, note))
    }

    /// Removes dead workers' files; says how many, and which it could not.
    pub(crate) fn cleanup(&self) -> Result<Cleanup> {
        match self.opened()? {
            Opened::Board(board) => Ok(board.cleanup()?),
            Opened::Legacy(_) => bail!("cleanup of a legacy board is left to the Perl module"),
        }
    }

    /// What the board is, for titles.
    pub(crate) fn describe(&self) -> String {
        let legacy = if self.legacy { " (legacy)" } else { "" };
        format!("scoreboard {}{legacy}", self.dir.display())
    }
}

/// What a read skipped, as one line with control characters escaped:
/// `1 entry skipped (why)` (why the first by name was), or with the Perl
/// module's files (by their [`Reason`], which the library finds from their
/// name, owner and content) counted apart, `3 entries skipped: 2 are Perl
/// Parallel::Scoreboard status files, try --legacy; 1 other (why)`. `None`
/// when nothing was skipped.
fn skipped_note(skipped: &[Error]) -> Option<String> {
    let (perl, other): (Vec<&Error>, Vec<&Error>) = skipped
        .iter()
        .partition(|e| e.reason() == Some(&Reason::PerlStatusFile));
    let entries = count(skipped.len(), "entry", "entries");
    // The same one at every read, whatever order the entries came in.
    let first = other.iter().min_by_key(|e| e.path());
    let note = match (perl.len(), first) {
        (0, None) => return None,
        (0, Some(first)) => format!("{entries} skipped ({})", text::chain(*first)),
        (p, None) => format!("{entries} skipped: {}, try --legacy", perl_files(p)),
        (p, Some(first)) => format!(
            "{entries} skipped: {}, try --legacy; {} ({})",
            perl_files(p),
            count(other.len(), "other", "others"),
            text::chain(*first)
        ),
    };
    Some(text::printable(note.as_bytes(), usize::MAX))
}

/// `1 is a Perl …file`, `N are Perl …files`.
fn perl_files(n: usize) -> String {
    if n == 1 {
        "1 is a Perl Parallel::Scoreboard status file".to_owned()
    } else {
        format!("{n} are Perl Parallel::Scoreboard status files")
    }
}

/// `n` and the noun, singular for one.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The variable that turns the watch off for every board the command opens
/// (the library reads no environment variable; this tool passes it on).
const NO_WATCH_VAR: &str = "PARALLEL_SCOREBOARD_NO_WATCH";

/// The builder of every board the command opens: reads watch `dir` with
/// inotify, or list it at every read when [`NO_WATCH_VAR`] is set (to
/// anything but `0`).
pub(crate) fn builder(dir: &Path) -> Builder {
    let watch = std::env::var_os(NO_WATCH_VAR).is_none_or(|v| v == "0");
    Scoreboard::builder(dir).watch(watch)
}

/// Whether `e` says the board's directory is not there (now): an
/// [`ErrorKind::Missing`] of the library, or a `NotFound` on the way.
pub(crate) fn is_missing(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<parallel_scoreboard::Error>()
            .is_some_and(|e| e.kind() == ErrorKind::Missing)
            || c.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::NotFound)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_of_a_skipped_entry_tells_its_os_error() {
        let os = io::Error::from_raw_os_error(libc::EACCES);
        let text = os.to_string();
        let note = skipped_note(&[Error::from(os)]).expect("a note");
        assert_eq!(note, format!("1 entry skipped (I/O error: {text})"));
    }
}
