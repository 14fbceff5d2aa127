//! The protocol's unit tests, on process-local words: reads of fresh, updated,
//! stopped and corrupt copies.

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
    // Odd mark, 3 descriptor fields (len, updated_ns, updates: the region
    // has not moved), 4 payload words, even mark, publish.
    let s = Stages::of(&st, next.len());
    assert_eq!((s.odd, s.descriptor, s.payload, s.even), (1, 4, 8, 9));
    let stores = s.published;
    assert_eq!(stores, 10);
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
fn only_what_changed_is_stored_and_every_read_is_whole() {
    let (w, mut st) = fresh(16384);
    let expect = |st: &WriterState, len: usize, descriptor_stores: usize| {
        let s = Stages::of(st, len);
        assert_eq!(s.descriptor - s.odd, descriptor_stores, "{len} bytes");
    };
    // Each copy's first update stores its length; the same length again
    // stores only the time and count; a moved region also stores its
    // offset and capacity, once.
    for (n, (len, moved_to, stores)) in [
        (100, None, 3),
        (100, None, 3),
        (100, None, 2),
        (100, None, 2),
        (3000, Some(8192), 5),
        (3000, Some(12288), 5),
        (3000, None, 2),
        (5, None, 3),
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(off) = moved_to {
            st.set_region(st.next(), off, 4096);
        }
        expect(&st, len, stores);
        let data: Vec<u8> = (0..len).map(|b| (b + n) as u8).collect();
        write(&w, &mut st, &data, n as u64);
        let (out, a) = read(&w);
        assert_eq!(out, data, "update {n}");
        assert!(matches!(a, Attempt::Done(m) if m.updates == n as u64 + 1));
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

#[test]
fn impossible_descriptors_are_corrupt_not_copied() {
    let (w, mut st) = fresh(4096);
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
