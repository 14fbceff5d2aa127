//! The Linux implementation of the platform contract (see `super`):
//! directory-relative operations, `renameat2(RENAME_NOREPLACE)`,
//! open-file-description locks, `posix_fallocate`, mappings with
//! `MADV_DONTFORK` and `mremap`, inotify, `/proc`, and the fork hooks. Every
//! path here is a single name inside `base_dir`, resolved relative to its
//! handle, never following a link.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use memmap2::{Advice, MmapOptions, MmapRaw, RemapOptions};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, FcntlArg, OFlag, RenameFlags};
use nix::sys::stat::{FileStat, Mode};
use nix::unistd::UnlinkatFlags;

mod watch;

pub(crate) use watch::{Change, Watch};

/// Identity of an inode: what a name must still point to before it is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

impl FileId {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    fn of_stat(st: &FileStat) -> Self {
        Self {
            dev: st.st_dev,
            ino: st.st_ino,
        }
    }
}

/// Opens `base_dir` itself (following a link there: the caller named it).
pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// Whether the directory `dir` has been removed (it has no links left).
pub(crate) fn is_removed(dir: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(nix::sys::stat::fstat(dir)?.st_nlink == 0)
}

/// The inode open as `fd`.
pub(crate) fn identity(fd: BorrowedFd<'_>) -> io::Result<FileId> {
    Ok(FileId::of_stat(&nix::sys::stat::fstat(fd)?))
}

/// Creates `name` in `dir`, which must not exist: read-write, mode 0600; or,
/// with `group`, mode 0640 and that group (whatever the umask), for a board
/// shared with the group for reading.
pub(crate) fn create_new(dir: BorrowedFd<'_>, name: &str, group: Option<u32>) -> io::Result<File> {
    let fd = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::S_IRUSR | Mode::S_IWUSR,
    )?;
    if let Some(gid) = group {
        // A setgid directory gave the file its group already; otherwise it
        // has this process's group, and a member may give it the board's.
        // A process outside the group may not: its file keeps its group
        // (the group's readers then skip it, saying why) rather than the
        // worker failing.
        if nix::sys::stat::fstat(&fd)?.st_gid != gid {
            match nix::unistd::fchown(&fd, None, Some(nix::unistd::Gid::from_raw(gid))) {
                Ok(()) | Err(Errno::EPERM) => {}
                Err(e) => return Err(e.into()),
            }
        }
        nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(0o640))?;
    }
    Ok(File::from(fd))
}

/// Shares the directory open as `dir` with group `gid` for reading: that
/// group, mode 2750 (setgid: entries made in it take its group).
pub(crate) fn share_dir(dir: BorrowedFd<'_>, gid: u32) -> io::Result<()> {
    nix::unistd::fchown(dir, None, Some(nix::unistd::Gid::from_raw(gid)))?;
    nix::sys::stat::fchmod(dir, Mode::from_bits_truncate(0o2750))?;
    Ok(())
}

/// Whether this process is in group `gid` (its effective group or one of its
/// supplementary groups).
pub(crate) fn in_group(gid: u32) -> io::Result<bool> {
    if nix::unistd::getegid().as_raw() == gid {
        return Ok(true);
    }
    Ok(nix::unistd::getgroups()?.iter().any(|g| g.as_raw() == gid))
}

