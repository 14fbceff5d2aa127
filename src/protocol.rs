//! The seqlock protocol between one writer and any number of readers.
//!
//! A status file holds two copies of the status. The writer only ever writes the
//! copy that is *not* published, then publishes it; readers take the published
//! copy. Each copy has its own sequence word, odd while the copy is written.
//!
//! Writer, for each update (see [`write`]):
//! 1. pick the unpublished copy `i`; store its `seq` odd (Relaxed);
//! 2. `fence(Release)`: orders the odd mark before every store of step 3;
//! 3. store the descriptor fields and the payload words (Relaxed);
//! 4. store `seq` even (Release): a reader that sees it sees all of step 3;
//! 5. store `published = i` (Release): a reader that sees it sees step 4.
//!
//! Reader, for each attempt (see [`read_attempt`]):
//! 1. load `published` (Relaxed), `fence(Acquire)`, pairs with writer step 5;
//! 2. load the copy's `seq` (Relaxed), `fence(Acquire)`, pairs with writer step 4;
//!    an odd `seq` means the writer has moved on to rewrite this copy: retry;
//! 3. load the descriptor and check it, clamping the length to what is mapped;
//! 4. copy the payload words (Relaxed loads);
//! 5. `fence(Acquire)`, pairs with writer step 2, then load `seq` again: if it
//!    changed, a later write may have been seen: retry;
//! 6. load `published` again: if it no longer names this copy, retry (a stale
//!    index in step 1 can lead to a complete copy that is not yet published;
//!    this keeps successive reads from going back in time).
//!
//! Readers only ever make Relaxed loads and Acquire fences, the one kind of
//! atomic access that is defined on read-only mapped memory.
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
use crate::sync::{Ordering, fence};

/// Words a reader can load.
pub(crate) trait Words {
    /// How many words there are.
    fn len_words(&self) -> usize;
    /// A Relaxed load of word `i`.
    ///
    /// # Panics
    /// If `i >= self.len_words()`.
    fn load(&self, i: usize) -> u64;
}

/// Words the writer can also store.
pub(crate) trait WordsMut: Words {
    /// An atomic store of `value` into word `i`, with `order` (Relaxed or Release).
    fn store(&self, i: usize, value: u64, order: Ordering);
}

/// What the writer knows of its two copies. It is the only writer, so this
/// local view is the truth and it never loads its own words back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WriterState {
    /// The copy readers take.
    pub(crate) published: usize,
    pub(crate) seq: [u64; 2],
    pub(crate) off: [u64; 2],
    pub(crate) cap: [u64; 2],
    /// Updates made so far.
    pub(crate) updates: u64,
}

impl WriterState {
    /// The state of a new file: two empty regions after the header.
    pub(crate) const fn new() -> Self {
        Self {
            published: 0,
            seq: [0, 0],
            off: [HEADER_LEN, HEADER_LEN + INITIAL_CAP],
            cap: [INITIAL_CAP, INITIAL_CAP],
            updates: 0,
        }
    }

    /// The copy the next update writes.
    pub(crate) const fn next(&self) -> usize {
        1 - self.published
    }
}

/// Writes the initial descriptors of a file nobody else can see yet.
pub(crate) fn init<W: WordsMut>(w: &W, st: &WriterState) {
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
/// The copy's region (`st.off`, `st.cap` of [`WriterState::next`]) must hold
/// `data` and lie within `w`; the caller grows it first when it does not.
#[inline]
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

#[inline]
fn write_impl<W: WordsMut, const STOPPABLE: bool>(
    w: &W,
    st: &mut WriterState,
    data: &[u8],
    now_ns: u64,
    mut steps: usize,
) -> bool {
    let i = st.next();
    let d = desc(i);
    debug_assert!(data.len() as u64 <= st.cap[i]);
    debug_assert!(((st.off[i] + st.cap[i]) / 8) as usize <= w.len_words());
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
    // Step 3.
    store(d + OFF, st.off[i], Ordering::Relaxed);
    store(d + CAP, st.cap[i], Ordering::Relaxed);
    store(d + LEN, data.len() as u64, Ordering::Relaxed);
    store(d + UPDATED_NS, now_ns, Ordering::Relaxed);
    store(d + UPDATES, updates, Ordering::Relaxed);
    let mut k = (st.off[i] / 8) as usize;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks_exact(8)"));
        store(k, word, Ordering::Relaxed);
        k += 1;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        store(k, u64::from_le_bytes(last), Ordering::Relaxed);
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
    st.seq[i] = odd + 1;
    st.updates = updates;
    st.published = i;
    true
}

/// What a consistent copy says besides its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CopyMeta {
    /// Updates the worker had made when it wrote this copy (0: no status yet).
    pub(crate) updates: u64,
    /// Time of that update, ns since the Unix epoch.
    pub(crate) updated_ns: u64,
}

/// The outcome of one [`read_attempt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// A consistent copy; its payload is in the output buffer.
    Done(CopyMeta),
    /// The copy changed while it was read.
    Retry,
    /// The consistent copy ends beyond the mapped words: map at least this
    /// many bytes and try again.
    NeedLen(u64),
    /// The copy's descriptor is consistent but impossible.
    Corrupt(&'static str),
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
    let off = w.load(d + OFF);
    let cap = w.load(d + CAP);
    let len = w.load(d + LEN);
    let meta = CopyMeta {
        updated_ns: w.load(d + UPDATED_NS),
        updates: w.load(d + UPDATES),
    };
    let mapped = w.len_words() as u64 * 8;
    let verdict = check(off, cap, len, mapped);
    out.clear();
    if verdict.is_none() {
        // Step 4: `check` clamped the copy to the mapped words.
        copy_words(w, (off / 8) as usize, len as usize, out);
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
        return Some(Attempt::Corrupt("payload region overlaps the header"));
    }
    if cap > MAX_CAP || len > cap {
        return Some(Attempt::Corrupt("status length exceeds its region"));
    }
    // Cannot overflow: off is below the mapping's size or reported as needed,
    // and len <= MAX_CAP.
    let end = off.saturating_add(len);
    if end > mapped {
        return Some(Attempt::NeedLen(end));
    }
    None
}

