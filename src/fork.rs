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
use std::ops::Deref;
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

/// The registry lock, held until dropped: a panic or an early return under it
/// still releases it (else every later `fork()` would spin in `prepare`).
///
/// The fork handlers cannot use it: the lock is taken in `prepare` and
/// released in `parent` or `child`, three calls the C library makes.
struct RegistryGuard(());

impl RegistryGuard {
    fn take() -> Self {
        lock();
        Self(())
    }
}

impl Drop for RegistryGuard {
    fn drop(&mut self) {
        unlock();
    }
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
        // SAFETY: `placeholder` is kept open for the life of the process
        // (`INIT` owns it), and every registered number is open and owned by
        // its `Registered` handle, which unregisters it before closing it; the
        // registry lock is held, so none is closed meanwhile. Those handles
        // expect the swap in a child (module docs).
        unsafe { sys::replace_fd(placeholder, fd) };
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
///
/// The lock is released however `f` ends, by returning or by unwinding.
pub(crate) fn exclusive<R>(f: impl FnOnce() -> R) -> R {
    let _guard = RegistryGuard::take();
    f()
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

/// A descriptor that a fork child must not keep, owned with its place in
/// the registry.
///
/// Dropped, it unregisters the number and only then closes the descriptor
/// (the body of `drop` runs before the fields are dropped), so the child
/// handler never replaces a number that was closed and reused for something
/// else.
#[derive(Debug)]
pub(crate) struct Registered<T: AsRawFd> {
    handle: T,
    /// `handle`'s number, as registered.
    fd: RawFd,
}

impl<T: AsRawFd> Registered<T> {
    /// Opens a descriptor with `open` and registers it, with no fork in
    /// between: a child forked in that gap would share the open file
    /// description, and with it any lock taken on it later.
    pub(crate) fn open<E>(open: impl FnOnce() -> Result<T, E>) -> Result<Self, E> {
        with_fds(|fds| {
            let handle = open()?;
            let fd = handle.as_raw_fd();
            fds.push(fd);
            Ok(Self { handle, fd })
        })
    }
}

impl<T: AsRawFd> Deref for Registered<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.handle
    }
}

impl<T: AsRawFd> Drop for Registered<T> {
    fn drop(&mut self) {
        with_fds(|fds| {
            if let Some(pos) = fds.iter().rposition(|&fd| fd == self.fd) {
                fds.swap_remove(pos);
            }
        });
        // `handle` is closed after this returns.
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::process::Command;

    use std::time::{Duration, Instant};
    use testkit::Reaped;

    use super::*;

    /// Set in the process this test re-executes itself as.
    const INNER: &str = "PSB_FORK_PANIC_INNER";

    /// In the re-executed process: a panic under `exclusive`, caught, then a
    /// `fork()`, whose child exits 0 and is reaped within a few seconds. With
    /// the registry lock left held, `fork()` never returns here (`prepare`
    /// spins), and the outer test's timeout fails it.
    fn panic_then_fork() {
        init().unwrap();
        // Quiet: the panic is the point, its message and backtrace are noise.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let caught = std::panic::catch_unwind(|| exclusive(|| panic!("a panic under exclusive")));
        std::panic::set_hook(hook);
        assert!(caught.is_err());
        // SAFETY: the child calls only `_exit`, which is async-signal-safe.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(0) };
        }
        let t0 = Instant::now();
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is ours to write.
        while unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) } == 0 {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "the child never exited"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status:#x}"
        );
    }

    /// Whether `fd` is an open descriptor of this process.
    fn is_open(fd: RawFd) -> bool {
        // SAFETY: `F_GETFD` only reads the descriptor table, for any number.
        unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
    }

    #[test]
    fn a_registered_descriptor_is_unregistered_before_it_is_closed() {
        init().unwrap();
        let file = Registered::open(|| std::fs::File::open("/dev/null")).unwrap();
        let fd = file.as_raw_fd();
        // With the registry locked, the drop cannot unregister the number:
        // it must wait, its descriptor still open. Were it closed first, a
        // fork meanwhile would replace a number that may already be reused.
        let dropper = exclusive(|| {
            // SAFETY: `exclusive` holds the registry lock.
            let fds = unsafe { &*REGISTRY.fds.get() };
            assert!(fds.contains(&fd), "not registered");
            let dropper = std::thread::spawn(move || drop(file));
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(200) {
                assert!(is_open(fd), "closed while still registered");
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(!dropper.is_finished(), "dropped without the registry lock");
            dropper
        });
        // The lock is released: the drop finishes.
        dropper.join().unwrap();
    }

    #[test]
    fn a_panic_under_exclusive_leaves_fork_working() {
        if std::env::var_os(INNER).is_some() {
            return panic_then_fork();
        }
        // In a process of its own: the lock is process-wide, and a fork that
        // hangs must be killed, not waited for.
        let name = "fork::tests::a_panic_under_exclusive_leaves_fork_working";
        let child = Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--test-threads=1", "--nocapture"])
            .env(INNER, "1")
            .spawn()
            .unwrap();
        // Killed and reaped however the test ends.
        let mut child = Reaped::new(child);
        let t0 = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "fork() hung after a panic under exclusive: the registry lock was left held"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "the re-executed test failed: {status}");
    }
}