/// Opens the entry `name` of `dir` without following a link, without blocking
/// on a FIFO and without becoming a controlling terminal.
pub(crate) fn open_entry(dir: BorrowedFd<'_>, name: &str, write: bool) -> io::Result<File> {
    let access = if write {
        OFlag::O_RDWR
    } else {
        OFlag::O_RDONLY
    };
    let fd = nix::fcntl::openat(
        dir,
        name,
        access | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}

/// Renames `from` to `to` in `dir`, failing with `AlreadyExists` if `to` exists.
pub(crate) fn rename_noreplace(dir: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    match nix::fcntl::renameat2(dir, from, dir, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(()),
        // File systems without RENAME_NOREPLACE: link(2) never replaces either.
        Err(Errno::EINVAL | Errno::ENOSYS) => {
            nix::unistd::linkat(dir, from, dir, to, AtFlags::empty())?;
            // The new name is in place; a leftover temporary name is an extra
            // link that the next cleanup removes, so this error is not fatal.
            let _ = unlink(dir, from);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Renames `from` to `to` in `dir`, replacing `to`.
pub(crate) fn rename_replace(dir: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    Ok(nix::fcntl::renameat(dir, from, dir, to)?)
}

/// Removes the name `name` from `dir`.
pub(crate) fn unlink(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    Ok(nix::unistd::unlinkat(
        dir,
        name,
        UnlinkatFlags::NoRemoveDir,
    )?)
}

/// The inode `name` in `dir` points to, without following a link.
pub(crate) fn identity_at<P: ?Sized + AsRef<OsStr>>(
    dir: BorrowedFd<'_>,
    name: &P,
) -> io::Result<FileId> {
    let st = nix::sys::stat::fstatat(dir, name.as_ref(), AtFlags::AT_SYMLINK_NOFOLLOW)?;
    Ok(FileId::of_stat(&st))
}

/// The owner of the entry `name` of `dir` if it is a regular file (`None`
/// for anything else), looked at without opening it or following a link.
pub(crate) fn regular_file_owner_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<u32>> {
    let st = nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let regular = st.st_mode & libc::S_IFMT == libc::S_IFREG;
    Ok(regular.then_some(st.st_uid))
}

/// Tries to take the removal lock of a dead status file: an open-file-description
/// write lock on its first byte. Independent of the `flock` that marks liveness,
/// released when `file` is closed, never waits. `file` must be open read-write.
pub(crate) fn try_lock_removal(file: &File) -> io::Result<bool> {
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are valid.
    let mut lk: libc::flock = unsafe { std::mem::zeroed() };
    lk.l_type = libc::F_WRLCK as libc::c_short;
    lk.l_whence = libc::SEEK_SET as libc::c_short;
    lk.l_start = 0;
    lk.l_len = 1;
    match nix::fcntl::fcntl(file, FcntlArg::F_OFD_SETLK(&lk)) {
        Ok(_) => Ok(true),
        Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Allocates the blocks of `file` from `off` for `len` bytes, extending it:
/// a full file system fails here, never as a SIGBUS on a later store.
///
/// An extension past the process's file size limit fails with `EFBIG`
/// before any call that would raise `SIGXFSZ` (whose default action kills
/// the process): the limit is read first (one `getrlimit`).
pub(crate) fn allocate(file: &File, off: u64, len: u64) -> io::Result<()> {
    let end = off.checked_add(len).ok_or(io::ErrorKind::FileTooLarge)?;
    if file_size_limit()?.is_some_and(|limit| end > limit) {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    }
    let off = i64::try_from(off).map_err(|_| io::ErrorKind::FileTooLarge)?;
    let len = i64::try_from(len).map_err(|_| io::ErrorKind::FileTooLarge)?;
    Ok(nix::fcntl::posix_fallocate(file, off, len)?)
}

/// The process's file size limit (`RLIMIT_FSIZE`, soft), `None` when there is
/// none. One system call: made only where a file is about to grow.
pub(crate) fn file_size_limit() -> io::Result<Option<u64>> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit, which we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &raw mut rl) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((rl.rlim_cur != libc::RLIM_INFINITY).then_some(rl.rlim_cur))
}

/// Maps the first `len` bytes of `file` (open read-write, its blocks
/// allocated) shared and read-write, with `MADV_DONTFORK`: a fork child does
/// not get the mapping at all. The caller keeps forks out between the two
/// calls (`fork::exclusive`).
pub(crate) fn map_unforked(file: &File, len: usize) -> io::Result<MmapRaw> {
    let map = MmapOptions::new().len(len).map_raw(file)?;
    map.advise(Advice::DontFork)?;
    Ok(map)
}

/// Resizes a mapping made by [`map_unforked`] to `len` bytes with `mremap`,
/// moving it if it must; fork children still do not get it.
///
/// # Safety
/// The file must be at least `len` bytes long (no page of the new mapping
/// beyond its end), and no reference into the old mapping may outlive this
/// call (it may move).
pub(crate) unsafe fn remap_unforked(map: &mut MmapRaw, len: usize) -> io::Result<()> {
    // SAFETY: the caller's contract is `remap`'s.
    unsafe { map.remap(len, RemapOptions::new().may_move(true)) }?;
    // mremap keeps the advice; setting it again costs one call per growth.
    map.advise(Advice::DontFork)
}

/// The names in `dir`, `.` and `..` left out.
pub(crate) fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let mut d = nix::dir::Dir::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for entry in d.iter() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name.to_vec()));
        }
    }
    Ok(names)
}

