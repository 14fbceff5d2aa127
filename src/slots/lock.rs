//! The slot table's lock: a spin lock released by a plain store.
//!
//! [`Scoreboard::update`](crate::Scoreboard::update) takes its board's table
//! lock on every call, around a status update of a few stores. An uncontended
//! `std::sync::Mutex` costs a `lock cmpxchg` to take and an `xchg` to release
//! (a swap, to learn whether a sleeper needs waking), and the swap waits for
//! the update's stores to drain. This lock is released by a Release store,
//! with no read-modify-write, and its waiters never sleep, so there is no
//! wake-up to miss:
//!
//! 1. Take: `compare_exchange` from free to held (Acquire).
//! 2. Contended: spin, then yield (`crossbeam_utils::Backoff::snooze`), and
//!    retry step 1 (or take over, see "Fork" below). Never a futex.
//! 3. Release, when the [`Guard`] drops (unwinding included): store free
//!    (Release, pairs with the Acquire of step 1 of the next holder).
//!
//! The trade-off: while the holder creates or grows a status file (the first
//! update of a slot, or one whose status outgrew its region: rare, at most
//! milliseconds), a waiter yields in a loop instead of sleeping. That is
//! acceptable here: the lock guards one board's table, taken by the threads
//! of one process that update through that board; its critical sections are
//! one update (a few stores) except first use and growth, so a waiter almost
//! always gets it within its spin.
//!
//! Measured, this did not make updates faster: in a loop of updates the next
//! `lock cmpxchg` waits for the stores to drain whatever released the lock
//! (BENCHMARKS.md, "The slot table's lock"). It is kept for what it does in a
//! fork child (below).
//!
//! No poisoning: a panic under the lock releases it, and the next holder sees
//! the data as the panic left it (the slot table is left consistent by every
//! change it makes: `crate::slots`).
//!
//! # Fork
//!
//! The held state is the fork generation (plus one) of the holder's process,
//! as [`Lock::lock`] is told it. A thread that another thread's `fork()`
//! caught holding the lock does not exist in the child, so the child's copy
//! would stay held forever (a `std::sync::Mutex` does: the child's first
//! locker sleeps for good). Here a waiter that finds the lock held in an older
//! generation takes it over, and its guard says so
//! ([`Guard::abandoned`]): the data may have been caught mid-change, so the
//! new holder must not use it (the slot table leaks it, see
//! `slots::forget_inherited`).
//! This needs the caller's generation to change in the child, which
//! `crate::fork`'s handlers do once installed (by the board's first worker,
//! made under this lock): a fork in the moment before, while another thread
//! holds the lock, leaves the child's copy held for good, as a `Mutex` would.
//! Its waiters then yield in a loop where a `Mutex`'s would sleep.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

use crate::sync::{AtomicU64, MutPtr, Ordering, UnsafeCell};

/// Free.
const FREE: u64 = 0;

/// A mutual-exclusion lock whose release is one store; see the module docs.
pub(crate) struct Lock<T> {
    /// [`FREE`], or the holder's fork generation plus one.
    state: AtomicU64,
    data: UnsafeCell<T>,
}

// SAFETY: `data` is only reached through a `Guard`, and at most one guard
// exists at a time (the holder of `state`), so sharing the lock shares `T`
// only by moving exclusive access between threads: `T: Send` suffices, as
// for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for Lock<T> {}

/// Exclusive access to a [`Lock`]'s data; releases the lock when dropped.
pub(crate) struct Guard<'a, T> {
    lock: &'a Lock<T>,
    /// Dropped (ending loom's record of the access) before the release.
    data: ManuallyDrop<MutPtr<T>>,
    abandoned: bool,
}

impl<T> Lock<T> {
    pub(crate) fn new(data: T) -> Self {
        Self {
            state: AtomicU64::new(FREE),
            data: UnsafeCell::new(data),
        }
    }

    /// Takes the lock, waiting (spinning, then yielding) while another
    /// thread holds it. `generation` is the caller's fork generation.
    #[inline]
    pub(crate) fn lock(&self, generation: u64) -> Guard<'_, T> {
        let tag = generation.wrapping_add(1).max(1);
        // Step 1. Acquire: pairs with the Release store in `Guard::drop`.
        let abandoned =
            match self
                .state
                .compare_exchange_weak(FREE, tag, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => false,
                Err(_) => self.lock_contended(tag),
            };
        Guard {
            lock: self,
            data: ManuallyDrop::new(self.data.get_mut()),
            abandoned,
        }
    }

    /// Step 2: waits for the lock; returns whether it was taken over from
    /// an older fork generation.
    #[cold]
    #[inline(never)]
    fn lock_contended(&self, tag: u64) -> bool {
        let wait = Wait::new();
        loop {
            let held = self.state.load(Ordering::Relaxed);
            // From free, or (a fork child) from a holder that is gone.
            let from_gone = held != FREE && held != tag;
            if held == FREE || from_gone {
                // Acquire: pairs with the Release store in `Guard::drop`.
                if self
                    .state
                    .compare_exchange_weak(held, tag, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return from_gone;
                }
            }
            wait.snooze();
        }
    }
}

