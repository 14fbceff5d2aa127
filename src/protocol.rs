//! The seqlock protocol between one writer and any number of readers.
//!
//! A status file holds two copies of the status. The writer only ever writes the
//! copy that is *not* published, then publishes it; readers take the published
//! copy. Each copy has its own sequence word, odd while the copy is written.
//!
//! The writer's steps ([`write()`]) and the reader's ([`read_attempt`]) are
//! written once, in docs/protocol.md ("The seqlock protocol"); the
//! `Step N` comments below carry the same numbers, and say what each fence
//! pairs with.
//!
//! Readers only ever make Relaxed loads and Acquire fences, the one kind of
//! atomic access that is defined on read-only mapped memory (a long payload is
//! read with the byte-wise atomic copy of `shm`, which only loads too).
//!
//! A writer stopped anywhere (SIGSTOP, preemption, a debugger) never holds up
//! a reader: it is then writing the unpublished copy, and the published copy is
//! complete and stays untouched until the writer publishes another one. A reader
//! retries only when the writer publishes an update while the reader copies.
//!
//! The protocol is generic over [`Words`], so the same code runs on a mapped
//! file ([`crate::shm`]) and, under `--cfg loom`, on loom's model atomics.

use crate::layout::{
    CAP, HEADER_LEN, INITIAL_CAP, LEN, MAX_CAP, OFF, PUBLISHED, SEQ, UPDATED_NS, UPDATES, desc,
};

// Step 3 of `read_attempt` loads these five as one run of words.
const _: () = assert!(CAP == OFF + 1 && LEN == OFF + 2 && UPDATED_NS == OFF + 3);
const _: () = assert!(UPDATES == OFF + 4);
use crate::error::Reason;
use crate::shm::{Words, WordsMut, for_each_word};
use crate::sync::{Ordering, fence};

/// What the writer knows of its two copies. It is the only writer, so this
/// local view is the truth and it never loads its own words back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WriterState {
    /// The copy readers take.
    pub(crate) published: usize,
    pub(crate) seq: [u64; 2],
    /// Each copy's region: set with [`set_region`](Self::set_region).
    off: [u64; 2],
    cap: [u64; 2],
    /// The `len` word each descriptor holds.
    len: [u64; 2],
    /// Whether a copy's region moved since its descriptor's `off` and `cap`
    /// were stored: its next update stores them.
    moved: [bool; 2],
    /// Updates made so far.
    pub(crate) updates: u64,
}

impl WriterState {
    /// The state of a new file: two empty regions after the header.
    pub(crate) const fn new() -> Self {
        Self::with_regions([HEADER_LEN, HEADER_LEN + INITIAL_CAP], INITIAL_CAP)
    }

    /// The state of a file that [`init`] gives regions at `off`, of `cap` bytes each.
    pub(crate) const fn with_regions(off: [u64; 2], cap: u64) -> Self {
        Self {
            published: 0,
            seq: [0, 0],
            off,
            cap: [cap, cap],
            len: [0, 0],
            moved: [false, false],
            updates: 0,
        }
    }

    /// The copy the next update writes.
    #[inline]
    pub(crate) const fn next(&self) -> usize {
        // Masked: `published` is 0 or 1, and saying so lets the compiler drop
        // the bounds checks of the per-copy arrays and descriptor words.
        (self.published & 1) ^ 1
    }

    /// Copy `i`'s region, in bytes: offset and capacity.
    #[inline]
    pub(crate) const fn region(&self, i: usize) -> (u64, u64) {
        (self.off[i], self.cap[i])
    }

    /// Checks that a `len`-byte status fits copy `i`'s region, and the region
    /// a file of `words` words: always for the test writer (the models must
    /// not pass by writing past a region), in debug builds for the real one.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn check_fits<const STOPPABLE: bool>(&self, i: usize, len: u64, words: usize) {
        let fits = len <= self.cap[i] && self.off[i] + self.cap[i] <= words as u64 * 8;
        if STOPPABLE {
            assert!(fits, "a {len}-byte status does not fit copy {i}'s region");
        } else {
            debug_assert!(fits);
        }
    }

    /// Records that the writer published copy `i`, now holding `len` bytes
    /// under the even mark `seq`, as update number `updates`.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn published_update(&mut self, i: usize, seq: u64, len: u64, updates: u64) {
        self.seq[i] = seq;
        self.len[i] = len;
        self.moved[i] = false;
        self.updates = updates;
        self.published = i;
    }

    /// Moves copy `i` (not the published one) to a new region; its next
    /// update stores the region in its descriptor.
    pub(crate) fn set_region(&mut self, i: usize, off: u64, cap: u64) {
        debug_assert_ne!(i, self.published, "the published copy cannot move");
        self.off[i] = off;
        self.cap[i] = cap;
        self.moved[i] = true;
    }
}

