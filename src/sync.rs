//! The atomics and cells the seqlock protocol and the slot table's lock are
//! written against.
//!
//! Under `--cfg loom` these are loom's model-checked atomics and cells, so the
//! protocol in [`crate::protocol`] and the lock in `crate::slots::lock` can be
//! explored exhaustively; otherwise they are std's.

#[cfg(loom)]
#[cfg_attr(not(test), allow(unused_imports))]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering, fence};
// `AtomicU64` is for process-local words (the tests' and models' backing store).
#[cfg(not(loom))]
#[cfg_attr(not(test), allow(unused_imports))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering, fence};

#[cfg(not(loom))]
pub(crate) use cell::{MutPtr, UnsafeCell};
#[cfg(loom)]
pub(crate) use loom::cell::{MutPtr, UnsafeCell};

/// std's `UnsafeCell` with the part of loom's API the crate uses: a write
/// access is a [`MutPtr`] (loom tracks it while the `MutPtr` lives).
#[cfg(not(loom))]
mod cell {
    /// A `std::cell::UnsafeCell` spelled as loom's.
    #[derive(Debug, Default)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(data: T) -> Self {
            Self(std::cell::UnsafeCell::new(data))
        }

        /// A pointer for writing; as `std::cell::UnsafeCell::get`.
        #[inline]
        pub(crate) fn get_mut(&self) -> MutPtr<T> {
            MutPtr(self.0.get())
        }
    }

    /// A raw pointer into an [`UnsafeCell`].
    #[derive(Debug)]
    pub(crate) struct MutPtr<T>(*mut T);

    impl<T> MutPtr<T> {
        /// # Safety
        /// As dereferencing a `*mut T`: the cell is alive and nothing else
        /// accesses it while the reference lives.
        #[inline]
        #[allow(clippy::mut_from_ref)]
        pub(crate) unsafe fn deref(&self) -> &mut T {
            // SAFETY: the caller's contract.
            unsafe { &mut *self.0 }
        }
    }
}

/// One step of a model reader's retry loop: loom needs a yield to explore a
/// spin loop without diverging.
#[cfg(all(loom, test))]
#[inline]
pub(crate) fn spin_hint() {
    loom::thread::yield_now();
}
