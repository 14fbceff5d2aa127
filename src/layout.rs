//! The on-disk format of a status file, as constants and `const` assertions.
//!
//! Every field is a little-endian 64-bit word; all shared accesses are atomic
//! word accesses (see [`crate::shm`]). Byte offsets:
//!
//! | offset | size | field | written |
//! |---|---|---|---|
//! | 0 | 8 | magic `"PSCOREBD"` | once, before publication |
//! | 8 | 4 | format version (2) | once |
//! | 12 | 4 | header length (512) | once |
//! | 16 | 8 | pid of the owning process | once |
//! | 24 | 8 | start time on the wall clock, ns since the Unix epoch | once |
//! | 32 | 8 | id length in bytes (1..=255) | once |
//! | 40 | 256 | id, UTF-8, zero padded | once |
//! | 296 | 8 | start time on the monotonic clock, ns | once |
//! | 304 | 16 | reserved (zero) | |
//! | 320 | 8 | `published`: index (0 or 1) of the copy readers should take | every update |
//! | 384 | 64 | copy descriptor 0 | every other update |
//! | 448 | 64 | copy descriptor 1 | every other update |
//! | 512.. | | payload regions | |
//!
//! A copy descriptor is eight words: `seq` (odd while the copy is being
//! written), `off` (byte offset of the copy's payload region), `cap` (its size),
//! `len` (status length), `updated_ns` (time of that update on the monotonic
//! clock), `updates` (how many updates the worker had made when it wrote this
//! copy), and two reserved words.
//!
//! Times that readers compute ages from are on the monotonic clock
//! (`CLOCK_MONOTONIC_COARSE`): it never steps, and every process of the host
//! (of one time namespace) reads the same one, so an age is right however
//! the writer's or the reader's wall clock was set. A reader turns them into
//! wall-clock times with its own wall clock (`wall now - (monotonic now -
//! time)`). The wall-clock start time is kept for tools reading a file on its
//! own. Version 1 had wall-clock times in both places.
//!
//! A new file is one 4 KiB page: the header and two 1792-byte regions. A status
//! that does not fit its region gets a new, larger region appended at the end of
//! the file; the file never shrinks.
//!
//! A reader checks the static header against this table with
//! `reader::check_header`.

use bytemuck::{Pod, Zeroable};

use crate::id::MAX_ID_LEN;

/// `"PSCOREBD"` read as a little-endian word.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"PSCOREBD");
/// The format version this crate writes and reads (2: update times on the
/// monotonic clock).
pub(crate) const VERSION: u32 = 2;
/// Size of the header; the first payload region starts here.
pub(crate) const HEADER_LEN: u64 = 512;
/// Size of a new status file.
pub(crate) const INITIAL_FILE_LEN: u64 = 4096;
/// Size of each payload region in a new file.
pub(crate) const INITIAL_CAP: u64 = (INITIAL_FILE_LEN - HEADER_LEN) / 2;
/// Regions are page aligned once they grow, so growth maps whole pages.
pub(crate) const PAGE: u64 = 4096;
/// Largest payload region a reader accepts (1 TiB): beyond it a file is corrupt.
pub(crate) const MAX_CAP: u64 = 1 << 40;

/// The part of the header written once, before the file is published.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct StaticHeader {
    pub(crate) magic: u64,
    pub(crate) version: u32,
    pub(crate) header_len: u32,
    pub(crate) pid: u64,
    /// Wall clock, ns since the Unix epoch.
    pub(crate) started_wall_ns: u64,
    pub(crate) id_len: u64,
    pub(crate) id: [u8; 256],
    /// Monotonic clock, ns.
    pub(crate) started_mono_ns: u64,
    pub(crate) reserved: [u64; 2],
}