/// The most mappings a process may have (`/proc/sys/vm/max_map_count`).
pub(crate) fn max_map_count() -> io::Result<usize> {
    let text = std::fs::read_to_string("/proc/sys/vm/max_map_count")?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "max_map_count is not a number"))
}

/// How many mappings this process has now: the lines of `/proc/self/maps`,
/// counted through a fixed buffer (no allocation however many there are).
// Counted once per reader: not worth a dependency (`bytecount`).
#[allow(clippy::naive_bytecount)]
pub(crate) fn mapping_count() -> io::Result<usize> {
    use std::io::Read;
    let mut maps = File::open("/proc/self/maps")?;
    let mut buf = [0u8; 16 * 1024];
    let mut lines = 0;
    loop {
        match maps.read(&mut buf) {
            Ok(0) => return Ok(lines),
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// This process's soft limit on open descriptors (`RLIMIT_NOFILE`), and how
/// many it has open: the entries of `/proc/self/fd`, less the one the
/// listing itself holds. One `getrlimit` and a directory listing: for rare
/// decisions, not for a hot path.
#[cfg(feature = "tower")]
pub(crate) fn descriptors() -> io::Result<(u64, usize)> {
    let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)?;
    let open = std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1);
    Ok((soft, open))
}

/// Now on the coarse monotonic clock, in ns (since boot, in practice): read
/// from the vDSO without a system call in a few ns, with the resolution of
/// one kernel tick (1 to 4 ms), plenty for "seconds since the last update".
/// It never steps: setting the wall clock (by hand, or an NTP step) leaves
/// it alone, and it is the same for every process of the host (of one time
/// namespace). Inline: it is on every update's path.
#[inline]
pub(crate) fn mono_ns() -> u64 {
    coarse_ns(libc::CLOCK_MONOTONIC_COARSE)
        .or_else(|| coarse_ns(libc::CLOCK_MONOTONIC))
        .unwrap_or(0)
}

/// Now on the monotonic clock, to the nanosecond (`CLOCK_MONOTONIC`, a vDSO
/// read): for durations finer than a tick, on the clock [`mono_ns`] reads
/// to a tick.
#[inline]
pub(crate) fn mono_precise_ns() -> u64 {
    coarse_ns(libc::CLOCK_MONOTONIC).unwrap_or(0)
}

/// Now on the coarse real-time (wall) clock, in ns since the Unix epoch.
pub(crate) fn wall_ns() -> u64 {
    coarse_ns(libc::CLOCK_REALTIME_COARSE)
        .or_else(|| coarse_ns(libc::CLOCK_REALTIME))
        .unwrap_or(0)
}

/// The wall clock less the monotonic clock, in ns: what turns a time of
/// [`mono_ns`] into one of the wall clock, as this process's wall clock
/// reads now.
///
/// The coarse clocks both hold the time of the latest kernel tick, and their
/// difference changes only when the wall clock is set (slewing moves both
/// alike): read within one tick, it is exact to the nanosecond, so times
/// converted by two calls agree exactly unless the wall clock was set in
/// between. A tick is known to have passed between the reads when the wall
/// clock read before and after the monotonic one differ: then it is read
/// again.
pub(crate) fn wall_minus_mono_ns() -> i64 {
    let pair = |wall, mono| {
        let mut last = None;
        for _ in 0..4 {
            let before = coarse_ns(wall)?;
            let m = coarse_ns(mono)?;
            let after = coarse_ns(wall)?;
            let offset = i64::try_from(after)
                .ok()?
                .wrapping_sub(i64::try_from(m).ok()?);
            if before == after {
                return Some(offset);
            }
            last = Some(offset);
        }
        last
    };
    pair(libc::CLOCK_REALTIME_COARSE, libc::CLOCK_MONOTONIC_COARSE)
        .or_else(|| pair(libc::CLOCK_REALTIME, libc::CLOCK_MONOTONIC))
        .unwrap_or(0)
}

/// One read of `clock`, in ns. libc directly rather than nix: nix copies the
/// `timespec` the vDSO has just written as two 8-byte stores with one 16-byte
/// load, which the CPU cannot forward from the stores and stalls on (measured:
/// BENCHMARKS.md, "The fixed cost of a 64 B update"). Each field is loaded on
/// its own here.
#[inline]
fn coarse_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    if unsafe { libc::clock_gettime(clock, &raw mut ts) } != 0 {
        return None;
    }
    // A clock set before 1970 reads as 0. No overflow check: `tv_nsec` is
    // below 10^9, and u64 nanoseconds last until the year 2554.
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    Some(
        secs.wrapping_mul(1_000_000_000)
            .wrapping_add(ts.tv_nsec.cast_unsigned()),
    )
}

