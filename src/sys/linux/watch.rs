//! Directory change notifications with inotify: which names changed, and
//! whether the directory left its path.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::errno::Errno;

/// What happened in a watched directory, from [`Watch::drain`].
#[derive(Debug)]
pub(crate) enum Change<'a> {
    /// The entry `name` was created, renamed, removed, truncated or written
    /// to with `write(2)`, or had its metadata changed; `closed` when a descriptor opened for writing on it was closed
    /// (which is how a worker's death shows: its lock goes with that close).
    Entry { name: &'a OsStr, closed: bool },
    /// Events were lost (the kernel's queue overflowed): look at everything.
    Overflow,
    /// The watched directory may no longer be at its path: it, or its entry
    /// in its parent, was removed, renamed or replaced, or a watch is gone.
    Lost,
}

/// An inotify watch on a directory: tells which names changed since the last
/// [`drain`](Self::drain), so a reader need not look at the others; and,
/// when given its ancestry, whether the directory left its path.
#[derive(Debug)]
pub(crate) struct Watch {
    inotify: nix::sys::inotify::Inotify,
    /// The watches on the directories of the path, each with the name of the
    /// next step of the path in it.
    ancestors: Vec<(i32, OsString)>,
    /// Whether every one of them could be placed.
    follows_path: bool,
    /// Where events are read into: room for many, and at least one with
    /// the longest name.
    buf: Box<[u8]>,
}

impl Watch {
    /// Watches the directory open as `dir`. The watch is placed through
    /// `/proc/self/fd`, so it is on that very directory even if its path has
    /// since been replaced. With `ancestry` (each directory of the path with
    /// the name of the next step in it), those directories are watched too,
    /// in the same inotify instance, for that name being removed or renamed:
    /// a removed directory that is still open raises no event of its own (its
    /// `IN_DELETE_SELF` waits for the last descriptor). Fails where inotify
    /// or `/proc` is unavailable, or the user's inotify instances are used
    /// up; callers then list the directory on every read instead.
    pub(crate) fn new(
        dir: BorrowedFd<'_>,
        ancestry: Option<&[(PathBuf, OsString)]>,
    ) -> io::Result<Self> {
        use nix::sys::inotify::{AddWatchFlags as F, InitFlags, Inotify};
        use std::os::fd::AsRawFd;
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        let mask = F::IN_CREATE
            | F::IN_MOVED_TO
            | F::IN_MOVED_FROM
            | F::IN_DELETE
            | F::IN_CLOSE_WRITE
            | F::IN_ATTRIB
            // Truncation (and any write(2)): never raised by updates, which
            // store through the mapping; lets readers see a shrunk file
            // before they copy from it.
            | F::IN_MODIFY
            | F::IN_DELETE_SELF
            | F::IN_MOVE_SELF
            | F::IN_ONLYDIR
            // Nothing about a name once it is unlinked: its IN_DELETE said it all.
            | F::from_bits_retain(libc::IN_EXCL_UNLINK);
        let path = format!("/proc/self/fd/{}", dir.as_raw_fd());
        inotify.add_watch(path.as_str(), mask)?;
        let steps = ancestry.unwrap_or_default();
        let mask = F::IN_DELETE
            | F::IN_MOVED_FROM
            | F::IN_MOVED_TO
            | F::IN_DELETE_SELF
            | F::IN_MOVE_SELF
            | F::IN_ONLYDIR;
        // A step that cannot be watched (no access, the user's watches used
        // up) leaves the path to callers to check.
        let ancestors: Vec<_> = steps
            .iter()
            .filter_map(|(at, name)| {
                Some((inotify.add_watch(at, mask).ok()?.as_raw(), name.clone()))
            })
            .collect();
        let follows_path = ancestry.is_some() && ancestors.len() == steps.len();
        Ok(Self {
            inotify,
            ancestors,
            follows_path,
            buf: vec![0; 4096].into_boxed_slice(),
        })
    }

    /// Whether this watch tells when the directory leaves its path.
    pub(crate) fn follows_path(&self) -> bool {
        self.follows_path
    }

    /// Reports every change queued since the last call; one `read` when there
    /// is none. Allocates nothing: the events are read into the watch's own
    /// buffer and names are lent to `f` (events in the directories of the
    /// path, which other programs may fill, cost a comparison each).
    pub(crate) fn drain(&mut self, mut f: impl FnMut(Change<'_>)) -> io::Result<()> {
        use nix::sys::inotify::AddWatchFlags as F;
        use std::os::fd::AsFd;
        let gone = (F::IN_DELETE_SELF | F::IN_MOVE_SELF | F::IN_IGNORED | F::IN_UNMOUNT).bits();
        loop {
            let n = match nix::unistd::read(self.inotify.as_fd(), &mut self.buf) {
                Ok(n) => n,
                Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Ok(());
            }
            let mut events = &self.buf[..n];
            while let Some(ev) = RawEvent::take(&mut events) {
                if ev.mask & F::IN_Q_OVERFLOW.bits() != 0 {
                    f(Change::Overflow);
                } else if ev.mask & gone != 0 {
                    f(Change::Lost);
                } else if let Some((_, step)) = self.ancestors.iter().find(|(wd, _)| *wd == ev.wd) {
                    // A directory of the path: only the next step's name matters.
                    if ev.name == Some(step.as_os_str()) {
                        f(Change::Lost);
                    }
                } else if let Some(name) = ev.name {
                    f(Change::Entry {
                        name,
                        closed: ev.mask & F::IN_CLOSE_WRITE.bits() != 0,
                    });
                }
            }
        }
    }
}

/// One `struct inotify_event` as the kernel writes it: `wd`, `mask`, `cookie`
/// and `len` (native-endian 32-bit words), then `len` bytes of name padded
/// with NULs.
struct RawEvent<'a> {
    wd: i32,
    mask: u32,
    name: Option<&'a OsStr>,
}

impl<'a> RawEvent<'a> {
    /// Size of the fixed part.
    const HEADER: usize = 16;

    /// Takes the first event off `bytes` (None when none is left whole: the
    /// kernel only ever returns whole events).
    fn take(bytes: &mut &'a [u8]) -> Option<Self> {
        let word = |i: usize| -> Option<[u8; 4]> { bytes.get(i..i + 4)?.try_into().ok() };
        let wd = i32::from_ne_bytes(word(0)?);
        let mask = u32::from_ne_bytes(word(4)?);
        let len = u32::from_ne_bytes(word(12)?) as usize;
        let raw = bytes.get(Self::HEADER..Self::HEADER + len)?;
        let name = raw.split(|&b| b == 0).next().filter(|n| !n.is_empty());
        *bytes = &bytes[Self::HEADER + len..];
        Some(Self {
            wd,
            mask,
            name: name.map(OsStr::from_bytes),
        })
    }
}
