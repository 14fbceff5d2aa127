//! Where records come from: a parallel-scoreboard board, or a directory
//! written by Perl's `Parallel::Scoreboard`.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use parallel_scoreboard::render::{self, Record};
use parallel_scoreboard::{Error, Scoreboard};

use crate::legacy::LegacyBoard;
use crate::text;

/// A board to read.
#[derive(Debug)]
// One `Source` per process: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Source {
    /// A board of this library.
    Board(Scoreboard),
    /// A directory of the Perl module's `status_<id>` files.
    Legacy(LegacyBoard),
}

impl Source {
    /// Opens the board in `dir`, which must be an existing directory (the
    /// library would create a missing one; a monitor must not).
    pub(crate) fn open(dir: &Path, legacy: bool) -> Result<Self> {
        let meta = std::fs::metadata(dir).with_context(|| format!("{}", dir.display()))?;
        if !meta.is_dir() {
            bail!("{}: not a directory", dir.display());
        }
        // Fail now, with a clear message, on a directory that cannot be listed.
        std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))?;
        if legacy {
            return Ok(Self::Legacy(LegacyBoard::new(dir)));
        }
        let board = Scoreboard::open(dir)
            .with_context(|| format!("opening the board {}", dir.display()))?;
        Ok(Self::Board(board))
    }

    /// Every live worker, sorted by id.
    pub(crate) fn read(&self) -> Result<Vec<Record>> {
        Ok(self.read_noting_skipped()?.0)
    }

    /// Every live worker, sorted by id, and a note on the entries of the
    /// directory that were skipped (not status files, corrupt, another
    /// user's), if any.
    pub(crate) fn read_noting_skipped(&self) -> Result<(Vec<Record>, Option<String>)> {
        let snapshot = match self {
            Self::Legacy(legacy) => return Ok((legacy.read()?, None)),
            Self::Board(board) => board.snapshot()?,
        };
        let note = skipped_note(&snapshot.skipped);
        Ok((render::records(&snapshot), note))
    }

    /// Removes dead workers' files; returns how many.
    pub(crate) fn cleanup(&self) -> Result<usize> {
        match self {
            Self::Board(board) => Ok(board.cleanup()?),
            Self::Legacy(_) => bail!("cleanup of a legacy board is left to the Perl module"),
        }
    }

    /// What the board is, for titles.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Board(board) => format!("scoreboard {}", board.base_dir().display()),
            Self::Legacy(legacy) => format!("scoreboard {} (legacy)", legacy.dir().display()),
        }
    }
}

/// What a read skipped, as one line with control characters escaped:
/// `1 entry skipped (why)` (why the first by name was), or with the Perl module's files counted apart,
/// `3 entries skipped: 2 are Perl Parallel::Scoreboard status files, try
/// --legacy; 1 other (why)`. `None` when nothing was skipped.
fn skipped_note(skipped: &[Error]) -> Option<String> {
    let (perl, other): (Vec<&Error>, Vec<&Error>) = skipped
        .iter()
        .partition(|e| e.path().is_some_and(is_perl_file));
    let entries = count(skipped.len(), "entry", "entries");
    // The same one at every read, whatever order the entries came in.
    let first = other.iter().min_by_key(|e| e.path());
    let note = match (perl.len(), first) {
        (0, None) => return None,
        (0, Some(first)) => format!("{entries} skipped ({first})"),
        (p, None) => format!("{entries} skipped: {}, try --legacy", perl_files(p)),
        (p, Some(first)) => format!(
            "{entries} skipped: {}, try --legacy; {} ({first})",
            perl_files(p),
            count(other.len(), "other", "others")
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

/// Whether `path` is one of the Perl module's files: a regular file named
/// `status_<id>` (or its temporary, `status_<id>.tmp`).
fn is_perl_file(path: &Path) -> bool {
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("status_"))
        .is_some_and(|id| !id.is_empty());
    named && std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}
