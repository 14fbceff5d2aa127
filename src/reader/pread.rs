//! Reading another user's status file with `pread`: a copy that cannot
//! fault.
//!
//! A reader maps its own user's files (a warm read of them makes no system
//! call), but never another user's: the owner could truncate its file under
//! the mapping, and the next copy from the pages past the new end would kill
//! the reader with SIGBUS. Root and the members of a board's group read the
//! owner's files through [`FileWords`] instead: each load is a `pread`, and a
//! file that shrank makes a read short, which [`FileWords`] records and the
//! caller turns into a skip ([`Reason::Shrank`]).
//!
//! The words plug into the protocol's one reader
//! ([`protocol::read_attempt`]), so the seqlock's steps are the same code as
//! for a mapping: the published index, the copy's sequence word, the
//! descriptor (one `pread` for its five words, which step 3 loads as a run),
//! the payload (one `pread`), the sequence word again and the published index
//! again: six calls per status. Each `pread` is done before the next one
//! starts, and the protocol's Acquire fences between them order this CPU's
//! loads, the kernel's copies included (a task that moves to another CPU
//! passes a full barrier in the scheduler); what a `pread` copies is not read
//! atomically, which the sequence re-check covers as it does for the
//! payload's byte-wise copy from a mapping.

use std::cell::Cell;
use std::collections::TryReserveError;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::FileExt;

use super::corrupt;
use super::header::{self, Header};
use super::reopen::Reread;
use crate::dir::BaseDir;
use crate::error::Reason;
use crate::layout::{self, HEADER_LEN};
use crate::protocol::{self, Attempt};
use crate::shm::Words;

/// The words of a file, each load a `pread`. A read that comes up short
/// (the file shrank) or fails loads zeros and is recorded: the caller
/// discards what the loads made of it (see [`FileWords::fault`]).
pub(super) struct FileWords<'a> {
    file: &'a File,
    words: usize,
    fault: Cell<Option<io::Error>>,
}

impl<'a> FileWords<'a> {
    /// The first `len` bytes of `file`, in whole words.
    pub(super) fn new(file: &'a File, len: u64) -> Self {
        Self {
            file,
            words: usize::try_from(len / 8).unwrap_or(usize::MAX),
            fault: Cell::new(None),
        }
    }

    /// The first read that came up short (`UnexpectedEof`: the file shrank)
    /// or failed since the last call, if any.
    pub(super) fn fault(&self) -> Option<io::Error> {
        self.fault.take()
    }

    /// Reads `buf` from byte `off`, or zeros it and records why not.
    fn read(&self, buf: &mut [u8], off: usize) {
        if let Err(e) = self.file.read_exact_at(buf, off as u64) {
            buf.fill(0);
            let first = self.fault.take();
            self.fault.set(Some(first.unwrap_or(e)));
        }
    }
}

impl Words for FileWords<'_> {
    fn len_words(&self) -> usize {
        self.words
    }

    fn load(&self, i: usize) -> u64 {
        assert!(i < self.words, "word {i} of {}", self.words);
        let mut word = [0; 8];
        self.read(&mut word, i * 8);
        u64::from_le_bytes(word)
    }

    fn load_words(&self, first: usize, out: &mut [u64]) {
        assert!(
            first + out.len() <= self.words,
            "words {first}.. of {}",
            self.words
        );
        // The most a caller loads as a run: the static header.
        let mut buf = [0; layout::STATIC_WORDS * 8];
        let bytes = &mut buf[..out.len() * 8];
        self.read(bytes, first * 8);
        for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
            *word = u64::from_le_bytes(chunk.try_into().expect("chunks_exact(8)"));
        }
    }

    fn load_bytes(
        &self,
        first: usize,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), TryReserveError> {
        assert!(first * 8 + len <= self.words * 8, "bytes beyond the words");
        out.try_reserve(len)?;
        let start = out.len();
        out.resize(start + len, 0);
        self.read(&mut out[start..], first * 8);
        Ok(())
    }
}

/// Another user's live status file, open for one read.
#[derive(Debug)]
pub(super) struct Pread {
    file: File,
    len: u64,
}

impl Pread {
    /// The file `file` named `text`, of `meta`: [`Reason::Shrank`] when it
    /// no longer holds a header (it had one when it was first looked at).
    pub(super) fn new(
        dir: &BaseDir,
        text: &str,
        file: File,
        meta: &Metadata,
    ) -> Result<Self, Reread> {
        if meta.len() < HEADER_LEN {
            return Err(corrupt(dir, text, Reason::Shrank).into());
        }
        Ok(Self {
            len: meta.len(),
            file,
        })
    }

    /// One attempt at copying the published status into `buf`; a read that
    /// came up short or failed is an error, whatever the attempt made of it.
    pub(super) fn attempt(
        &self,
        dir: &BaseDir,
        text: &str,
        buf: &mut Vec<u8>,
    ) -> Result<Attempt, Reread> {
        let words = FileWords::new(&self.file, self.len);
        let attempt = protocol::read_attempt(&words, buf);
        match words.fault() {
            None => Ok(attempt),
            Some(e) => Err(fault(dir, text, e)),
        }
    }

    /// The file's size again, now that its published copy needs `need`
    /// bytes: the worker grew it since it was looked at.
    pub(super) fn grow(&mut self, dir: &BaseDir, text: &str, need: u64) -> Result<(), Reread> {
        let meta = self.file.metadata().map_err(|e| dir.err(text, e))?;
        if meta.len() / 8 * 8 < need {
            return Err(corrupt(dir, text, Reason::BeyondEndOfFile).into());
        }
        self.len = meta.len();
        Ok(())
    }
}

/// Checks the static header of another user's status file `file`, named
/// `text`, of `len` bytes, with one `pread`.
pub(super) fn check_header(
    dir: &BaseDir,
    text: &str,
    file: &File,
    len: u64,
) -> Result<Header, Reread> {
    let words = FileWords::new(file, len);
    let header = header::check_header(&words, text);
    if let Some(e) = words.fault() {
        return Err(fault(dir, text, e));
    }
    header.map_err(|why| corrupt(dir, text, why).into())
}

/// What a short or failed read of `text` means.
#[cold]
fn fault(dir: &BaseDir, text: &str, e: io::Error) -> Reread {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        corrupt(dir, text, Reason::Shrank).into()
    } else {
        dir.err(text, e).into()
    }
}
