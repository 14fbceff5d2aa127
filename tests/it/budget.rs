//! A reader keeps its mappings within a budget (`Builder::max_mappings`); the
//! workers beyond it are read through a mapping made and dropped within each
//! read. Forced here to a few mappings for 50 workers, so every path of the
//! fallback runs: statuses, growth, deaths, skipped entries, both read modes;
//! and a process that already has nearly all its mappings keeps none.

use crate::common::snapshot;
use std::fs::File;
use std::path::{Path, PathBuf};

use parallel_scoreboard::{ErrorKind, Scoreboard, Snapshot};

use crate::common::{Helper, entries, pattern, tempdir};

/// The monitors under test: watching and listing, each with no kept mapping
/// at all and with 8.
fn monitors(dir: &Path) -> Vec<(String, Scoreboard)> {
    let mut all = Vec::new();
    for watch in [true, false] {
        for budget in [0, 8] {
            let board = crate::common::builder(dir)
                .watch(watch)
                .max_mappings(budget)
                .settle_timeout(std::time::Duration::from_millis(10))
                .open()
                .unwrap();
            all.push((format!("watch={watch} budget={budget}"), board));
        }
    }
    all
}

/// Mappings of files in `dir` this process has now.
fn mappings_of(dir: &Path) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let dir = dir.to_str().unwrap();
    maps.lines().filter(|l| l.contains(dir)).count()
}

/// Live files with a bad magic, an impossible status length and a copy left
/// marked as being written, locked (live) by the returned handles.
fn crafted(board: &Scoreboard) -> (Vec<File>, Vec<(PathBuf, ErrorKind)>) {
    // After one update the published copy is copy 1, described at byte 448:
    // seq, offset (+8), capacity (+16), length (+24).
    let damages = [
        ("bad-magic", 0, 0x4141_4141, ErrorKind::Corrupt),
        ("huge-len", 448 + 24, 1 << 50, ErrorKind::Corrupt),
        ("odd-seq", 448, 3, ErrorKind::Unsettled),
    ];
    let mut locks = Vec::new();
    let mut expect = Vec::new();
    for (id, at, value, kind) in damages {
        let mut w = board.worker_with_id(id).unwrap();
        w.update(b"a status of twenty b").unwrap();
        let path = w.path();
        let mut bytes = std::fs::read(&path).unwrap();
        drop(w);
        bytes[at..at + 8].copy_from_slice(&u64::to_le_bytes(value));
        std::fs::write(&path, &bytes).unwrap();
        let f = File::options().read(true).write(true).open(&path).unwrap();
        f.lock().unwrap();
        locks.push(f);
        expect.push((path, kind));
    }
    (locks, expect)
}

/// Every worker `PREFIX-i` of `groups` with status `s-i`, except the grown
/// ones, and every crafted file skipped for its reason.
fn check(
    what: &str,
    snap: &Snapshot,
    groups: &[(&str, usize)],
    grown: &[(String, Vec<u8>)],
    skipped: &[(PathBuf, ErrorKind)],
) {
    let n: usize = groups.iter().map(|g| g.1).sum();
    assert_eq!(snap.workers.len(), n, "{what}: {:?}", snap.skipped);
    for (prefix, count) in groups {
        for i in 0..*count {
            let id = format!("{prefix}-{i}");
            let w = snap.workers.iter().find(|w| w.id == id);
            let w = w.unwrap_or_else(|| panic!("{what}: {id} missing"));
            let want = grown
                .iter()
                .find(|g| g.0 == id)
                .map_or_else(|| format!("s-{i}").into_bytes(), |g| g.1.clone());
            assert!(
                w.status == want,
                "{what}: {id} has {} bytes",
                w.status.len()
            );
        }
    }
    assert_eq!(
        snap.skipped.len(),
        skipped.len(),
        "{what}: {:?}",
        snap.skipped
    );
    for (path, kind) in skipped {
        let e = snap
            .skipped
            .iter()
            .find(|e| e.path() == Some(path.as_path()));
        let e = e.unwrap_or_else(|| {
            panic!(
                "{what}: {} not reported: {:?}",
                path.display(),
                snap.skipped
            )
        });
        assert_eq!(e.kind(), *kind, "{what}: {e}");
    }
}

