//! `base_dir`: the handle every name is resolved against, and the one protocol
//! by which a name is ever removed or replaced.
//!
//! Rules that keep live files safe:
//! - A live worker holds an exclusive `flock` on its file for its lifetime; a
//!   file on which a shared `flock` can be taken is dead, and stays dead: an
//!   exclusive lock is only ever taken on a fresh temporary before it is named.
//! - Only the owner removes a live file's name (on drop, *before* it unlocks).
//! - Anyone else removes or replaces a name only through [`BaseDir::claim`]: it
//!   takes the dead inode's removal lock (an OFD lock, independent of `flock`)
//!   and then checks that the name still points to that inode. While the
//!   removal lock is held nobody else can remove or replace that name, and a
//!   newcomer cannot link over an existing one, so the check stays true until
//!   the claimant's unlink or rename. A process id never enters into it.

use std::ffi::OsString;
use std::fs::{DirBuilder, File, TryLockError};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

#[cfg(doc)]
use crate::error::ErrorKind;
use crate::error::{Error, Result};
use crate::fork::Registered;
use crate::id::TMP_PREFIX;
use crate::sys::{self, FileId};

/// `base_dir`, opened.
#[derive(Debug)]
pub(crate) struct BaseDir {
    path: PathBuf,
    fd: OwnedFd,
    /// The directory's inode, to tell whether its path still leads to it.
    id: FileId,
    /// The directory's owner: whose status files are trusted in it.
    owner: u32,
    /// What this process may do in it.
    access: Access,
    /// The group the directory is shared with for reading (its group, when
    /// the group may read it): new status files are made readable by it.
    shared_with: Option<u32>,
}

/// What a process may do in a `base_dir`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Its owner: reads, writes, removes dead workers' files.
    Owner,
    /// Root, or a member of the group the directory is shared with: reads
    /// the owner's status files and nothing else, and changes nothing.
    Reader,
}

/// A dead file whose name this process may now remove or replace: its
/// removal lock is held while this lives.
#[derive(Debug)]
pub(crate) struct Claim {
    _file: Registered<File>,
}

