//! The protocol's unit tests: the writer's real stores, recorded update by
//! update; reads of fresh, updated, stopped and corrupt copies.

use super::*;
use crate::sync::AtomicU64;

type Local = LocalWords;

/// A fresh file of `bytes` bytes and its writer's state.
fn fresh(bytes: u64) -> (Local, WriterState) {
    let w = Local::new(bytes);
    let st = WriterState::new();
    init(&w, &st);
    (w, st)
}

fn read(w: &Local) -> (Vec<u8>, Attempt) {
    let mut out = Vec::new();
    let a = read_attempt(w, &mut out);
    (out, a)
}

#[test]
fn fresh_file_reads_as_no_status() {
    let (w, _) = fresh(4096);
    let (out, a) = read(&w);
    assert!(out.is_empty());
    assert!(
        matches!(a, Attempt::Done(m) if m.updates == 0 && m.updated_ns == 0),
        "{a:?}"
    );
}

#[test]
fn updates_alternate_copies_and_read_back_exactly() {
    let (w, mut st) = fresh(4096);
    for (n, len) in [1usize, 7, 8, 9, 1792, 0, 13].into_iter().enumerate() {
        let data: Vec<u8> = (0..len).map(|b| (b * 31 + n) as u8).collect();
        let before = st.published;
        write(&w, &mut st, &data, 1000 + n as u64);
        assert_ne!(st.published, before);
        let (out, a) = read(&w);
        assert_eq!(out, data);
        assert!(
            matches!(a, Attempt::Done(m)
                if m.updates == n as u64 + 1 && m.updated_ns == 1000 + n as u64
                    && m.copy == st.published),
            "{a:?}"
        );
    }
}

#[test]
fn stopped_writer_leaves_the_previous_status_readable() {
    let (w, mut st) = fresh(4096);
    write(&w, &mut st, b"complete", 1);
    let next = b"never finished, long enough"; // 4 words
    // Counted from the real writer's stores: the odd mark, 3 descriptor
    // fields (len, updated_ns, updates: the region has not moved), 4 payload
    // words, the even mark, the publication.
    let s = Stages::of(&st, next);
    assert_eq!(
        (s.odd, s.descriptor, s.payload, s.even, s.published),
        (1, 4, 8, 9, 10)
    );
    let stores = s.published;
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

/// The stores an update of `data` into copy `i`, whose region is at `off`
/// of `cap` bytes, must make, in order: the odd mark, then the descriptor
/// fields `fields` (those that changed, and the time and count), then the
/// payload, the even mark and the publication.
fn expected_stores(
    i: usize,
    odd: u64,
    (off, cap): (u64, u64),
    fields: &[usize],
    data: &[u8],
    (now, updates): (u64, u64),
) -> Vec<Store> {
    let d = desc(i);
    let store = |word, value, order| Store { word, value, order };
    let mut stores = vec![store(d + SEQ, odd, Ordering::Relaxed)];
    for &f in fields {
        let value = match f {
            OFF => off,
            CAP => cap,
            LEN => data.len() as u64,
            UPDATED_NS => now,
            UPDATES => updates,
            _ => unreachable!("field {f}"),
        };
        stores.push(store(d + f, value, Ordering::Relaxed));
    }
    for_each_word(data, |k, word| {
        stores.push(store((off / 8) as usize + k, word, Ordering::Relaxed));
    });
    stores.push(store(d + SEQ, odd + 1, Ordering::Release));
    stores.push(store(PUBLISHED, i as u64, Ordering::Release));
    stores
}

#[test]
fn each_update_stores_only_what_changed_in_protocol_order() {
    // The writer's real stores, recorded: each copy's first update stores
    // its length; the same length again stores only the time and count; a
    // moved region also stores its offset and capacity, once.
    let w = Recorder::new(16384);
    let mut st = WriterState::new();
    init(&w, &st);
    w.take();
    let changed = [LEN, UPDATED_NS, UPDATES];
    let same = [UPDATED_NS, UPDATES];
    let moved = [OFF, CAP, LEN, UPDATED_NS, UPDATES];
    let mut seq = [0u64; 2];
    for (n, (len, moved_to, fields)) in [
        (100, None, &changed[..]),
        (100, None, &changed[..]),
        (100, None, &same[..]),
        (100, None, &same[..]),
        (3000, Some(8192), &moved[..]),
        (3000, Some(12288), &moved[..]),
        (3000, None, &same[..]),
        (5, None, &changed[..]),
    ]
    .into_iter()
    .enumerate()
    {
        let i = st.next();
        if let Some(off) = moved_to {
            st.set_region(i, off, 4096);
        }
        let data: Vec<u8> = (0..len).map(|b| (b + n) as u8).collect();
        let updates = n as u64 + 1;
        let expected = expected_stores(
            i,
            seq[i] + 1,
            st.region(i),
            fields,
            &data,
            (n as u64, updates),
        );
        write(&w, &mut st, &data, n as u64);
        assert_eq!(w.take(), expected, "update {updates}");
        seq[i] += 2;
        let mut out = Vec::new();
        let a = read_attempt(&w, &mut out);
        assert_eq!(out, data, "update {updates}");
        assert!(matches!(a, Attempt::Done(m) if m.updates == updates));
    }
}

#[test]
fn a_region_beyond_the_mapping_asks_for_more() {
    let (w, mut st) = fresh(8192);
    st.set_region(st.next(), 4096, 4096);
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

/// What a reader makes of a file whose published descriptor has its word
/// `field` set to `value`.
fn corrupted(field: usize, value: u64) -> Attempt {
    let (w, mut st) = fresh(4096);
    write(&w, &mut st, b"a 16-byte status", 1);
    w.store(desc(st.published) + field, value, Ordering::Relaxed);
    read(&w).1
}

#[test]
fn impossible_descriptors_are_corrupt_not_copied() {
    use Reason::{LengthBeyondRegion, PayloadOverlapsHeader};
    let corrupt = Attempt::Corrupt;
    assert_eq!(corrupted(LEN, INITIAL_CAP + 1), corrupt(LengthBeyondRegion));
    assert_eq!(corrupted(CAP, 2), corrupt(LengthBeyondRegion));
    assert_eq!(corrupted(CAP, MAX_CAP + 8), corrupt(LengthBeyondRegion));
    assert_eq!(corrupted(OFF, 8), corrupt(PayloadOverlapsHeader));
    assert_eq!(
        corrupted(OFF, HEADER_LEN + 1),
        corrupt(PayloadOverlapsHeader)
    );
    // An aligned offset so large that adding the length overflows: the end
    // saturates, and the reader is told to map that much; finding no file
    // that long, its caller reports the entry corrupt
    // (`Reason::BeyondEndOfFile`).
    assert_eq!(corrupted(OFF, u64::MAX - 7), Attempt::NeedLen(u64::MAX));
}
