//! Checking a status file's static header, whatever its words are read
//! through (a mapping, or `pread` for another user's file).

use crate::error::Reason;
use crate::id;
use crate::layout::{HEADER_LEN, MAGIC, STATIC_WORDS, StaticHeader, VERSION};
use crate::shm::Words;

/// What a reader takes from a status file's static header.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) id: String,
    pub(crate) pid: u32,
    /// The start time on the monotonic clock, ns.
    pub(crate) started_ns: u64,
}

/// Checks the static header of the status file named `name`: its magic,
/// format version, header length, id, and that the id maps to `name`.
pub(crate) fn check_header<W: Words>(words: &W, name: &str) -> Result<Header, Reason> {
    if words.len_words() * 8 < HEADER_LEN as usize {
        return Err(Reason::ShortHeader);
    }
    let mut raw = [0u64; STATIC_WORDS];
    words.load_words(0, &mut raw);
    let h = StaticHeader::from_words(&raw);
    if h.magic != MAGIC {
        return Err(Reason::BadMagic);
    }
    if h.version != VERSION || u64::from(h.header_len) != HEADER_LEN {
        return Err(Reason::UnsupportedVersion {
            version: h.version,
            header_len: h.header_len,
        });
    }
    let Some(id) = h.id() else {
        return Err(Reason::BadId);
    };
    if id::file_name(id) != name {
        return Err(Reason::NameMismatch);
    }
    Ok(Header {
        id: id.to_owned(),
        pid: u32::try_from(h.pid).unwrap_or(0),
        started_ns: h.started_mono_ns,
    })
}
