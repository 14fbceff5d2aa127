//! Reading every worker's status: scan `base_dir`, drop the dead, copy the live.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;

use crate::dir::{self, BaseDir};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{self, PREFIX, TMP_PREFIX};
use crate::layout::{HEADER_LEN, MAGIC, STATIC_WORDS, StaticHeader, VERSION};
use crate::protocol::{self, Attempt, Words};
use crate::shm::ReadMap;
use crate::sys::{self, FileId};

/// How long a reader keeps retrying a status that changes under it before it
/// reports the worker as busy. Only a writer that completes an update and starts
/// the next one during every single copy can cause this.
const BUSY_AFTER: Duration = Duration::from_secs(1);

/// One live worker's status, borrowed from the reader for the visit.
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    pub(crate) id: &'a str,
    pub(crate) pid: u32,
    pub(crate) started_ns: u64,
    pub(crate) updated_ns: u64,
    pub(crate) updates: u64,
    pub(crate) status: &'a [u8],
}

/// A status file mapped by this reader, with its parsed static header.
#[derive(Debug)]
struct Mapped {
    file_id: FileId,
    map: ReadMap,
    id: String,
    pid: u32,
    started_ns: u64,
    /// The scan that last saw it; older ones are unmapped.
    seen: u64,
}

/// A reader's state kept between scans: mappings and a copy buffer.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    cache: HashMap<OsString, Mapped>,
    scan: u64,
    buf: Vec<u8>,
}

/// What a scan found besides the live workers.
#[derive(Debug, Default)]
pub(crate) struct ScanReport {
    /// Dead workers' files this scan removed.
    pub(crate) removed: usize,
    /// Entries skipped, each with why.
    pub(crate) skipped: Vec<Error>,
}

