//! The original Perl module's design, rewritten in Rust as a peer to compare
//! against: one status file per worker, `status_<id>`, held with an exclusive
//! `flock`; an update writes checksum + length + payload with one `pwrite`; a
//! read lists the directory and, per file, opens it, tries its lock (a file it
//! can lock is a dead worker's and is removed), reads the record and checks
//! its checksum (10 tries), as `Parallel::Scoreboard::read_all` does. The
//! checksum is CRC-32 (the original's MD5 would only make the peer slower).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A worker of the peer design.
pub(crate) struct PeerWorker {
    file: File,
    buf: Vec<u8>,
}

impl PeerWorker {
    /// Creates `status_<id>` in `dir`, locked, through a temporary and a rename.
    pub(crate) fn create(dir: &Path, id: &str) -> io::Result<Self> {
        let tmp = dir.join(format!("status_{id}.tmp"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.lock()?;
        std::fs::rename(&tmp, dir.join(format!("status_{id}")))?;
        Ok(Self {
            file,
            buf: Vec::new(),
        })
    }

    /// Writes the status record at offset 0: CRC-32 (4 B), length (4 B, big
    /// endian), payload. One system call.
    pub(crate) fn update(&mut self, status: &[u8]) -> io::Result<()> {
        let len = u32::try_from(status.len()).map_err(|_| io::ErrorKind::FileTooLarge)?;
        self.buf.clear();
        self.buf
            .extend_from_slice(&crc32fast::hash(status).to_be_bytes());
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(status);
        self.file.write_all_at(&self.buf, 0)
    }
}

/// The peer's `read_all` over `dir`.
pub(crate) struct PeerReader {
    dir: PathBuf,
}

impl PeerReader {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    pub(crate) fn read_all(&self) -> io::Result<BTreeMap<String, Vec<u8>>> {
        let mut all = BTreeMap::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_prefix("status_")) else {
                continue;
            };
            if id.ends_with(".tmp") {
                continue;
            }
            let path = entry.path();
            let Ok(mut file) = File::open(&path) else {
                continue;
            };
            match file.try_lock() {
                Ok(()) => {
                    // Nobody holds it: a dead worker's.
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(e),
            }
            let mut raw = Vec::new();
            for _ in 0..10 {
                raw.clear();
                file.read_to_end(&mut raw)?;
                if let Some(status) = parse(&raw) {
                    all.insert(id.to_owned(), status.to_vec());
                    break;
                }
                file = File::open(&path)?;
            }
        }
        Ok(all)
    }
}

/// The payload of a whole record, if its length and checksum hold.
fn parse(raw: &[u8]) -> Option<&[u8]> {
    let crc = u32::from_be_bytes(raw.get(..4)?.try_into().ok()?);
    let len = u32::from_be_bytes(raw.get(4..8)?.try_into().ok()?) as usize;
    let status = raw.get(8..8 + len)?;
    (crc32fast::hash(status) == crc).then_some(status)
}
