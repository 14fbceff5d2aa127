//! The atomics the seqlock protocol is written against.
//!
//! Under `--cfg loom` these are loom's model-checked atomics, so the protocol in
//! [`crate::protocol`] can be explored exhaustively; otherwise they are std's.

#[cfg(loom)]
#[cfg_attr(not(test), allow(unused_imports))]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering, fence};
// `AtomicU64` is for process-local words (the tests' and models' backing store).
#[cfg(not(loom))]
#[cfg_attr(not(test), allow(unused_imports))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering, fence};

/// One step of a model reader's retry loop: loom needs a yield to explore a
/// spin loop without diverging.
#[cfg(all(loom, test))]
#[inline]
pub(crate) fn spin_hint() {
    loom::thread::yield_now();
}
