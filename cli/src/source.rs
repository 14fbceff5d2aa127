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
use parallel_scoreboard::{Cleanup, ErrorKind, Scoreboard};

use crate::legacy::LegacyBoard;

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
        // Fail now, with a clear message, on a directory that cannot be listed.
        std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))?;
        let opened = if self.legacy {
            Opened::Legacy(LegacyBoard::new(dir))
        } else {
            // The directory is there, so this does not create it (unless it
            // is removed in between: `Builder::create(false)` will close that
            // window).
            let board = Scoreboard::open(dir)
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
            Opened::Board(board) => board.snapshot()?,
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