#[test]
fn a_small_mapping_budget_reads_every_worker_grown_dead_or_skipped() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    let (locks, skipped) = crafted(&board);
    let mut a = Helper::spawn("script", &dir);
    a.ok("hold 30 a");
    let mut b = Helper::spawn("script", &dir);
    b.ok("hold 20 b");
    let monitors = monitors(&dir);
    let groups = [("a", 30), ("b", 20)];
    for (what, m) in &monitors {
        check(what, &snapshot(m).unwrap(), &groups, &[], &skipped);
        // Warm: from the kept mappings and the fallback alike.
        check(what, &snapshot(m).unwrap(), &groups, &[], &skipped);
    }
    // Within budget: 8 kept by each of two monitors, none by the others (the
    // crafted files' handles are descriptors, not mappings).
    assert!(mappings_of(&dir) <= 16, "{}", mappings_of(&dir));

    // Growth, past the first page and past a kept mapping's length, is
    // followed whichever way a worker is read.
    let mut grown = Vec::new();
    for (i, len) in [(0u64, 5000), (7, 100_000), (13, 1 << 20), (29, 3)] {
        let seed = 40 + i;
        a.ok(&format!("grow a-{i} {len} {seed}"));
        grown.push((format!("a-{i}"), pattern(len, seed)));
    }
    for (what, m) in &monitors {
        check(what, &snapshot(m).unwrap(), &groups, &grown, &skipped);
    }
    assert!(mappings_of(&dir) <= 16, "{}", mappings_of(&dir));

    // Deaths: the first monitor to read removes the files, every one stops
    // showing them, and the freed mappings go to the workers read without.
    b.kill();
    let mut removed = 0;
    for (what, m) in &monitors {
        let snap = snapshot(m).unwrap();
        check(what, &snap, &[("a", 30)], &grown, &skipped);
        removed += snap.removed;
        check(what, &snapshot(m).unwrap(), &[("a", 30)], &grown, &skipped);
    }
    assert_eq!(removed, 20);
    assert_eq!(entries(&dir).len(), 30 + skipped.len());
    assert!(mappings_of(&dir) <= 16, "{}", mappings_of(&dir));
    for (what, m) in &monitors {
        let all = m.read_all().unwrap();
        assert_eq!(all.len(), 30, "{what}");
    }
    drop(locks);
    assert!(a.finish().success());
}

/// Mappings the crowded reader leaves free: room for its allocator, not for
/// a reader's budget (which leaves a quarter of `vm.max_map_count`).
const LEFT_FREE: usize = 2000;

/// Above this `vm.max_map_count` (some distributions raise it to 2^20 or
/// more) filling the mappings costs too much for a test: it is skipped.
const MAX_TO_FILL: usize = 262_144;

/// The `crowded-reader` helper: takes all but [`LEFT_FREE`] of this
/// process's mappings (anonymous pages of alternating protections, which do
/// not merge), then reads the board with a watching and a listing board of
/// the default budget, and answers `@@ counts COLD WARM LISTED MAPPED` once
/// every status read matches its id (`PREFIX-i` -> `s-i`); MAPPED: mappings
/// of the board's files it then had.
pub fn crowded_reader(dir: &str) {
    let max: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if max > MAX_TO_FILL {
        println!("@@ skip vm.max_map_count is {max}");
        return;
    }
    let count = || {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .count()
    };
    let fill = max - LEFT_FREE - count();
    for i in 0..fill {
        let prot = if i % 2 == 0 {
            libc::PROT_READ
        } else {
            libc::PROT_NONE
        };
        // SAFETY: a new anonymous private mapping at an address the kernel
        // picks; never accessed, never unmapped (the process exits).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "filling mapping {i} of {fill}");
    }
    assert!(count() > max - 2 * LEFT_FREE, "{} of {max}", count());
    let watching = crate::common::open(dir).expect("open");
    let listing = crate::common::builder(dir)
        .watch(false)
        .open()
        .expect("open");
    let (cold, warm, listed) = crate::helper::read_held(&watching, &listing);
    let mapped = mappings_of(Path::new(dir));
    println!("@@ counts {cold} {warm} {listed} {mapped}");
}