/// Writes the initial descriptors of a file nobody else can see yet.
pub(crate) fn init<W: WordsMut>(w: &W, st: &WriterState) {
    debug_assert!(st.moved == [false; 2] && st.len == [0; 2] && st.updates == 0);
    for i in 0..2 {
        let d = desc(i);
        w.store(d + SEQ, st.seq[i], Ordering::Relaxed);
        w.store(d + OFF, st.off[i], Ordering::Relaxed);
        w.store(d + CAP, st.cap[i], Ordering::Relaxed);
        w.store(d + LEN, 0, Ordering::Relaxed);
        w.store(d + UPDATED_NS, 0, Ordering::Relaxed);
        w.store(d + UPDATES, 0, Ordering::Relaxed);
    }
    w.store(PUBLISHED, st.published as u64, Ordering::Relaxed);
}

/// Writes `data` into the unpublished copy and publishes it.
///
/// The copy's region ([`WriterState::region`] of [`WriterState::next`]) must
/// hold `data` and lie within `w`; the caller grows it first when it does
/// not. The payload's stores are bounds checked (once); a region too small for
/// `data` would overwrite the other copy's.
///
/// # Panics
/// If the payload's words lie beyond `w`. No guard undoes the odd mark
/// then, and none is needed: the copy left odd is not the published one, so
/// readers never wait for it, and `st` is unchanged, so the next update
/// rewrites that copy from step 1 with the same odd mark.
// Always: measured, the call left out of line was a visible part of a 64 B
// update (BENCHMARKS.md, "The last nanoseconds").
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn write<W: WordsMut>(w: &W, st: &mut WriterState, data: &[u8], now_ns: u64) {
    write_impl::<W, false>(w, st, data, now_ns, 0);
}

/// [`write`], stopped for good after `steps` stores: a writer frozen
/// mid-update, for the tests. Returns whether the update completed.
#[cfg(test)]
pub(crate) fn write_steps<W: WordsMut>(
    w: &W,
    st: &mut WriterState,
    data: &[u8],
    now_ns: u64,
    steps: usize,
) -> bool {
    write_impl::<W, true>(w, st, data, now_ns, steps)
}

#[allow(clippy::inline_always)]
#[inline(always)]
fn write_impl<W: WordsMut, const STOPPABLE: bool>(
    w: &W,
    st: &mut WriterState,
    data: &[u8],
    now_ns: u64,
    mut steps: usize,
) -> bool {
    let i = st.next();
    let d = desc(i);
    let len = data.len() as u64;
    st.check_fits::<STOPPABLE>(i, len, w.len_words());
    // Every store goes through here; only the test writer can be stopped.
    let mut store = |idx: usize, value: u64, order: Ordering| {
        if STOPPABLE {
            if steps == 0 {
                return;
            }
            steps -= 1;
        }
        w.store(idx, value, order);
    };
    let odd = st.seq[i] + 1;
    let updates = st.updates + 1;
    // Step 1: the copy is being written.
    store(d + SEQ, odd, Ordering::Relaxed);
    // Step 2: a reader whose loads see any store below sees this odd mark (or
    // later) on its re-check; pairs with the reader's `fence(Acquire)` of step 5.
    fence(Ordering::Release);
    // Step 3: what changed since this copy was last written, then the payload.
    if st.moved[i] {
        store(d + OFF, st.off[i], Ordering::Relaxed);
        store(d + CAP, st.cap[i], Ordering::Relaxed);
    }
    if st.len[i] != len {
        store(d + LEN, len, Ordering::Relaxed);
    }
    store(d + UPDATED_NS, now_ns, Ordering::Relaxed);
    store(d + UPDATES, updates, Ordering::Relaxed);
    let first = (st.off[i] / 8) as usize;
    if STOPPABLE {
        // Word by word, so the test writer can stop between any two.
        for_each_word(data, |k, word| store(first + k, word, Ordering::Relaxed));
    } else {
        w.store_bytes(first, data);
    }
    // Step 4: the copy is complete. Release: a reader whose step-2 load sees
    // this value sees every store of step 3 (pairs with its `fence(Acquire)`).
    store(d + SEQ, odd + 1, Ordering::Release);
    // Step 5: readers take this copy from now on. Release: a reader that loads
    // this index sees the even mark of step 4 (pairs with its step-1 fence).
    store(PUBLISHED, i as u64, Ordering::Release);
    if STOPPABLE && steps == 0 {
        // Stopped (or exactly out of steps, which a caller cannot tell apart
        // from a stop just before returning): the local state stays as it was,
        // as a writer that never came back would leave it.
        return false;
    }
    st.published_update(i, odd + 1, len, updates);
    true
}

