//! Reading a directory written by Perl's `Parallel::Scoreboard`.
//!
//! Each worker has a file `status_<id>`: the 16-byte MD5 digest of the
//! payload, the payload's length as a 4-byte big-endian integer, then the
//! payload. Files are rewritten in place and never shrink, so bytes past the
//! payload are left over from longer statuses. A worker is live while it holds
//! an exclusive `flock` on its file: a file on which a shared lock can be
//! taken belongs to a dead worker, and is skipped (the Perl module's own
//! `read_all` removes it; this reader never removes anything).

use std::fs::{self, File};
use std::io::{self, Read as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use md5::{Digest as _, Md5};
use parallel_scoreboard_http::Record;

/// How many times a status whose digest does not match is read again (the
/// worker may be rewriting it), as the Perl module does.
const ATTEMPTS: usize = 10;

/// A directory of the Perl module's status files.
#[derive(Debug)]
pub(crate) struct LegacyBoard {
    dir: PathBuf,
}

impl LegacyBoard {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// Every live worker with a consistent status, sorted by id. The pid is
    /// that of the process holding the file's lock (from `/proc/locks`); the
    /// update count is unknown; the update time is the file's modification
    /// time and the start time its creation time.
    pub(crate) fn read(&self) -> io::Result<Vec<Record>> {
        let locks = fs::read_to_string("/proc/locks").unwrap_or_default();
        let mut records = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_prefix("status_")) else {
                continue;
            };
            // The Perl module's temporaries are exactly `status_<id>.tmp`.
            if id.is_empty() || Path::new(id).extension().is_some_and(|e| e == "tmp") {
                continue;
            }
            if let Some(record) = read_one(&entry.path(), id, &locks) {
                records.push(record);
            }
        }
        records.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }
}

/// The record of a live worker's file, or `None` for a dead worker, a file
/// that is not a regular file, or a status that stayed inconsistent.
fn read_one(path: &Path, id: &str, locks: &str) -> Option<Record> {
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    // A shared lock is refused only while the worker holds its exclusive
    // lock; taking it means the worker is gone.
    if !matches!(file.try_lock_shared(), Err(fs::TryLockError::WouldBlock)) {
        return None;
    }
    let status = (0..ATTEMPTS).find_map(|_| read_status(&mut file))?;
    let meta = file.metadata().ok()?;
    let updated_at = meta.modified().ok()?;
    Some(Record {
        id: id.to_owned(),
        status,
        pid: lock_holder(locks, meta.dev(), meta.ino()),
        updates: None,
        updated_at,
        started_at: meta.created().unwrap_or(updated_at),
    })
}

/// The payload, if its digest matches.
fn read_status(file: &mut File) -> Option<Vec<u8>> {
    use std::io::Seek as _;
    file.seek(io::SeekFrom::Start(0)).ok()?;
    let mut head = [0_u8; 20];
    file.read_exact(&mut head).ok()?;
    let len = u32::from_be_bytes(head[16..20].try_into().ok()?) as usize;
    let mut payload = Vec::new();
    file.by_ref()
        .take(len as u64)
        .read_to_end(&mut payload)
        .ok()?;
    (payload.len() == len && Md5::digest(&payload)[..] == head[..16]).then_some(payload)
}

/// The pid of the process holding a `FLOCK` on the inode `ino` of device
/// `dev`, from the text of `/proc/locks`.
fn lock_holder(locks: &str, dev: u64, ino: u64) -> Option<u32> {
    let want = (libc::major(dev), libc::minor(dev), ino);
    locks.lines().find_map(|line| {
        // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; blocked waiters
        // have "->" after the number.
        let fields: Vec<&str> = line.split_whitespace().filter(|f| *f != "->").collect();
        if fields.get(1) != Some(&"FLOCK") || fields.get(3) != Some(&"WRITE") {
            return None;
        }
        let mut parts = fields.get(5)?.split(':');
        let major = u32::from_str_radix(parts.next()?, 16).ok()?;
        let minor = u32::from_str_radix(parts.next()?, 16).ok()?;
        let inode: u64 = parts.next()?.parse().ok()?;
        ((major, minor, inode) == want).then(|| fields.get(4)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_holders_from_proc_locks() {
        let dev = libc::makedev(0, 0x1a);
        let text = "1: POSIX  ADVISORY  WRITE 11 00:1a:99 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 22 00:1a:99 0 EOF\n\
                    2: -> FLOCK  ADVISORY  WRITE 33 00:1a:99 0 EOF\n\
                    3: FLOCK  ADVISORY  WRITE 44 00:1b:99 0 EOF\n";
        assert_eq!(lock_holder(text, dev, 99), Some(22));
        assert_eq!(lock_holder(text, dev, 98), None);
        assert_eq!(lock_holder(text, libc::makedev(0, 0x1b), 99), Some(44));
    }
}