impl<T> Guard<'_, T> {
    /// Whether the lock was taken over from a holder that a `fork()` left
    /// behind: the data may be mid-change, and must be replaced, not used.
    #[inline]
    pub(crate) fn abandoned(&self) -> bool {
        self.abandoned
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock, so no other reference to the
        // data exists; `data` points into `lock`, which outlives the guard.
        unsafe { MutPtr::deref(&self.data) }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference
        // the guard hands out.
        unsafe { MutPtr::deref(&self.data) }
    }
}

impl<T> Drop for Guard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: dropped only here, once, and not used after.
        unsafe { ManuallyDrop::drop(&mut self.data) };
        // Step 3. Release: pairs with the Acquire of step 1 or 2 of the next
        // holder, so it sees every write made under this guard.
        self.lock.state.store(FREE, Ordering::Release);
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}

impl<T: fmt::Debug> fmt::Debug for Guard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("data", &**self)
            .field("abandoned", &self.abandoned)
            .finish()
    }
}

/// Step 2's wait: `Backoff`'s spin, then yields; under loom a yield each time
/// (loom needs one to explore a spin loop).
struct Wait(#[cfg(not(loom))] crossbeam_utils::Backoff);

impl Wait {
    fn new() -> Self {
        Self(
            #[cfg(not(loom))]
            crossbeam_utils::Backoff::new(),
        )
    }

    #[cfg_attr(loom, allow(clippy::unused_self))]
    fn snooze(&self) {
        #[cfg(not(loom))]
        self.0.snooze();
        #[cfg(loom)]
        loom::thread::yield_now();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_guard_released_by_unwinding_frees_the_lock() {
        let lock = Lock::new(0_u32);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut g = lock.lock(0);
            *g += 1;
            // No panic hook: nothing printed.
            std::panic::resume_unwind(Box::new(()));
        }));
        assert!(r.is_err());
        let g = lock.lock(0);
        assert_eq!((*g, g.abandoned()), (1, false));
    }

    #[test]
    fn threads_take_turns() {
        let lock = Lock::new(0_u64);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        *lock.lock(0) += 1;
                    }
                });
            }
        });
        assert_eq!(*lock.lock(0), 40_000);
    }

    #[test]
    fn a_holder_of_an_older_generation_is_taken_over_once() {
        let lock = Lock::new(7_u32);
        // Held in generation 0 by a thread a fork left behind.
        std::mem::forget(lock.lock(0));
        let g = lock.lock(1);
        assert!(g.abandoned());
        drop(g);
        let g = lock.lock(1);
        assert_eq!((*g, g.abandoned()), (7, false));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// `loom::model` with room for the waiters' spins: each is a branch, more
    /// than loom's default 1,000 with three preemptions.
    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.max_branches = 10_000;
        b.check(f);
    }

    /// Two threads increment a plain counter under the lock: loom's
    /// `UnsafeCell` fails the model if the accesses can race. (A third
    /// thread's spins take the release pass past ten minutes.)
    #[test]
    fn loom_lock_excludes() {
        model(|| {
            let lock = Arc::new(Lock::new(0_u32));
            let l = Arc::clone(&lock);
            let t = thread::spawn(move || *l.lock(0) += 1);
            *lock.lock(0) += 1;
            t.join().unwrap();
            assert_eq!(*lock.lock(0), 2);
        });
    }

    /// A guard dropped by unwinding releases the lock, and its writes are
    /// seen by the next holder.
    #[test]
    fn loom_lock_released_by_unwinding() {
        model(|| {
            let lock = Arc::new(Lock::new(0_u32));
            let l = Arc::clone(&lock);
            let t = thread::spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut g = l.lock(0);
                    *g += 1;
                    // No panic hook: nothing printed.
                    std::panic::resume_unwind(Box::new(()));
                }));
                assert!(r.is_err());
            });
            *lock.lock(0) += 1;
            t.join().unwrap();
            assert_eq!(*lock.lock(0), 2);
        });
    }

    /// In a fork child (generation 1), two threads race for a lock held by
    /// a parent's thread (generation 0): exactly one takes it over.
    #[test]
    fn loom_lock_taken_over_from_a_gone_holder_once() {
        model(|| {
            let lock = Arc::new(Lock::new(0_u32));
            // As a fork leaves it: held in generation 0, no access under way.
            lock.state.store(1, Ordering::Relaxed);
            let l = Arc::clone(&lock);
            let t = thread::spawn(move || {
                let mut g = l.lock(1);
                *g += 1;
                g.abandoned()
            });
            let mine = {
                let mut g = lock.lock(1);
                *g += 1;
                g.abandoned()
            };
            let theirs = t.join().unwrap();
            assert!(mine != theirs, "one takeover: {mine} {theirs}");
            assert_eq!(*lock.lock(1), 2);
        });
    }
}