/// One store the writer made, as a [`Recorder`] saw it.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Store {
    pub(crate) word: usize,
    pub(crate) value: u64,
    pub(crate) order: Ordering,
}

/// Words that record every store made to them, in order: the tests count
/// and check the writer's real stores with these. Plain cells, no atomics:
/// a loom model can record an update without adding to what it explores.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Recorder {
    words: Vec<std::cell::Cell<u64>>,
    stores: std::cell::RefCell<Vec<Store>>,
}

#[cfg(test)]
impl Recorder {
    /// `bytes` bytes of zeros, no store recorded yet.
    pub(crate) fn new(bytes: u64) -> Self {
        Self {
            words: (0..bytes / 8).map(|_| std::cell::Cell::new(0)).collect(),
            stores: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// The stores made since the last call.
    pub(crate) fn take(&self) -> Vec<Store> {
        self.stores.take()
    }

    /// The stores of the next update of `data` from `st`, made by the real
    /// writer ([`write`]) on words of their own, each region within them.
    pub(crate) fn stores_of(st: &WriterState, data: &[u8]) -> Vec<Store> {
        let end = (0..2)
            .map(|i| st.off[i] + st.cap[i])
            .max()
            .unwrap_or(HEADER_LEN);
        let words = Self::new(end);
        let mut st = *st;
        write(&words, &mut st, data, 0);
        words.take()
    }
}

#[cfg(test)]
impl Words for Recorder {
    fn len_words(&self) -> usize {
        self.words.len()
    }
    fn load(&self, i: usize) -> u64 {
        self.words[i].get()
    }
}

#[cfg(test)]
impl WordsMut for Recorder {
    fn store(&self, i: usize, value: u64, order: Ordering) {
        self.words[i].set(value);
        self.stores.borrow_mut().push(Store {
            word: i,
            value,
            order,
        });
    }
}

/// How many stores the writer has made, in an update, once each stage of it
/// is done: what the tests stop a writer after. Counted from the stores the
/// real writer makes ([`Recorder::stores_of`]), by which words they go to.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stages {
    /// The odd mark (step 1).
    pub(crate) odd: usize,
    /// The descriptor fields (step 3, first part).
    pub(crate) descriptor: usize,
    /// The payload (step 3).
    pub(crate) payload: usize,
    /// The even mark (step 4).
    pub(crate) even: usize,
    /// The publication (step 5): every store.
    pub(crate) published: usize,
}

#[cfg(test)]
impl Stages {
    /// The stages of the next update of `data` from `st`.
    pub(crate) fn of(st: &WriterState, data: &[u8]) -> Self {
        let d = desc(st.next());
        let stores = Recorder::stores_of(st, data);
        // How many stores have been made once the last store to a word for
        // which `is` holds is made.
        let done = |is: &dyn Fn(usize) -> bool| {
            stores.iter().rposition(|s| is(s.word)).map_or(0, |k| k + 1)
        };
        let odd = stores
            .iter()
            .position(|s| s.word == d + SEQ)
            .map_or(0, |k| k + 1);
        let descriptor = done(&|w| (d + OFF..=d + UPDATES).contains(&w)).max(odd);
        let payload = done(&|w| w * 8 >= HEADER_LEN as usize).max(descriptor);
        Self {
            odd,
            descriptor,
            payload,
            even: done(&|w| w == d + SEQ),
            published: done(&|w| w == PUBLISHED),
        }
    }
}

/// What a consistent copy says besides its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CopyMeta {
    /// Updates the worker had made when it wrote this copy (0: no status yet).
    pub(crate) updates: u64,
    /// Time of that update, ns on the monotonic clock (`sys::mono_ns`).
    pub(crate) updated_ns: u64,
    /// Which copy this was (0 or 1), and the byte offset of its payload: where
    /// the next read will most likely find the status again.
    pub(crate) copy: usize,
    pub(crate) off: u64,
}

