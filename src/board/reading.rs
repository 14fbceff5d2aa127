//! The board's reader, behind a lock that no fork child inherits held.
//!
//! A read holds the reader's `Mutex` for its whole length (a listing of
//! 100,000 workers takes a tenth of a second), so waiters must sleep, not
//! spin. But a `Mutex` that another thread held at a `fork()` stays locked
//! in the child for good: that thread does not exist there. So the mutex is
//! reached through a pointer tagged with the fork generation it belongs to:
//!
//! 1. In the generation of the tag (every read of a process that has not
//!    forked since the board was made): an `Acquire` load of the tag, one of
//!    the pointer, then the mutex as usual.
//! 2. In a later generation (a fork child's first read): under `renewing`
//!    (the slot table's generation-aware spin lock, which a child takes over
//!    from a holder the fork left behind), the mutex is tried. Free: no
//!    thread was reading at the fork, and the inherited reader is whole; it
//!    is dropped (its mappings unmapped, its watch let go without touching
//!    the parent's) and a fresh one put in its place. Held: a thread that
//!    does not exist here was mid-read, and the reader may be mid-change; it
//!    is leaked, never read nor dropped, and a new mutex with a fresh reader
//!    replaces it. Then the tag is stored (`Release`, pairs with step 1).
//!
//! A fresh reader starts from the board's settings alone: the directory is
//! looked up again, the watch set up again, every file mapped again. A
//! replaced mutex is never freed, so a pointer loaded in step 1 stays valid
//! for as long as the board.

use std::path::PathBuf;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use crate::dir::BaseDir;
use crate::fork;
use crate::reader::Reader;
use crate::slots::lock::Lock;

/// What a fresh reader is made of: the board's settings.
#[derive(Debug)]
pub(super) struct Settings {
    pub(super) path: PathBuf,
    pub(super) watch: bool,
    pub(super) settle: Duration,
    pub(super) max_mappings: Option<usize>,
}

impl Settings {
    fn reader(&self, dir: Option<Arc<BaseDir>>) -> Reader {
        Reader::new(&self.path, dir, self.watch, self.settle).max_mappings(self.max_mappings)
    }
}

/// A board's reader, locked for each read; see the module docs.
pub(super) struct ReaderLock {
    /// The fork generation `current` belongs to.
    generation: AtomicU64,
    /// From `Box::into_raw`; freed only by `drop`, and only the last one.
    current: AtomicPtr<Mutex<Reader>>,
    /// Held while a fork child renews the reader.
    renewing: Lock<()>,
    settings: Settings,
}

impl std::fmt::Debug for ReaderLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderLock")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ReaderLock {
    /// A reader of the board `settings` describe, which found `dir` at its path.
    pub(super) fn new(settings: Settings, dir: Option<Arc<BaseDir>>) -> Self {
        let reader = Box::new(Mutex::new(settings.reader(dir)));
        Self {
            generation: AtomicU64::new(fork::generation()),
            current: AtomicPtr::new(Box::into_raw(reader)),
            renewing: Lock::new(()),
            settings,
        }
    }

    /// Locks the reader, renewing it first in a fork child.
    #[inline]
    pub(super) fn lock(&self) -> MutexGuard<'_, Reader> {
        let generation = fork::generation();
        // Step 1. Acquire: pairs with the Release store of step 2, so the
        // pointer loaded next is the one stored for this generation.
        let current = if self.generation.load(Ordering::Acquire) == generation {
            self.current.load(Ordering::Relaxed)
        } else {
            self.renew(generation)
        };
        // SAFETY: `current` came from `Box::into_raw`, and a mutex it points
        // to is freed only when `self` is dropped (a replaced one is leaked).
        let mutex = unsafe { &*current };
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Step 2: puts a fresh reader in place for `generation`; returns the
    /// mutex now current.
    #[cold]
    #[inline(never)]
    fn renew(&self, generation: u64) -> *mut Mutex<Reader> {
        let _renewing = self.renewing.lock(generation);
        let current = self.current.load(Ordering::Relaxed);
        if self.generation.load(Ordering::Relaxed) == generation {
            // Another thread of this child renewed it meanwhile.
            return current;
        }
        // SAFETY: as in `lock`.
        let mutex = unsafe { &*current };
        let renewed = match mutex.try_lock() {
            Ok(mut reader) => {
                *reader = self.settings.reader(None);
                current
            }
            Err(TryLockError::Poisoned(p)) => {
                *p.into_inner() = self.settings.reader(None);
                current
            }
            Err(TryLockError::WouldBlock) => {
                // Held by a thread the fork left behind: leaked.
                let fresh = Box::new(Mutex::new(self.settings.reader(None)));
                let fresh = Box::into_raw(fresh);
                self.current.store(fresh, Ordering::Relaxed);
                fresh
            }
        };
        // Step 2's end. Release: pairs with the Acquire of step 1.
        self.generation.store(generation, Ordering::Release);
        renewed
    }
}

impl Drop for ReaderLock {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        // SAFETY: as in `lock`; `&mut self`: no other thread uses it.
        let mutex = unsafe { &*current };
        if *self.generation.get_mut() != fork::generation()
            && matches!(mutex.try_lock(), Err(TryLockError::WouldBlock))
        {
            // Inherited held by a thread the fork left behind: leaked.
            return;
        }
        // SAFETY: from `Box::into_raw`, not freed before (a replaced one is
        // never freed), and not used after this.
        drop(unsafe { Box::from_raw(current) });
    }
}