/// Copies `len` bytes starting at word `base` into `out` (cleared by the caller).
#[inline]
fn copy_words<W: Words>(w: &W, base: usize, len: usize, out: &mut Vec<u8>) {
    out.reserve(len.next_multiple_of(8));
    for k in 0..len.div_ceil(8) {
        out.extend_from_slice(&w.load(base + k).to_le_bytes());
    }
    out.truncate(len);
}

/// Process-local words: the protocol without any file, on std's atomics or,
/// under `--cfg loom`, on loom's. The tests' model and the benchmarks' lower
/// bound ([`crate::reference`]).
#[derive(Debug)]
pub(crate) struct LocalWords(pub(crate) Vec<crate::sync::AtomicU64>);

impl LocalWords {
    pub(crate) fn new(bytes: u64) -> Self {
        Self(
            (0..bytes / 8)
                .map(|_| crate::sync::AtomicU64::new(0))
                .collect(),
        )
    }
}

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

impl WordsMut for LocalWords {
    #[inline]
    fn store(&self, i: usize, value: u64, order: Ordering) {
        self.0[i].store(value, order);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::AtomicU64;

    type Local = LocalWords;

    fn read(w: &Local) -> (Vec<u8>, Attempt) {
        let mut out = Vec::new();
        let a = read_attempt(w, &mut out);
        (out, a)
    }

    #[test]
    fn fresh_file_reads_as_no_status() {
        let w = Local::new(4096);
        init(&w, &WriterState::new());
        let (out, a) = read(&w);
        assert!(out.is_empty());
        assert_eq!(
            a,
            Attempt::Done(CopyMeta {
                updates: 0,
                updated_ns: 0
            })
        );
    }

    #[test]
    fn updates_alternate_copies_and_read_back_exactly() {
        let w = Local::new(4096);
        let mut st = WriterState::new();
        init(&w, &st);
        for (n, len) in [1usize, 7, 8, 9, 1792, 0, 13].into_iter().enumerate() {
            let data: Vec<u8> = (0..len).map(|b| (b * 31 + n) as u8).collect();
            let before = st.published;
            write(&w, &mut st, &data, 1000 + n as u64);
            assert_ne!(st.published, before);
            let (out, a) = read(&w);
            assert_eq!(out, data);
            assert_eq!(
                a,
                Attempt::Done(CopyMeta {
                    updates: n as u64 + 1,
                    updated_ns: 1000 + n as u64
                })
            );
        }
    }

    #[test]
    fn stopped_writer_leaves_the_previous_status_readable() {
        let w = Local::new(4096);
        let mut st = WriterState::new();
        init(&w, &st);
        write(&w, &mut st, b"complete", 1);
        let next = b"never finished, long enough"; // 4 words
        // Odd mark, 5 descriptor fields, 4 payload words, even mark, publish.
        let stores = 1 + 5 + 4 + 1 + 1;
        for steps in 0..stores {
            let mut stopped = st;
            write_steps(&w, &mut stopped, next, 2, steps);
            let (out, a) = read(&w);
            assert_eq!(out, b"complete", "stopped after {steps} stores");
            assert!(matches!(a, Attempt::Done(m) if m.updates == 1));
        }
        // The last store publishes the new copy.
        let mut stopped = st;
        write_steps(&w, &mut stopped, next, 2, stores);
        let (out, a) = read(&w);
        assert_eq!(out, next);
        assert!(matches!(a, Attempt::Done(m) if m.updates == 2));
    }

    #[test]
    fn a_region_beyond_the_mapping_asks_for_more() {
        let w = Local::new(8192);
        let mut st = WriterState::new();
        init(&w, &st);
        let i = st.next();
        st.off[i] = 4096;
        st.cap[i] = 4096;
        write(&w, &mut st, &[7u8; 3000], 5);
        // A reader that mapped only the first page.
        let short = LocalWords(
            w.0[..512]
                .iter()
                .map(|a| AtomicU64::new(a.load(Ordering::Relaxed)))
                .collect(),
        );
        assert_eq!(read(&short).1, Attempt::NeedLen(4096 + 3000));
        assert_eq!(read(&w).0, vec![7u8; 3000]);
    }

    #[test]
    fn impossible_descriptors_are_corrupt_not_copied() {
        let w = Local::new(4096);
        let mut st = WriterState::new();
        init(&w, &st);
        write(&w, &mut st, b"x", 1);
        let d = desc(st.published);
        w.store(d + LEN, 5000, Ordering::Relaxed);
        assert!(matches!(read(&w).1, Attempt::Corrupt(_)));
        w.store(d + LEN, 1, Ordering::Relaxed);
        w.store(d + OFF, 8, Ordering::Relaxed);
        assert!(matches!(read(&w).1, Attempt::Corrupt(_)));
        w.store(d + OFF, u64::MAX - 7, Ordering::Relaxed);
        assert!(matches!(
            read(&w).1,
            Attempt::Corrupt(_) | Attempt::NeedLen(_)
        ));
    }
}

#[cfg(all(test, loom))]
mod loom_tests;
