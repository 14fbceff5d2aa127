//! Not part of the API: a status file's bytes parsed as a reader parses a
//! mapped file, for the fuzz targets (`fuzz/`) and the replay of their corpus
//! in `cargo test`.

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
/// any malformed input is an `Err` saying why.
///
/// # Errors
/// Why the bytes are not a readable status file.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Parsed, String> {
    if (bytes.len() as u64) < HEADER_LEN {
        return Err("shorter than the header".into());
    }
    let words = LocalWords(
        bytes
            .chunks_exact(8)
            .map(|c| {
                crate::sync::AtomicU64::new(u64::from_le_bytes(c.try_into().expect("8 bytes")))
            })
            .collect(),
    );
    let header = check_header(&words, name).map_err(|why| why.to_string())?;
    let mut status = Vec::new();
    match protocol::read_attempt(&words, &mut status) {
        Attempt::Done(meta) => Ok(Parsed {
            id: header.id,
            pid: header.pid,
            status,
            updates: meta.updates,
        }),
        // Nobody writes these words: an odd sequence stays odd.
        Attempt::Retry => Err("the published copy is marked as being written".into()),
        Attempt::NeedLen(n) => Err(format!(
            "status extends beyond the end of the file (to byte {n})"
        )),
        Attempt::Corrupt(why) => Err(why.to_string()),
        Attempt::NoMemory(n) => Err(format!("no memory for its {n}-byte status")),
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
        let p = parse("sb-w1", &bytes).unwrap();
        assert_eq!(
            (p.id.as_str(), p.pid, p.status.as_slice(), p.updates),
            ("w1", 42, &b"hello"[..], 1)
        );
        assert_eq!(
            parse("sb-w2", &bytes).unwrap_err(),
            "file name does not match the worker id"
        );
        assert_eq!(
            parse("sb-w1", &bytes[..100]).unwrap_err(),
            "shorter than the header"
        );
        let mut bad = bytes.clone();
        bad[0] ^= 1;
        assert_eq!(parse("sb-w1", &bad).unwrap_err(), "bad magic");
        // A length past the end of the file.
        let mut long = bytes.clone();
        let len_at = (crate::layout::desc(1) + crate::layout::LEN) * 8;
        long[len_at..len_at + 8].copy_from_slice(&4000u64.to_le_bytes());
        assert!(parse("sb-w1", &long).is_err());
    }
}
