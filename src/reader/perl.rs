//! Recognising a status file of Perl's `Parallel::Scoreboard`, so that a
//! reader pointed at the Perl module's directory can say so
//! ([`Reason::PerlStatusFile`](crate::Reason::PerlStatusFile)).
//!
//! The Perl module names a worker's file `status_<id>`, as we do; its record is the
//! 16-byte MD5 digest of the payload, the payload's length as a 4-byte
//! big-endian integer, then the payload (the file never shrinks, so bytes past
//! the payload are left over from longer statuses). An entry is taken for one
//! when it has such a name, is a regular file of this user, and holds a
//! complete record: a length that fits the file. The digest is not checked:
//! this only chooses a hint, and the CLI's `--legacy` reader, which does check
//! it, is what reads such files. Text named like a Perl status file is not one
//! (its "length" does not fit).
//!
//! Only entries already skipped for want of our header (bad magic, too short
//! for it, unlocked without it) are looked at, and only once until they
//! change: this is never on a read's hot path.

use std::fs::File;
use std::os::unix::fs::FileExt as _;

use std::ffi::OsStr;

use super::classify::Skip;
use super::corrupt;
use crate::dir::BaseDir;
use crate::error::Reason;
use crate::sys;

/// The Perl module's name of a worker's status file, before the id.
const NAME_PREFIX: &str = "status_";
/// The digest and the length before the payload.
const HEAD_LEN: u64 = 20;
/// Largest payload taken for a Perl status.
const MAX_PAYLOAD: u64 = 16 << 20;

/// `skip`, or, for an entry skipped for want of our header that is a Perl
/// status file ([`is_status_file`]), the same entry skipped as
/// [`Reason::PerlStatusFile`] (never removed, as no skip is).
#[cold]
pub(super) fn hint(dir: &BaseDir, name: &OsStr, skip: Skip) -> Skip {
    let headerless = |e: &crate::Error| {
        matches!(
            e.reason(),
            Some(Reason::BadMagic | Reason::ShortHeader | Reason::UnlockedWithoutHeader)
        )
    };
    match (skip, name.to_str()) {
        (Skip::Lasting(e), Some(text))
            if headerless(&e) && is_status_file(dir, text, dir.owner()) =>
        {
            Skip::Lasting(corrupt(dir, text, Reason::PerlStatusFile))
        }
        (skip, _) => skip,
    }
}

/// Whether the entry `name` of `dir` is named as the Perl module's status
/// files are, is a regular file of the user `euid`, and holds a complete
/// record. Anything else (not there, not a regular file, another user's, too
/// short, a length that does not fit) is not.
fn is_status_file(dir: &BaseDir, name: &str, euid: u32) -> bool {
    // A temporary of the Perl module (`status_<id>.tmp`) is one of its files too.
    let named = name
        .strip_prefix(NAME_PREFIX)
        .is_some_and(|id| !id.is_empty());
    // Looked at (relative to the directory) without opening first: a FIFO,
    // a device or another user's file is never opened. Checked again once
    // open, in case the name was replaced in between.
    named
        && sys::regular_file_owner_at(dir.fd(), name.as_ref()).is_ok_and(|uid| uid == Some(euid))
        && sys::open_entry(dir.fd(), name, false).is_ok_and(|file| {
            file.metadata()
                .is_ok_and(|m| m.is_file() && sys::uid_of(&m) == euid)
                && holds_record(&file)
        })
}

/// Whether `file` starts with a complete record: a length that fits it.
fn holds_record(file: &File) -> bool {
    let Ok(size) = file.metadata().map(|m| m.len()) else {
        return false;
    };
    let mut head = [0_u8; HEAD_LEN as usize];
    if size < HEAD_LEN || file.read_exact_at(&mut head, 0).is_err() {
        return false;
    }
    let len = u64::from(u32::from_be_bytes([head[16], head[17], head[18], head[19]]));
    len <= MAX_PAYLOAD && HEAD_LEN + len <= size
}
