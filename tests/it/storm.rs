//! The storm: writer processes update self-checking statuses of 16 B to 1 MiB
//! (sizes spread evenly over the orders of magnitude) as fast as they can, so
//! files grow while they are read; a reader loops `read_all`; writers are
//! killed (SIGKILL), stopped (SIGSTOP), resumed and replaced at random moments. Counted and required: no torn status, no live worker
//! missing (a stopped one included), no exited worker shown, every read within
//! a bound, and nothing left in `base_dir` at the end.
//!
//! `PSB_STORM_SECS` sets the length (default 6 s, as in CI; RELIABILITY.md has
//! the long runs). The figures are printed (`--nocapture` shows them).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::{Helper, Rng, entries, tempdir, verify};

const WRITERS: usize = 4;
const MIN_LEN: u64 = 16;
const MAX_LEN: u64 = 1 << 20;
/// No read may take longer than this (a reader never waits for a writer; a
/// busy worker is given up after 1 s, which would count as missing).
const READ_BOUND: Duration = Duration::from_secs(2);

struct Writer {
    helper: Helper,
    id: String,
    /// Stopped until then.
    stopped_until: Option<Instant>,
}

#[derive(Debug, Default)]
struct Counts {
    reads: u64,
    statuses: u64,
    torn: u64,
    missing: u64,
    stale_shown: u64,
    kills: u64,
    stops: u64,
    replaced_same_id: u64,
}

#[test]
fn storm_of_writers_killed_stopped_and_replaced() {
    let _heavy = crate::common::heavy();
    let secs: u64 = std::env::var("PSB_STORM_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    let mut rng = Rng(0x5707_4d00 ^ u64::from(std::process::id()));
    let mut next = 0;
    let start = |id: String| {
        let mut helper = Helper::spawn("script", &dir);
        helper.ok(&format!("spin {id} {MIN_LEN} {MAX_LEN} log"));
        Writer {
            helper,
            id,
            stopped_until: None,
        }
    };
    let mut writers: Vec<Writer> = (0..WRITERS)
        .map(|_| {
            next += 1;
            start(format!("w{next}"))
        })
        .collect();
    let mut c = Counts::default();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut seen_seed: BTreeMap<String, u64> = BTreeMap::new();
    let t_end = Instant::now() + Duration::from_secs(secs);
    let mut next_action = Instant::now();

    while Instant::now() < t_end {
        let now = Instant::now();
        for w in &mut writers {
            if w.stopped_until.is_some_and(|t| t <= now) {
                w.helper.signal(libc::SIGCONT);
                w.stopped_until = None;
            }
        }
        if now >= next_action {
            next_action = now + Duration::from_millis(20 + rng.below(80));
            let k = rng.below(writers.len() as u64) as usize;
            match rng.below(4) {
                0 | 1 => {
                    // Kill; replace with a new process, half the time under
                    // the same id (a takeover of a dead worker's file).
                    let w = writers.remove(k);
                    let id = w.id.clone();
                    w.helper.kill();
                    c.kills += 1;
                    let new_id = if rng.below(2) == 0 {
                        c.replaced_same_id += 1;
                        id.clone()
                    } else {
                        next += 1;
                        format!("w{next}")
                    };
                    seen_seed.remove(&id);
                    writers.push(start(new_id));
                }
                2 if writers[k].stopped_until.is_none() => {
                    writers[k].helper.signal(libc::SIGSTOP);
                    writers[k].stopped_until =
                        Some(now + Duration::from_millis(50 + rng.below(400)));
                    c.stops += 1;
                }
                _ => {}
            }
        }

        let t0 = Instant::now();
        let all = board.read_all().unwrap();
        latencies.push(t0.elapsed());
        check(&all, &writers, &mut c, &mut seen_seed);
    }

    for w in &mut writers {
        if w.stopped_until.take().is_some() {
            w.helper.signal(libc::SIGCONT);
        }
    }
    for w in writers {
        w.helper.kill();
    }
    assert!(board.read_all().unwrap().is_empty());
    board.cleanup().unwrap();
    let left = entries(&dir);

    report(secs, &c, &mut latencies, &left);
    assert!(left.is_empty(), "left in base_dir: {left:?}");
}

/// Counts what a read got wrong: a live writer missing, a torn status, a
/// status older than one already seen, a worker shown that is not live.
fn check(
    all: &BTreeMap<String, Vec<u8>>,
    writers: &[Writer],
    c: &mut Counts,
    seen_seed: &mut BTreeMap<String, u64>,
) {
    c.reads += 1;
    for w in writers {
        let Some(status) = all.get(&w.id) else {
            c.missing += 1;
            eprintln!(
                "missing live worker {} (stopped: {})",
                w.id,
                w.stopped_until.is_some()
            );
            continue;
        };
        c.statuses += 1;
        match verify(status) {
            Ok(seed) => {
                // A worker's statuses never go back in time.
                let last = seen_seed.entry(w.id.clone()).or_insert(seed);
                if seed < *last {
                    c.torn += 1;
                    eprintln!("{}: seed went back from {last} to {seed}", w.id);
                }
                *last = seed;
            }
            Err(e) => {
                c.torn += 1;
                eprintln!("torn status of {}: {e}", w.id);
            }
        }
    }
    for id in all.keys() {
        if !writers.iter().any(|w| w.id == *id) {
            c.stale_shown += 1;
            eprintln!("exited worker {id} shown");
        }
    }
}

/// Prints the figures and requires them.
fn report(secs: u64, c: &Counts, latencies: &mut [Duration], left: &[String]) {
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() - 1) * p / 100];
    println!(
        "storm {secs} s: {} reads, {} statuses checked, {} torn, {} missing, {} exited shown, \
         {} kills ({} replaced under the same id), {} stops; read_all p50 {:?}, p99 {:?}, max {:?}; \
         {} entries left",
        c.reads,
        c.statuses,
        c.torn,
        c.missing,
        c.stale_shown,
        c.kills,
        c.replaced_same_id,
        c.stops,
        pct(50),
        pct(99),
        latencies[latencies.len() - 1],
        left.len()
    );
    assert_eq!((c.torn, c.missing, c.stale_shown), (0, 0, 0), "{c:?}");
    assert!(
        c.kills >= secs && c.stops >= secs / 2 && c.reads >= 20 * secs,
        "the storm was too calm: {c:?}"
    );
    assert!(
        latencies[latencies.len() - 1] < READ_BOUND,
        "a read took {:?}",
        latencies[latencies.len() - 1]
    );
}