/// This process's id, from the kernel. Async-signal-safe: the fork child
/// handler calls it.
pub(crate) fn getpid() -> u32 {
    nix::unistd::getpid().as_raw().cast_unsigned()
}

/// The owner of the file `meta` describes.
pub(crate) fn uid_of(meta: &std::fs::Metadata) -> u32 {
    meta.uid()
}

/// The effective user id.
pub(crate) fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Opens the placeholder that fork children put in place of inherited
/// lock-holding descriptors.
pub(crate) fn open_placeholder() -> io::Result<OwnedFd> {
    nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .or_else(|_| {
        nix::fcntl::open(
            "/",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    })
    .map_err(io::Error::from)
}

/// Makes `fd` refer to what `placeholder` refers to, dropping this process's
/// reference to `fd`'s open file description (and so to its locks) while the
/// descriptor number stays taken. Async-signal-safe: called in a fork child.
///
/// # Safety
/// `placeholder` must be open, and `fd` must be open and owned by a handle
/// whose owner expects this replacement (a descriptor registered with
/// `crate::fork`, which is unregistered before it is closed): any other
/// number may belong to someone else's file, which this would silently
/// swap for the placeholder under them.
pub(crate) unsafe fn replace_fd(placeholder: RawFd, fd: RawFd) {
    // SAFETY: dup3 only touches the descriptor table, and `fd`'s owner
    // expects the swap (the caller's contract). An error (a number not open)
    // leaves nothing to do.
    unsafe { libc::dup3(placeholder, fd, libc::O_CLOEXEC) };
}

/// Registers handlers that run around every `fork()`.
pub(crate) fn at_fork(
    prepare: unsafe extern "C" fn(),
    parent: unsafe extern "C" fn(),
    child: unsafe extern "C" fn(),
) -> io::Result<()> {
    // SAFETY: the handlers are `extern "C"` functions that live for the whole
    // program and are safe to call at fork (see `crate::fork`).
    let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Kills this process with SIGKILL at once: no destructor, no exit handler, no
/// unlock by the library, exactly as a crash or an OOM kill.
#[cfg(feature = "fault-injection")]
pub(crate) fn crash() -> ! {
    // SAFETY: kill has no memory-safety preconditions; SIGKILL cannot be
    // caught, so this process ends here.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    unreachable!("SIGKILL returned")
}

/// The owner, the group and the mode bits of the file open as `fd`.
pub(crate) fn owner_and_mode(fd: BorrowedFd<'_>) -> io::Result<(u32, u32, u32)> {
    let st = nix::sys::stat::fstat(fd)?;
    Ok((st.st_uid, st.st_gid, st.st_mode))
}
