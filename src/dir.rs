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

use crate::error::{Error, ErrorKind, Result};
use crate::fork::Registration;
use crate::id::TMP_PREFIX;
use crate::sys::{self, FileId};

/// `base_dir`, opened.
#[derive(Debug)]
pub(crate) struct BaseDir {
    path: PathBuf,
    fd: OwnedFd,
    /// The directory's inode, to tell whether its path still leads to it.
    id: FileId,
}

/// A dead file whose name this process may now remove or replace.
#[derive(Debug)]
pub(crate) struct Claim {
    // Unregistered before the file is closed (field order).
    _reg: Registration,
    _file: File,
}

impl BaseDir {
    /// Opens `path`, creating it (and missing parents) with mode 0700.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| Error::io(e).with_path(path))?;
        Self::find(path)
    }

    /// Opens the directory at `path`, which must exist; checks it is private
    /// (see [`check_private`]).
    ///
    /// # Errors
    /// [`ErrorKind::Missing`] when no directory is at `path`,
    /// [`ErrorKind::Insecure`] when it is not private, [`ErrorKind::Io`] when
    /// it cannot be opened.
    pub(crate) fn find(path: &Path) -> Result<Self> {
        let fd = sys::open_dir(path).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTDIR) => missing(path),
            _ => Error::io(e).with_path(path),
        })?;
        check_private(&fd).map_err(|why| {
            Error::new(ErrorKind::Insecure)
                .with_detail(why)
                .with_path(path)
        })?;
        let id = sys::identity(fd.as_fd()).map_err(|e| Error::io(e).with_path(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            fd,
            id,
        })
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
            Err(e) => Err(Error::io(e).with_path(&self.path)),
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
        Error::io(e).with_path(self.entry(name))
    }

    /// Creates a fresh publication temporary, registered with the fork
    /// registry as it is opened (see [`Registration::open`]).
    pub(crate) fn new_temp(&self) -> Result<(File, String, Registration)> {
        use std::hash::{BuildHasher, RandomState};
        loop {
            let name = format!(
                "{TMP_PREFIX}{:016x}",
                RandomState::new().hash_one(crate::fork::pid())
            );
            match Registration::open(|| sys::create_new(self.fd(), &name)) {
                Ok((file, reg)) => return Ok((file, name, reg)),
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
        let (file, reg) = match Registration::open(|| sys::open_entry(self.fd(), name, true)) {
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
            Ok(now) if now == id => Ok(Some(Claim {
                _reg: reg,
                _file: file,
            })),
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
    Error::new(ErrorKind::Missing).with_path(path)
}

/// Checks that nobody but this user can add, remove or rename entries of the
/// directory open as `fd`: it is this user's, and neither group nor others may
/// write to it, unless its sticky bit is set (then they may add entries, which
/// readers skip as another user's, but not remove or rename this user's).
fn check_private(fd: &OwnedFd) -> std::result::Result<(), String> {
    let (uid, mode) = sys::owner_and_mode(fd.as_fd()).map_err(|e| e.to_string())?;
    let me = sys::euid();
    if uid != me {
        return Err(format!(
            "owned by uid {uid}, not by this process's uid {me}"
        ));
    }
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(format!(
            "mode {:o} lets group or others replace status files; chmod go-w or +t",
            mode & 0o7777
        ));
    }
    Ok(())
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