impl Reader {
    /// Visits every live worker that has a status; removes dead workers' files.
    ///
    /// Fails only when `base_dir` itself cannot be listed; a bad entry is skipped
    /// and reported, and never stops the scan.
    pub(crate) fn scan(
        &mut self,
        dir: &BaseDir,
        visit: &mut dyn FnMut(Entry<'_>),
    ) -> Result<ScanReport> {
        let names = sys::list(dir.fd()).map_err(|e| Error::io(e).with_path(dir.path()))?;
        if names.is_empty()
            && sys::is_removed(dir.fd()).map_err(|e| Error::io(e).with_path(dir.path()))?
        {
            return Err(Error::io(io::ErrorKind::NotFound.into())
                .with_detail("base_dir was removed")
                .with_path(dir.path()));
        }
        self.scan += 1;
        let mut report = ScanReport::default();
        for name in names {
            let Some(text) = name.to_str() else {
                report.skipped.push(foreign(dir, &name.to_string_lossy()));
                continue;
            };
            if let Err(e) = self.entry(dir, &name, text, &mut report, visit) {
                report.skipped.push(e);
            }
        }
        let scan = self.scan;
        self.cache.retain(|_, m| m.seen == scan);
        Ok(report)
    }

    fn entry(
        &mut self,
        dir: &BaseDir,
        name: &OsString,
        text: &str,
        report: &mut ScanReport,
        visit: &mut dyn FnMut(Entry<'_>),
    ) -> Result<()> {
        let temp = text.starts_with(TMP_PREFIX);
        if !temp && !text.starts_with(PREFIX) {
            return Err(foreign(dir, text));
        }
        let file = match sys::open_entry(dir.fd(), text, false) {
            Ok(f) => f,
            // Removed since the listing: a worker that just left.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(dir.err(text, e)),
        };
        let meta = file.metadata().map_err(|e| dir.err(text, e))?;
        if !meta.is_file() {
            return Err(corrupt(dir, text, "not a regular file"));
        }
        if meta.uid() != sys::euid() {
            return Err(corrupt(dir, text, "owned by another user"));
        }
        let file_id = FileId::of(&meta);
        if dir::is_dead(&file).map_err(|e| dir.err(text, e))? {
            // A dead status file always has its magic (written before it was
            // named); anything else with our prefix is not ours to remove.
            // Temporaries are ours whatever they hold: their creator may have
            // died before writing anything.
            if !temp && !has_magic(&file) {
                return Err(corrupt(
                    dir,
                    text,
                    "unlocked and without a status header; left in place",
                ));
            }
            // `file` keeps its shared lock until the removal is done.
            if dir.remove_dead(text, file_id)? {
                report.removed += 1;
            }
            return Ok(());
        }
        if temp {
            // A worker being published.
            return Ok(());
        }
        let scan = self.scan;
        let mapped = match self.cache.get_mut(name) {
            Some(m) if m.file_id == file_id => m,
            _ => {
                let m = map_new(dir, text, &file, meta.len(), file_id)?;
                self.cache.insert(name.clone(), m);
                self.cache.get_mut(name).expect("just inserted")
            }
        };
        mapped.seen = scan;
        let meta = read_status(dir, text, &file, mapped, &mut self.buf)?;
        if meta.updates > 0 {
            visit(Entry {
                id: &mapped.id,
                pid: mapped.pid,
                started_ns: mapped.started_ns,
                updated_ns: meta.updated_ns,
                updates: meta.updates,
                status: &self.buf,
            });
        }
        Ok(())
    }
}

/// Maps a status file not seen before and checks its header.
fn map_new(dir: &BaseDir, name: &str, file: &File, size: u64, file_id: FileId) -> Result<Mapped> {
    if size < HEADER_LEN {
        return Err(corrupt(dir, name, "shorter than the header"));
    }
    let map = ReadMap::new(file, size).map_err(|e| dir.err(name, e))?;
    let mut words = [0u64; STATIC_WORDS];
    for (i, w) in words.iter_mut().enumerate() {
        *w = map.load(i);
    }
    let h = StaticHeader::from_words(&words);
    if h.magic != MAGIC {
        return Err(corrupt(dir, name, "bad magic"));
    }
    if h.version != VERSION || u64::from(h.header_len) != HEADER_LEN {
        return Err(corrupt(
            dir,
            name,
            &format!("unsupported format version {}", h.version),
        ));
    }
    let Some(id) = h.id() else {
        return Err(corrupt(dir, name, "bad worker id"));
    };
    if id::file_name(id) != name {
        return Err(corrupt(dir, name, "file name does not match the worker id"));
    }
    Ok(Mapped {
        file_id,
        map,
        id: id.to_owned(),
        pid: u32::try_from(h.pid).unwrap_or(0),
        started_ns: h.started_ns,
        seen: 0,
    })
}

/// Copies the published status of `m` into `buf`, following growth.
fn read_status(
    dir: &BaseDir,
    name: &str,
    file: &File,
    m: &mut Mapped,
    buf: &mut Vec<u8>,
) -> Result<protocol::CopyMeta> {
    let backoff = Backoff::new();
    let mut started: Option<Instant> = None;
    loop {
        match protocol::read_attempt(&m.map, buf) {
            Attempt::Done(meta) => return Ok(meta),
            Attempt::Retry => {
                if backoff.is_completed() {
                    let t0 = *started.get_or_insert_with(Instant::now);
                    if t0.elapsed() > BUSY_AFTER {
                        return Err(Error::new(ErrorKind::Busy).with_path(dir.entry(name)));
                    }
                }
                backoff.snooze();
            }
            Attempt::NeedLen(need) => {
                // The worker grew its file since we mapped it.
                let size = file.metadata().map_err(|e| dir.err(name, e))?.len();
                if size < need {
                    return Err(corrupt(
                        dir,
                        name,
                        "status extends beyond the end of the file",
                    ));
                }
                m.map = ReadMap::new(file, size).map_err(|e| dir.err(name, e))?;
            }
            Attempt::Corrupt(why) => return Err(corrupt(dir, name, why)),
        }
    }
}

/// Whether `file` starts with a status file's magic.
fn has_magic(file: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let mut word = [0u8; 8];
    file.read_exact_at(&mut word, 0).is_ok() && u64::from_le_bytes(word) == MAGIC
}

fn corrupt(dir: &BaseDir, name: &str, why: &str) -> Error {
    Error::new(ErrorKind::Corrupt)
        .with_detail(why)
        .with_path(dir.entry(name))
}

fn foreign(dir: &BaseDir, name: &str) -> Error {
    corrupt(dir, name, "not a status file name")
}