/// Words in [`StaticHeader`].
pub(crate) const STATIC_WORDS: usize = size_of::<StaticHeader>() / 8;
/// Word index of `published`.
pub(crate) const PUBLISHED: usize = 320 / 8;
/// Word index of copy descriptor `i`.
pub(crate) const fn desc(i: usize) -> usize {
    384 / 8 + i * DESC_WORDS
}
/// Words in a copy descriptor.
pub(crate) const DESC_WORDS: usize = 8;
/// Offsets of the fields within a copy descriptor, in words.
pub(crate) const SEQ: usize = 0;
pub(crate) const OFF: usize = 1;
pub(crate) const CAP: usize = 2;
pub(crate) const LEN: usize = 3;
pub(crate) const UPDATED_NS: usize = 4;
pub(crate) const UPDATES: usize = 5;

const _: () = {
    assert!(size_of::<StaticHeader>() == 320);
    assert!(align_of::<StaticHeader>() == 8);
    assert!(std::mem::offset_of!(StaticHeader, version) == 8);
    assert!(std::mem::offset_of!(StaticHeader, header_len) == 12);
    assert!(std::mem::offset_of!(StaticHeader, pid) == 16);
    assert!(std::mem::offset_of!(StaticHeader, started_wall_ns) == 24);
    assert!(std::mem::offset_of!(StaticHeader, id_len) == 32);
    assert!(std::mem::offset_of!(StaticHeader, id) == 40);
    assert!(std::mem::offset_of!(StaticHeader, started_mono_ns) == 296);
    assert!(STATIC_WORDS * 8 <= PUBLISHED * 8);
    assert!(desc(1) + DESC_WORDS == HEADER_LEN as usize / 8);
    assert!(INITIAL_CAP.is_multiple_of(8));
    assert!(HEADER_LEN + 2 * INITIAL_CAP == INITIAL_FILE_LEN);
    assert!(MAX_ID_LEN <= 256);
};

impl StaticHeader {
    /// The header of a new file for `id`, owned by `pid`, started at
    /// `started` (on the wall clock, then on the monotonic clock).
    pub(crate) fn new(id: &str, pid: u32, started: (u64, u64)) -> Self {
        let mut h = Self::zeroed();
        h.magic = MAGIC;
        h.version = VERSION;
        h.header_len = HEADER_LEN as u32;
        h.pid = u64::from(pid);
        (h.started_wall_ns, h.started_mono_ns) = started;
        h.id_len = id.len() as u64;
        h.id[..id.len()].copy_from_slice(id.as_bytes());
        h
    }

    /// The header as the words stored in the file.
    pub(crate) fn to_words(self) -> [u64; STATIC_WORDS] {
        bytemuck::cast(self)
    }

    /// The header read back from the file's words.
    pub(crate) fn from_words(words: &[u64; STATIC_WORDS]) -> Self {
        bytemuck::cast(*words)
    }

    /// The id, if the header is well formed.
    pub(crate) fn id(&self) -> Option<&str> {
        let len = usize::try_from(self.id_len).ok()?;
        if len == 0 || len > MAX_ID_LEN {
            return None;
        }
        std::str::from_utf8(&self.id[..len]).ok()
    }
}

/// `n` rounded up to a multiple of [`PAGE`].
pub(crate) const fn page_round(n: u64) -> u64 {
    n.div_ceil(PAGE) * PAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_through_words() {
        let h = StaticHeader::new("acceptor-3", 4242, (17, 5));
        let back = StaticHeader::from_words(&h.to_words());
        assert_eq!(back.magic, MAGIC);
        assert_eq!(back.pid, 4242);
        assert_eq!((back.started_wall_ns, back.started_mono_ns), (17, 5));
        assert_eq!(h.to_words()[296 / 8], 5);
        assert_eq!(back.id(), Some("acceptor-3"));
        // The magic is the first word, little endian, so `od -c` shows it.
        assert_eq!(h.to_words()[0].to_le_bytes(), *b"PSCOREBD");
    }

    #[test]
    fn malformed_ids_are_rejected() {
        let mut h = StaticHeader::new("x", 1, (0, 0));
        h.id_len = 0;
        assert_eq!(h.id(), None);
        h.id_len = 256;
        assert_eq!(h.id(), None);
        h.id_len = 2;
        h.id[..2].copy_from_slice(&[0xff, 0xfe]);
        assert_eq!(h.id(), None);
    }
}
