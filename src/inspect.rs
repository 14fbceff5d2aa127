//! **Unstable** (feature `unstable-internals`, not covered by semver): a
//! status file's bytes parsed as a reader parses a mapped file, for the fuzz
//! targets (`fuzz/`) and the replay of their corpus in `cargo test`.

use std::io;

use crate::error::{Error, Reason, Result};
use crate::layout::HEADER_LEN;
use crate::protocol::{self, Attempt, LocalWords};
use crate::reader::check_header;

/// A status file that parsed.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The worker id from the header.
    pub id: String,
    /// The owner's pid from the header.
    pub pid: u32,
    /// The published status.
    pub status: Vec<u8>,
    /// The published copy's update count.
    pub updates: u64,
}

/// Parses `bytes`, the content of the file named `name`, as a reader would
/// (whole words only, as a mapping of that length is read). Never panics;
/// any malformed input is an `Err` saying why, as a read would report it.
///
/// # Errors
/// Why the bytes are not a readable status file, with `name` as its path:
/// - [`Corrupt`](crate::ErrorKind::Corrupt) with its [`Reason`] for a
///   malformed file;
/// - [`Unsettled`](crate::ErrorKind::Unsettled) when the published copy is
///   marked as being written (nobody writes these bytes: it stays so);
/// - [`Io`](crate::ErrorKind::Io) (`ENOMEM`) when there is no memory for the
///   status.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Parsed> {
    if (bytes.len() as u64) < HEADER_LEN {
        return Err(Error::corrupt(name, Reason::ShortHeader));
    }
    let words = LocalWords(
        bytes
            .chunks_exact(8)
            .map(|c| {
                let mut word = [0; 8];
                word.copy_from_slice(c);
                crate::sync::AtomicU64::new(u64::from_le_bytes(word))
            })
            .collect(),
    );
    let header = check_header(&words, name).map_err(|why| Error::corrupt(name, why))?;
    let mut status = Vec::new();
    match protocol::read_attempt(&words, &mut status) {
        Attempt::Done(meta) => Ok(Parsed {
            id: header.id,
            pid: header.pid,
            status,
            updates: meta.updates,
        }),
        // Nobody writes these words: an odd sequence stays odd.
        Attempt::Retry => Err(Error::unsettled(name)),
        Attempt::NeedLen(n) => {
            Err(Error::corrupt(name, Reason::BeyondEndOfFile).with_detail(format!("to byte {n}")))
        }
        Attempt::Corrupt(why) => Err(Error::corrupt(name, why)),
        Attempt::NoMemory(n) => Err(
            Error::io_at(name, io::Error::from_raw_os_error(libc::ENOMEM))
                .with_detail(format!("no memory for its {n}-byte status")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{INITIAL_FILE_LEN, StaticHeader};
    use crate::protocol::WriterState;
    use crate::shm::Words;

    fn image(id: &str, status: &[u8]) -> Vec<u8> {
        let words = LocalWords::new(INITIAL_FILE_LEN);
        let mut st = WriterState::new();
        protocol::init(&words, &st);
        for (i, w) in StaticHeader::new(id, 42, (7, 7))
            .to_words()
            .iter()
            .enumerate()
        {
            words.0[i].store(*w, std::sync::atomic::Ordering::Relaxed);
        }
        protocol::write(&words, &mut st, status, 99);
        (0..words.len_words())
            .flat_map(|i| words.load(i).to_le_bytes())
            .collect()
    }

    #[test]
    fn parses_what_a_writer_wrote_and_rejects_damage() {
        let bytes = image("w1", b"hello");
        let p = parse("status_w1", &bytes).unwrap();
        assert_eq!(
            (p.id.as_str(), p.pid, p.status.as_slice(), p.updates),
            ("w1", 42, &b"hello"[..], 1)
        );
        let reason = |name, bytes: &[u8]| {
            let e = parse(name, bytes).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Corrupt, "{e}");
            assert_eq!(e.path(), Some(std::path::Path::new(name)));
            e.reason().cloned().expect("a reason")
        };
        assert_eq!(reason("status_w2", &bytes), Reason::NameMismatch);
        assert_eq!(reason("status_w1", &bytes[..100]), Reason::ShortHeader);
        let mut bad = bytes.clone();
        bad[0] ^= 1;
        assert_eq!(reason("status_w1", &bad), Reason::BadMagic);
        // A length past the end of the file.
        let mut long = bytes.clone();
        let len_at = (crate::layout::desc(1) + crate::layout::LEN) * 8;
        long[len_at..len_at + 8].copy_from_slice(&4000u64.to_le_bytes());
        assert_eq!(reason("status_w1", &long), Reason::LengthBeyondRegion);
    }
}
