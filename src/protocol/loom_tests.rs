//! Model checks of the seqlock protocol: `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.
//!
//! Every status written is self-checking: update `n` writes `LENS[n]` bytes of
//! value `n`, so a reader can tell a torn copy from a whole one by content.
//! Writers stopped mid-update stop after a stage named by [`Stages`], counted
//! from the real writer's stores of that update (recorded apart, outside the
//! model's atomics); the test writer asserts that every status fits its
//! region.

use super::*;
use crate::layout::HEADER_LEN;
use loom::sync::Arc;
use loom::thread;

/// Two small regions after the header, and room for one grown region.
const CAP0: u64 = 16;
const GROWN_OFF: u64 = HEADER_LEN + 2 * CAP0;
const GROWN_CAP: u64 = 24;
const WORDS: usize = ((GROWN_OFF + GROWN_CAP) / 8) as usize;
/// Lengths of updates 1, 2, 3 (update 0 is "no status": empty).
const LENS: [usize; 4] = [0, 9, 3, 20];

type Model = LocalWords;

fn small_state() -> WriterState {
    WriterState::with_regions([HEADER_LEN, HEADER_LEN + CAP0], CAP0)
}

/// A stage of an update, to stop a writer after.
type Stop = fn(&Stages) -> usize;

/// After the odd mark; after part of the descriptor; after the descriptor;
/// after the payload; after the even mark (not yet published); after the
/// publication.
const EVERY_STAGE: [(&str, Stop); 6] = [
    ("odd mark", |s| s.odd),
    ("part of the descriptor", |s| s.odd + 1),
    ("descriptor", |s| s.descriptor),
    ("payload", |s| s.payload),
    ("even mark", |s| s.even),
    ("publication", |s| s.published),
];

fn status(n: u64) -> Vec<u8> {
    vec![n as u8; LENS[n as usize]]
}

fn new_model() -> (Arc<Model>, WriterState) {
    let m = Model::new(WORDS as u64 * 8);
    let st = small_state();
    init(&m, &st);
    (Arc::new(m), st)
}

/// Reads until an attempt is not `Retry`; returns the outcome and the attempts made.
fn read_whole(m: &Model) -> (Vec<u8>, CopyMeta, usize) {
    let mut out = Vec::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match read_attempt(m, &mut out) {
            Attempt::Done(meta) => return (out, meta, attempts),
            Attempt::Retry => crate::sync::spin_hint(),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Runs `updates` as the writer thread of a model.
fn spawn_writer(
    m: &Arc<Model>,
    mut st: WriterState,
    updates: impl FnOnce(&Model, &mut WriterState) + Send + 'static,
) -> thread::JoinHandle<()> {
    let m = Arc::clone(m);
    thread::spawn(move || updates(&m, &mut st))
}

/// Grows the next copy into the spare region, as `Worker::grow` does.
fn grow_next(st: &mut WriterState) {
    st.set_region(st.next(), GROWN_OFF, GROWN_CAP);
}

#[test]
fn loom_reader_sees_whole_statuses_only() {
    loom::model(|| {
        let (m, st) = new_model();
        let writer = spawn_writer(&m, st, |m, st| {
            write(m, st, &status(1), 1);
            write(m, st, &status(2), 2);
        });
        let (out, meta, _) = read_whole(&m);
        assert_eq!(out, status(meta.updates), "torn or mismatched status");
        assert_eq!(meta.updated_ns, meta.updates);
        writer.join().unwrap();
        // After the writer is done, the latest status is what a reader gets.
        let (out, meta, attempts) = read_whole(&m);
        assert_eq!((out, meta.updates, attempts), (status(2), 2, 1));
    });
}

#[test]
fn loom_stopped_writer_never_hides_the_last_status() {
    // Stop the second update after each stage in turn.
    for (stage, stop) in EVERY_STAGE {
        let published = stage == "publication";
        loom::model(move || {
            let (m, st) = new_model();
            let writer = spawn_writer(&m, st, move |m, st| {
                write(m, st, &status(1), 1);
                let steps = stop(&Stages::of(st, &status(2)));
                let done = write_steps(m, st, &status(2), 2, steps);
                assert!(!done, "stopped after the {stage}");
            });
            let (out, meta, attempts) = read_whole(&m);
            assert!(meta.updates <= 2);
            assert_eq!(out, status(meta.updates));
            // A reader is disturbed at most once per publication made while
            // it reads: update 1's, and update 2's where it got that far.
            let publications = if published { 2 } else { 1 };
            assert!(attempts <= 1 + publications, "{attempts} attempts");
            writer.join().unwrap();
            // With the writer frozen for good, readers get update 1 (or update
            // 2 once published), at the first attempt.
            let (out, meta, attempts) = read_whole(&m);
            assert_eq!(attempts, 1);
            assert_eq!(meta.updates, if published { 2 } else { 1 });
            assert_eq!(out, status(meta.updates));
        });
    }
}

#[test]
fn loom_growth_moves_a_copy_under_a_reader() {
    loom::model(|| {
        let (m, st) = new_model();
        let writer = spawn_writer(&m, st, |m, st| {
            write(m, st, &status(1), 1);
            grow_next(st);
            write(m, st, &status(3), 3);
        });
        let (out, meta, _) = read_whole(&m);
        // Update 1 wrote status(1); update 2, into the grown region, status(3).
        let expected = match meta.updates {
            0 => Vec::new(),
            1 => status(1),
            2 => status(3),
            n => panic!("{n} updates"),
        };
        assert_eq!(out, expected);
        writer.join().unwrap();
        let (out, _, _) = read_whole(&m);
        assert_eq!(out, status(3));
    });
}

#[test]
fn loom_full_protocol_both_copies_growth_and_a_stopped_writer() {
    // Three updates: copy 1; copy 0; copy 1 again, moved to the grown region
    // (its descriptor then carries the new offset and capacity) and stopped
    // after its odd mark, its descriptor or its even mark.
    // A reader reads twice meanwhile: each copy whole, and the second never
    // older than the first (reads never go back in time).
    // The largest model: at most 2 preemptions when a bound is asked for (CI
    // asks for 3), so that it takes a minute, not ten; unbounded otherwise.
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.map(|p| p.min(2));
    let frozen_at: [Stop; 3] = [|s| s.odd, |s| s.descriptor, |s| s.even];
    for stop in frozen_at {
        builder.check(move || {
            let (m, st) = new_model();
            let writer = spawn_writer(&m, st, move |m, st| {
                write(m, st, &status(1), 1);
                write(m, st, &status(2), 2);
                grow_next(st);
                let steps = stop(&Stages::of(st, &status(3)));
                assert!(!write_steps(m, st, &status(3), 3, steps));
            });
            let (first, meta1, _) = read_whole(&m);
            assert_eq!(first, status(meta1.updates), "torn or mismatched status");
            let (second, meta2, _) = read_whole(&m);
            assert_eq!(second, status(meta2.updates), "torn or mismatched status");
            assert!(meta2.updates >= meta1.updates, "a read went back in time");
            writer.join().unwrap();
            // Frozen in update 3, even after its even mark: readers get update
            // 2 at the first attempt.
            let (out, meta, attempts) = read_whole(&m);
            assert_eq!((out, meta.updates, attempts), (status(2), 2, 1));
        });
    }
}
