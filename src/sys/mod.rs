//! The platform layer: every system call the crate makes beyond std's
//! portable API, behind one contract. Only Linux implements it today
//! (`linux.rs`); any other target fails to build with a message saying so.
//!
//! # What a platform provides
//!
//! Every path below is a single name inside `base_dir`, resolved relative to
//! the directory's descriptor, never following a link. All of it is
//! `pub(crate)`; the rest of the crate calls nothing platform-specific but
//! this (it does use std's Unix extensions, `std::os::unix`, and `libc`'s
//! errno values, which every Unix has).
//!
//! Types:
//! - `FileId` (`dev`, `ino`; `FileId::of(&Metadata)`): the identity of an
//!   inode, compared before a name is removed.
//! - `Watch` (`new(dir, ancestry)`, `follows_path()`, `drain(f)`) and its
//!   events `Change` (`Entry { name, closed }`, `Overflow`, `Lost`): which
//!   names of a directory changed since the last look, and whether the
//!   directory left its path. A platform without such notifications returns
//!   an error from `Watch::new`; readers then list the directory every time.
//!   Linux keeps every watch of the process in one inotify instance, and a
//!   fork child's watches in one of its own.
//!
//! Directories and names:
//! - `open_dir(path)`, `is_removed(dir)`, `identity(fd)`, `identity_at(dir, name)`,
//!   `regular_file_owner_at(dir, name)`, `owner_and_mode(fd)`, `uid_of(&Metadata)`,
//!   `list(dir)`;
//! - `create_new(dir, name, group)` (exclusive, mode 0600, or 0640 with
//!   `group`), `open_entry(dir, name, write)`
//!   (no link followed, no blocking on a FIFO, no controlling terminal);
//! - `rename_noreplace(dir, from, to)` (atomic, never replacing),
//!   `rename_replace(dir, from, to)`, `unlink(dir, name)`;
//! - `share_dir(dir, gid)` (group `gid`, mode 2750), `in_group(gid)`.
//!
//! Files and locks:
//! - `allocate(file, off, len)`: blocks allocated, so a full file system
//!   fails there and never as a SIGBUS on a later store, and growth past the
//!   file size limit fails with `EFBIG` without raising `SIGXFSZ`;
//!   `file_size_limit()`: that limit (`RLIMIT_FSIZE`);
//! - `try_lock_removal(file)`: a non-blocking lock of an open file
//!   description, independent of the `flock` that marks a worker alive.
//!
//! Mappings:
//! - `map_unforked(file, len)`: a shared read-write mapping that fork
//!   children do not inherit; `remap_unforked(map, len)` grows it in place or
//!   by moving it, keeping that property;
//! - `max_map_count()`, `mapping_count()`: the process's mapping limit and use;
//!   `descriptors()`: its descriptor limit and use.
//!
//! Processes and fork:
//! - `getpid()` and `unsafe replace_fd(placeholder, fd)` (both
//!   async-signal-safe: the fork child handler calls them; `replace_fd` may
//!   only be given a descriptor registered with `crate::fork`), `euid()`,
//!   `open_placeholder()`,
//!   `at_fork(prepare, parent, child)`;
//! - `mono_ns()`: ns on a clock that never steps and that every process of
//!   the host shares (the monotonic clock), cheap (no system call on Linux:
//!   it is on every update's path); `mono_precise_ns()`: the same clock to
//!   the nanosecond; `wall_ns()`: ns since the Unix epoch on
//!   the wall clock; `wall_minus_mono_ns()`: their difference now, the same
//!   from one call to the next until the wall clock is set;
//! - `crash()` (feature `fault-injection`): die at once, as SIGKILL does.

#[cfg(not(target_os = "linux"))]
compile_error!(
    "parallel-scoreboard supports Linux only: it needs open-file-description \
     locks, renameat2, posix_fallocate, MADV_DONTFORK, mremap, inotify and /proc \
     (src/sys/mod.rs lists what a port must provide)"
);

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;