impl BaseDir {
    /// Opens `path`, creating it (and missing parents) with mode 0700; with
    /// `group`, shares it with that group for reading when this process owns
    /// it (see [`sys::share_dir`]).
    pub(crate) fn open(path: &Path, group: Option<u32>) -> Result<Self> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| Error::io_at(path, e))?;
        let dir = Self::find(path)?;
        match group {
            Some(gid) if dir.access == Access::Owner && dir.shared_with != Some(gid) => {
                sys::share_dir(dir.fd(), gid).map_err(|e| {
                    Error::io_at(path, e).with_detail(format!(
                        "sharing it with group {gid} (this user must be a member)"
                    ))
                })?;
                Self::find(path)
            }
            _ => Ok(dir),
        }
    }

    /// Opens the directory at `path`, which must exist; checks that nobody
    /// else can replace its entries and that this process may use it (see
    /// [`check_access`]).
    ///
    /// # Errors
    /// [`ErrorKind::Missing`] when no directory is at `path`,
    /// [`ErrorKind::Insecure`] when this process may not use it (see
    /// [`check_access`]), [`ErrorKind::Io`] when it cannot be opened (with
    /// what to do when that is for want of permission).
    pub(crate) fn find(path: &Path) -> Result<Self> {
        let insecure = |why| Error::insecure(path, why);
        let fd = sys::open_dir(path).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTDIR) => missing(path),
            // What to do about it, when the directory can be looked at.
            Some(libc::EACCES) => match std::fs::metadata(path) {
                Ok(meta) => {
                    use std::os::unix::fs::MetadataExt;
                    Error::io_at(path, e).with_detail(not_readable(
                        meta.uid(),
                        meta.gid(),
                        meta.mode(),
                    ))
                }
                Err(_) => Error::io_at(path, e),
            },
            _ => Error::io_at(path, e),
        })?;
        let (owner, gid, mode) =
            sys::owner_and_mode(fd.as_fd()).map_err(|e| Error::io_at(path, e))?;
        let access = check_access(owner, gid, mode).map_err(insecure)?;
        let id = sys::identity(fd.as_fd()).map_err(|e| Error::io_at(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            fd,
            id,
            owner,
            access,
            shared_with: (mode & 0o050 == 0o050).then_some(gid),
        })
    }

    /// The directory's owner: the user whose status files are read in it.
    pub(crate) fn owner(&self) -> u32 {
        self.owner
    }

    /// Whether this process owns the directory (else it only reads it).
    pub(crate) fn is_owner(&self) -> bool {
        self.access == Access::Owner
    }

    /// Whether this directory is still the one at its path (one `stat`).
    ///
    /// # Errors
    /// When the path cannot be looked up for another reason than there being
    /// nothing (or no directory) there.
    pub(crate) fn is_at_path(&self) -> Result<bool> {
        match std::fs::metadata(&self.path) {
            Ok(meta) => Ok(FileId::of(&meta) == self.id),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => Ok(false),
            Err(e) => Err(Error::io_at(&self.path, e)),
        }
    }

    /// Every directory on the way to this one with the name of the next step
    /// in it, from the parent up to `/`, when the path leads here through
    /// directories only (no link, no `..`): watching those names follows the
    /// path. `None` otherwise.
    pub(crate) fn ancestry(&self) -> Option<Vec<(PathBuf, OsString)>> {
        let path = std::path::absolute(&self.path).ok()?;
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if !meta.is_dir() || FileId::of(&meta) != self.id {
            return None;
        }
        let mut steps = Vec::new();
        let mut at = path.as_path();
        while let (Some(parent), Some(name)) = (at.parent(), at.file_name()) {
            if !std::fs::symlink_metadata(parent).ok()?.is_dir() {
                return None;
            }
            steps.push((parent.to_path_buf(), name.to_owned()));
            at = parent;
        }
        // `file_name` is `None` for a path ending in `..`.
        (at.parent().is_none()).then_some(steps)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The full path of entry `name`, for messages.
    pub(crate) fn entry(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// An I/O error on entry `name`.
    pub(crate) fn err(&self, name: &str, e: io::Error) -> Error {
        Error::io_at(self.entry(name), e)
    }

    /// Creates a fresh publication temporary, registered with the fork
    /// registry as it is opened (see [`Registered::open`]); returns it and
    /// its name.
    ///
    /// # Errors
    /// [`ErrorKind::ReadOnly`] when this process only reads the directory
    /// (root or a group member reading another user's board writes nothing
    /// there).
    pub(crate) fn new_temp(&self) -> Result<(Registered<File>, String)> {
        use std::hash::{BuildHasher, RandomState};
        if self.access != Access::Owner {
            return Err(Error::read_only(
                &self.path,
                format!(
                    "owned by uid {}: this process (uid {}) may read it but not add workers to it",
                    self.owner,
                    sys::euid()
                ),
            ));
        }
        loop {
            let name = format!(
                "{TMP_PREFIX}{:016x}",
                RandomState::new().hash_one(crate::fork::pid())
            );
            match Registered::open(|| sys::create_new(self.fd(), &name, self.shared_with)) {
                Ok(file) => return Ok((file, name)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(self.err(&name, e)),
            }
        }
    }

    /// Removes `name` if it is still the dead inode `id`. Returns whether this
    /// call removed it (false: someone else did, or the name moved on).
    pub(crate) fn remove_dead(&self, name: &str, id: FileId) -> Result<bool> {
        let Some(_claim) = self.claim(name, id)? else {
            return Ok(false);
        };
        crate::fault::point("remove:claimed");
        match sys::unlink(self.fd(), name) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.err(name, e)),
        }
    }

    /// Takes the right to remove or replace `name`, which the caller found to
    /// point to the dead inode `id`. `None`: someone else holds that right, or
    /// `name` no longer points to `id`.
    pub(crate) fn claim(&self, name: &str, id: FileId) -> Result<Option<Claim>> {
        let file = match Registered::open(|| sys::open_entry(self.fd(), name, true)) {
            Ok(opened) => opened,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(name, e)),
        };
        let meta = file.metadata().map_err(|e| self.err(name, e))?;
        if FileId::of(&meta) != id {
            return Ok(None);
        }
        if !sys::try_lock_removal(&file).map_err(|e| self.err(name, e))? {
            return Ok(None);
        }
        // With the removal lock held, `name` can only stop pointing to `id`
        // through us; check it still does.
        match sys::identity_at(self.fd(), name) {
            Ok(now) if now == id => Ok(Some(Claim { _file: file })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err(name, e)),
        }
    }

    /// Removes this process's own temporary `name` (inode `id`) after a failed
    /// publication, unless it is gone or no longer ours.
    pub(crate) fn remove_own_temp(&self, name: &str, id: FileId) {
        if sys::identity_at(self.fd(), name).is_ok_and(|now| now == id) {
            // Best effort: a temporary left behind is unlocked once we close
            // it, and the next cleanup removes it.
            let _ = sys::unlink(self.fd(), name);
        }
    }
}

