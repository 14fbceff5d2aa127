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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::layout::INITIAL_FILE_LEN;
    use crate::protocol::LocalWords;
    use crate::shm::WordsMut as _;
    use crate::sync::Ordering;

    /// A file's words with the static header of `id`, word `tamper` (if
    /// any) then overwritten with the given value.
    fn file(id: &str, tamper: Option<(usize, u64)>) -> LocalWords {
        let words = LocalWords::new(INITIAL_FILE_LEN);
        let header = StaticHeader::new(id, 4242, (17, 5)).to_words();
        for (i, w) in header.iter().enumerate() {
            words.store(i, *w, Ordering::Relaxed);
        }
        if let Some((i, value)) = tamper {
            words.store(i, value, Ordering::Relaxed);
        }
        words
    }

    #[test]
    fn a_well_formed_header_gives_its_id_pid_and_start() {
        let h = check_header(&file("acceptor 3", None), "status_acceptor%203").unwrap();
        assert_eq!(
            (h.id.as_str(), h.pid, h.started_ns),
            ("acceptor 3", 4242, 5)
        );
    }

    #[test]
    fn each_flaw_of_a_header_has_its_reason() {
        let check = |words: &LocalWords, name: &str| check_header(words, name).unwrap_err();
        assert_eq!(check(&file("a", None), "status_b"), Reason::NameMismatch);
        assert_eq!(
            check(&file("a", Some((0, 0))), "status_a"),
            Reason::BadMagic
        );
        // The version and the header length share word 1.
        let v1 = u64::from(HEADER_LEN as u32) << 32 | 1;
        assert_eq!(
            check(&file("a", Some((1, v1))), "status_a"),
            Reason::UnsupportedVersion {
                version: 1,
                header_len: HEADER_LEN as u32
            }
        );
        // The id's length: none, or beyond the field.
        assert_eq!(check(&file("a", Some((4, 0))), "status_a"), Reason::BadId);
        assert_eq!(check(&file("a", Some((4, 256))), "status_a"), Reason::BadId);
        let short = LocalWords::new(HEADER_LEN - 8);
        assert_eq!(check(&short, "status_a"), Reason::ShortHeader);
    }
}
