//! Where records come from: a parallel-scoreboard board, or a directory
//! written by Perl's `Parallel::Scoreboard`.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use parallel_scoreboard::render::{self, Record};
use parallel_scoreboard::{Cleanup, Scoreboard};

use crate::legacy::LegacyBoard;

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
        let note = snapshot.skipped.first().map(|first| {
            let perl = snapshot.skipped.iter().any(|e| {
                e.path()
                    .and_then(|p| p.file_name())
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("status_"))
            });
            let n = snapshot.skipped.len();
            if perl {
                format!("{n} entries skipped: status_* files are the Perl module's, try --legacy")
            } else {
                format!("{n} entries skipped ({first})")
            }
        });
        Ok((render::records(&snapshot), note))
    }

    /// Removes dead workers' files; says how many, and which it could not.
    pub(crate) fn cleanup(&self) -> Result<Cleanup> {
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
