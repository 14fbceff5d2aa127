//! What a fork child must not inherit.
//!
//! A worker's liveness is the `flock` on its open file description. A child of
//! `fork()` shares that description, so without care it would keep its
//! parent's workers "alive" after the parent died. A `pthread_atfork` child
//! handler therefore points every registered lock-holding descriptor at a
//! placeholder (dropping the child's reference to the locked description while
//! the number stays taken), bumps the fork generation and caches the child's
//! pid. Handles compare the generation they were made in with the current one
//! to learn, without a system call, that they were inherited.
//!
//! The writer's mapping is made through a description of its own, never the
//! locked one (see `worker::init_file`), and with `MADV_DONTFORK` (see
//! `crate::shm`): a child does not get it at all, so it can neither write the
//! parent's status nor keep its file referenced, and an inherited handle
//! never unmaps it.
//!
//! The registry is a spin lock around a list of descriptors: the prepare
//! handler takes it so no other thread holds it at the moment of the fork, the
//! parent handler releases it, and the child handler walks the list (without
//! allocating) before releasing it.

use std::cell::UnsafeCell;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

use crossbeam_utils::Backoff;

use crate::sys;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static PID: AtomicU32 = AtomicU32::new(0);
static PLACEHOLDER: AtomicI32 = AtomicI32::new(-1);
static INIT: OnceLock<Result<OwnedFd, std::io::ErrorKind>> = OnceLock::new();

struct Registry {
    locked: AtomicBool,
    fds: UnsafeCell<Vec<RawFd>>,
}

// SAFETY: `fds` is only accessed by the holder of `locked` (see `with_fds`).
unsafe impl Sync for Registry {}

static REGISTRY: Registry = Registry {
    locked: AtomicBool::new(false),
    fds: UnsafeCell::new(Vec::new()),
};

fn lock() {
    let backoff = Backoff::new();
    // Acquire: pairs with the Release store in `unlock`, so the holder sees the
    // list as the previous holder left it.
    while REGISTRY
        .locked
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        backoff.snooze();
    }
}

fn unlock() {
    // Release: pairs with the Acquire in `lock`.
    REGISTRY.locked.store(false, Ordering::Release);
}

fn with_fds<R>(f: impl FnOnce(&mut Vec<RawFd>) -> R) -> R {
    exclusive(|| {
        // SAFETY: `exclusive` holds the registry lock, so this is the only reference.
        f(unsafe { &mut *REGISTRY.fds.get() })
    })
}

unsafe extern "C" fn prepare() {
    lock();
}

unsafe extern "C" fn parent() {
    unlock();
}

unsafe extern "C" fn child() {
    // Only the forking thread exists here, and it took the lock in `prepare`.
    // Everything below is async-signal-safe: atomics, getpid, dup3.
    PID.store(sys::getpid(), Ordering::Relaxed);
    GENERATION.fetch_add(1, Ordering::Relaxed);
    let placeholder = PLACEHOLDER.load(Ordering::Relaxed);
    // SAFETY: we hold the registry lock (taken in `prepare`).
    let fds = unsafe { &*REGISTRY.fds.get() };
    for &fd in fds {
        sys::replace_fd(placeholder, fd);
    }
    unlock();
}

/// Installs the fork handlers, once per process. Every handle calls this
/// before it registers a descriptor or reads [`pid`].
pub(crate) fn init() -> std::io::Result<()> {
    let r = INIT.get_or_init(|| {
        let placeholder = sys::open_placeholder().map_err(|e| e.kind())?;
        PLACEHOLDER.store(placeholder.as_raw_fd(), Ordering::Relaxed);
        PID.store(sys::getpid(), Ordering::Relaxed);
        sys::at_fork(prepare, parent, child).map_err(|e| e.kind())?;
        Ok(placeholder)
    });
    match r {
        Ok(_) => Ok(()),
        Err(kind) => Err((*kind).into()),
    }
}

/// Runs `f` with no `fork()` able to happen meanwhile in another thread: for
/// setting up mappings that a child must not inherit.
pub(crate) fn exclusive<R>(f: impl FnOnce() -> R) -> R {
    lock();
    let r = f();
    unlock();
    r
}

/// How many forks separate this process from the one that first called
/// [`init`]: a handle made in another generation was inherited.
#[inline]
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// This process's id, without a system call (after [`init`]).
#[inline]
pub(crate) fn pid() -> u32 {
    PID.load(Ordering::Relaxed)
}

/// A descriptor that a fork child must not keep; unregistered on drop.
///
/// Drop it *before* closing the descriptor, so the number is never replaced
/// after it has been reused for something else.
#[derive(Debug)]
pub(crate) struct Registration(RawFd);

impl Registration {
    /// Opens a descriptor with `open` and registers it, with no fork in
    /// between: a child forked in that gap would share the open file
    /// description, and with it any lock taken on it later.
    pub(crate) fn open<T: AsRawFd, E>(open: impl FnOnce() -> Result<T, E>) -> Result<(T, Self), E> {
        with_fds(|fds| {
            let file = open()?;
            let fd = file.as_raw_fd();
            fds.push(fd);
            Ok((file, Self(fd)))
        })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        with_fds(|fds| {
            if let Some(pos) = fds.iter().rposition(|&fd| fd == self.0) {
                fds.swap_remove(pos);
            }
        });
    }
}