/// No directory at `path`.
pub(crate) fn missing(path: &Path) -> Error {
    Error::missing(path)
}

/// Says what this process may do in a directory owned by `uid` and group
/// `gid`, of mode `mode`, or why it may not use it.
///
/// Nobody but its owner may add, remove or rename its entries: neither group
/// nor others may write to it, unless its sticky bit is set (then they may
/// add entries, which readers skip as another user's, but not remove or
/// rename the owner's). Its owner reads and writes it; root, and a member of
/// its group when the group may read it, read it only.
fn check_access(uid: u32, gid: u32, mode: u32) -> std::result::Result<Access, String> {
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(format!(
            "mode {:o} lets group or others replace status files; chmod go-w or +t",
            mode & 0o7777
        ));
    }
    let me = sys::euid();
    if uid == me {
        return Ok(Access::Owner);
    }
    if me == 0 || (mode & 0o050 == 0o050 && sys::in_group(gid).unwrap_or(false)) {
        return Ok(Access::Reader);
    }
    Err(not_readable(uid, gid, mode))
}

/// Why this process may not use a directory owned by `uid` and group `gid`,
/// of mode `mode`, and what to do about it.
#[cold]
fn not_readable(uid: u32, gid: u32, mode: u32) -> String {
    let me = sys::euid();
    let shared = if mode & 0o050 == 0o050 {
        format!("shared with group {gid}, which this process is not in")
    } else {
        format!("not shared with its group {gid}")
    };
    format!(
        "owned by uid {uid}, not by this process's uid {me}, and {shared} (mode {:o}); \
         run as uid {uid} or as root, or let the workers share the board with a group \
         of this user (Builder::group, `scoreboard demo --group`, or chgrp and chmod 2750 \
         the directory and 0640 its files)",
        mode & 0o7777
    )
}

/// Whether the worker that owned `file` is gone: nobody holds its exclusive lock.
///
/// On `true` the caller holds a shared lock until it closes `file`, which keeps
/// a temporary from being taken up by its creator while it is being removed.
pub(crate) fn is_dead(file: &File) -> io::Result<bool> {
    match file.try_lock_shared() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// [`is_dead`] for a reader of another user's status file (open read-only:
/// `flock` needs no write access), which leaves no lock behind: a shared
/// lock it took on a dead file is dropped at once. It is never asked of a
/// temporary (whose creator's exclusive lock a shared one could refuse), and
/// nobody takes an exclusive lock on a named file, so the instant it is held
/// keeps nobody from anything.
pub(crate) fn is_dead_unlocked(file: &File) -> io::Result<bool> {
    let dead = is_dead(file)?;
    if dead {
        file.unlock()?;
    }
    Ok(dead)
}