#[test]
fn a_process_near_its_mapping_limit_reads_every_worker_keeping_none() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let mut a = Helper::spawn("script", &dir);
    a.ok("hold 50 a");
    let mut reader = Helper::spawn("crowded-reader", &dir);
    // Every worker, cold, warm and listed, and no mapping kept: the budget
    // counted the mappings the process already had.
    let counts = reader.line();
    if counts.starts_with("skip") {
        eprintln!("{counts}: not filled");
        return;
    }
    assert_eq!(counts, "counts 50 50 50 0");
    assert!(reader.finish().success());
    assert!(a.finish().success());
}

/// The `boards-reader` helper: opens a board on each path of `PSB_BOARDS`
/// (separated by `:`; a path may come more than once), reads them all cold
/// at once (a thread each), then all warm in turn, checking every status against its id (`PREFIX-i` ->
/// `s-i`), and answers `@@ counts N...`, each board's warm count.
pub fn boards_reader() {
    let paths = std::env::var("PSB_BOARDS").expect("PSB_BOARDS");
    let boards: Vec<Scoreboard> = paths
        .split(':')
        .map(|p| crate::common::open(p).expect("open"))
        .collect();
    let check = |board: &Scoreboard| {
        let all = board.read_all().expect("read");
        for (id, status) in &all {
            let i = id.rsplit('-').next().unwrap();
            assert_eq!(status, format!("s-{i}").as_bytes(), "{id}");
        }
        all.len().to_string()
    };
    // Cold, all at once (as a server reading its boards from several
    // threads does): each board maps its files while the others map theirs.
    let start = std::sync::Barrier::new(boards.len());
    std::thread::scope(|s| {
        for board in &boards {
            let (check, start) = (&check, &start);
            s.spawn(move || {
                start.wait();
                check(board)
            });
        }
    });
    let warm: Vec<String> = boards.iter().map(check).collect();
    println!("@@ counts {}", warm.join(" "));
}

/// Holders of `n` workers in `dir`, at most [`PER_HOLDER`] each (a worker
/// costs its holder a descriptor, and the open-file limit is 20,000 here),
/// named `PREFIX<k>-i`; made in parallel, returned once all are made.
fn hold(dir: &Path, prefix: &str, n: usize) -> Vec<Helper> {
    const PER_HOLDER: usize = 16_501;
    let mut holders = Vec::new();
    let mut left = n;
    while left > 0 {
        let k = left.min(PER_HOLDER);
        let mut h = Helper::spawn("script", dir);
        h.tell(&format!("hold {k} {prefix}{}", holders.len()));
        holders.push(h);
        left -= k;
    }
    for h in &mut holders {
        assert_eq!(h.line(), "ok");
    }
    holders
}

/// Every board of a process takes its mappings from one budget: two boards
/// of 45,001 and 33,001 workers read by one process, and two boards on the
/// directory of 45,001, with the default `vm.max_map_count` (65,530), where
/// each board alone would keep nearly 49,000. Each board working out a
/// budget of its own ran the process out of mappings, and its allocator
/// aborted it.
#[test]
fn the_boards_of_a_process_share_one_mapping_budget() {
    let _heavy = crate::common::heavy();
    let max: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if max > MAX_TO_FILL {
        eprintln!("vm.max_map_count is {max}: these boards cannot exhaust it; skipped");
        return;
    }
    let tmp = tempdir();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (n_a, n_b) = (45_001, 33_001);
    let mut holders = hold(&a, "a", n_a);
    holders.extend(hold(&b, "b", n_b));
    let boards = format!("{}:{}", a.display(), b.display());
    let mut two = Helper::spawn_with("boards-reader", &a, &[("PSB_BOARDS", &boards)]);
    assert_eq!(two.line(), format!("counts {n_a} {n_b}"));
    assert!(two.finish().success());
    let boards = format!("{}:{}", a.display(), a.display());
    let mut same = Helper::spawn_with("boards-reader", &a, &[("PSB_BOARDS", &boards)]);
    assert_eq!(same.line(), format!("counts {n_a} {n_a}"));
    assert!(same.finish().success());
    for h in holders {
        assert!(h.finish().success());
    }
}