/// The outcome of one [`read_attempt`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// A consistent copy; its payload is in the output buffer.
    Done(CopyMeta),
    /// The copy changed while it was read.
    Retry,
    /// The consistent copy ends beyond the mapped words: map at least this
    /// many bytes and try again.
    NeedLen(u64),
    /// The copy's descriptor is consistent but impossible.
    Corrupt(Reason),
    /// A consistent copy of this many bytes, for which there was no memory.
    NoMemory(u64),
}

/// One attempt at copying the published status into `out`.
pub(crate) fn read_attempt<W: Words>(w: &W, out: &mut Vec<u8>) -> Attempt {
    // Step 1. Pairs with the writer's Release store of `published` (step 5).
    let i = (w.load(PUBLISHED) & 1) as usize;
    fence(Ordering::Acquire);
    let d = desc(i);
    // Step 2. Pairs with the writer's Release even mark (step 4).
    let s1 = w.load(d + SEQ);
    fence(Ordering::Acquire);
    if s1 & 1 == 1 {
        return Attempt::Retry;
    }
    // Step 3. Nothing read here is trusted before the re-check of step 5.
    let mut fields = [0; 5];
    w.load_words(d + OFF, &mut fields);
    let [off, cap, len, updated_ns, updates] = fields;
    let meta = CopyMeta {
        updated_ns,
        updates,
        copy: i,
        off,
    };
    let mapped = w.len_words() as u64 * 8;
    let mut verdict = check(off, cap, len, mapped);
    out.clear();
    if verdict.is_none() {
        // Step 4: `check` clamped the copy to the mapped words (so `len` is
        // what the file holds, never a wild allocation).
        if w.load_bytes((off / 8) as usize, len as usize, out).is_err() {
            verdict = Some(Attempt::NoMemory(len));
        }
    }
    // Step 5. Pairs with the writer's Release fence after its odd mark (step 2).
    fence(Ordering::Acquire);
    if w.load(d + SEQ) != s1 {
        return Attempt::Retry;
    }
    // Step 6: the copy must still be the published one. A reader that loaded
    // a stale index in step 1 may have found the *other* copy complete but not
    // yet published (the writer between its even mark and its publication);
    // having seen that even mark (Release, step 4) it now sees the publication
    // that preceded it, and retries. So reads never go back in time: no read
    // returns an update older than one an earlier read returned.
    if (w.load(PUBLISHED) & 1) as usize != i {
        return Attempt::Retry;
    }
    verdict.unwrap_or(Attempt::Done(meta))
}

/// Why a descriptor cannot be copied, or `None` when it can.
fn check(off: u64, cap: u64, len: u64, mapped: u64) -> Option<Attempt> {
    if !off.is_multiple_of(8) || off < HEADER_LEN {
        return Some(Attempt::Corrupt(Reason::PayloadOverlapsHeader));
    }
    if cap > MAX_CAP || len > cap {
        return Some(Attempt::Corrupt(Reason::LengthBeyondRegion));
    }
    // `len <= MAX_CAP` here, but `off` is whatever the descriptor says: a
    // wild one could overflow. Saturated, the end lies beyond any mapping and
    // is reported as needed; the caller finds no file that long (corrupt).
    let end = off.saturating_add(len);
    if end > mapped {
        return Some(Attempt::NeedLen(end));
    }
    None
}

/// Process-local words: the protocol without any file, on std's atomics or,
/// under `--cfg loom`, on loom's. The tests' model, and (feature
/// `unstable-internals`) the words of [`crate::local`] and `crate::inspect`.
#[cfg(any(test, all(feature = "unstable-internals", not(loom))))]
#[derive(Debug)]
pub(crate) struct LocalWords(pub(crate) Vec<crate::sync::AtomicU64>);

#[cfg(any(test, all(feature = "unstable-internals", not(loom))))]
impl LocalWords {
    pub(crate) fn new(bytes: u64) -> Self {
        Self(
            (0..bytes / 8)
                .map(|_| crate::sync::AtomicU64::new(0))
                .collect(),
        )
    }
}

#[cfg(any(test, all(feature = "unstable-internals", not(loom))))]
impl Words for LocalWords {
    #[inline]
    fn len_words(&self) -> usize {
        self.0.len()
    }
    #[inline]
    fn load(&self, i: usize) -> u64 {
        self.0[i].load(Ordering::Relaxed)
    }
}

#[cfg(any(test, all(feature = "unstable-internals", not(loom))))]
impl WordsMut for LocalWords {
    #[inline]
    fn store(&self, i: usize, value: u64, order: Ordering) {
        self.0[i].store(value, order);
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom_tests;
