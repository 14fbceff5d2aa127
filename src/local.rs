//! **Unstable** (feature `unstable-internals`, not covered by semver): this
//! crate's seqlock on process-local memory, the benchmarks' `local` column
//! (`benches/core.rs`).
//!
//! The same protocol code, the same two copies and descriptors, the same clock
//! read per update, on `AtomicU64` words on the heap instead of a mapped file:
//! what remains of a ratio to it is the price of files, mappings, liveness and
//! growth. It shares the code it is compared with, on purpose, so it is not
//! the benchmarks' independent reference: that is `benches/support/baseline.rs`,
//! which shares no code with the crate.

use crate::layout::{HEADER_LEN, INITIAL_CAP};
use crate::protocol::{self, Attempt, LocalWords, WriterState};
use crate::sys;

/// One worker's status in process-local memory.
#[derive(Debug)]
pub struct LocalSlot {
    words: LocalWords,
    state: WriterState,
}

impl LocalSlot {
    /// A slot for statuses of up to `max_len` bytes.
    #[must_use]
    pub fn new(max_len: usize) -> Self {
        let cap = (max_len as u64).next_multiple_of(8).max(INITIAL_CAP);
        let state = WriterState::with_regions([HEADER_LEN, HEADER_LEN + cap], cap);
        let words = LocalWords::new(HEADER_LEN + 2 * cap);
        protocol::init(&words, &state);
        Self { words, state }
    }

    /// Publishes `status`, as [`Worker::update`](crate::Worker::update) does.
    ///
    /// # Panics
    /// If `status` is longer than the slot's `max_len`.
    #[inline]
    pub fn update(&mut self, status: &[u8]) {
        assert!(
            status.len() as u64 <= self.state.region(0).1,
            "status too long"
        );
        protocol::write(&self.words, &mut self.state, status, sys::mono_ns());
    }

    /// Copies the published status into `buf`, as a read does; returns its
    /// update count.
    ///
    /// # Panics
    /// When there is no memory for the status.
    #[inline]
    pub fn read_into(&self, buf: &mut Vec<u8>) -> u64 {
        loop {
            match protocol::read_attempt(&self.words, buf) {
                Attempt::Done(meta) => return meta.updates,
                Attempt::Retry => std::hint::spin_loop(),
                Attempt::NeedLen(_) | Attempt::Corrupt(_) => unreachable!("sized at creation"),
                Attempt::NoMemory(n) => panic!("no memory for {n} bytes"),
            }
        }
    }
}
