//! Status size is unbounded: files grow and warm readers follow.

use crate::common::{Helper, entries, pattern, tempdir, verify};

const MIB: usize = 1 << 20;

#[test]
fn from_one_byte_to_4_mib_and_back_read_by_a_warm_reader() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let mut h = Helper::spawn("script", tmp.path());
    h.ok("worker g");
    let mut sizes = vec![
        1,
        2,
        7,
        8,
        9,
        100,
        1791,
        1792,
        1793,
        4095,
        4096,
        4097,
        10_000,
        65_536,
        500_000,
        MIB,
        4 * MIB,
    ];
    let down: Vec<usize> = sizes.iter().rev().skip(1).copied().collect();
    sizes.extend(down);
    sizes.extend([0, 4 * MIB, 3, 4 * MIB - 1, 1]);
    let path = tmp.path().join("status_g");
    let mut largest_file = 0;
    for (seed, len) in sizes.into_iter().enumerate() {
        h.ok(&format!("grow g {len} {seed}"));
        let all = board.read_all().unwrap();
        assert_eq!(all["g"].len(), len, "size {len}");
        assert!(
            all["g"] == pattern(len, seed as u64),
            "content at size {len}"
        );
        let file_len = std::fs::metadata(&path).unwrap().len();
        largest_file = largest_file.max(file_len);
        // Both copies may need 4 MiB; growth doubles, so the file stays within
        // a small multiple of the largest status.
        assert!(file_len <= 20 * MIB as u64, "file of {file_len} bytes");
    }
    assert!(largest_file >= 4 * MIB as u64);
    assert!(h.finish().success());
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn readers_follow_growth_while_it_happens() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let mut h = Helper::spawn("script", tmp.path());
    // A writer updating flat out with sizes from 24 B to 2 MiB.
    h.ok(&format!("spin grower 24 {}", 2 * MIB));
    let mut seeds = std::collections::HashSet::new();
    let mut sizes = std::collections::HashSet::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut reads = 0;
    // Read until the writer has been seen at many statuses and sizes (every
    // one of them checked whole), however slow this machine is today.
    while seeds.len() < 50 || sizes.len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "{reads} reads saw {} statuses, sizes {sizes:?}",
            seeds.len()
        );
        let all = board.read_all().unwrap();
        let status = &all["grower"];
        let seed = verify(status).unwrap_or_else(|e| panic!("torn status: {e}"));
        seeds.insert(seed);
        sizes.insert(status.len() / (256 * 1024));
        reads += 1;
    }
    h.kill();
    assert!(board.read_all().unwrap().is_empty());
}

/// Growth the file system refuses (here a file size limit, EFBIG) is an error
/// from `update`: the previous status stays published and the worker usable.
#[test]
fn refused_growth_is_an_error_that_loses_nothing() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let mut h = Helper::spawn("script", tmp.path());
    h.ok("worker limited");
    h.ok("grow limited 100000 1");
    h.ok(&format!("fsize-limit {}", 1 << 20));
    let answer = h.send(&format!("grow limited {} 2", 4 * MIB));
    assert!(answer.starts_with("err Io"), "{answer}");
    assert!(
        answer.contains("status_limited"),
        "the error names the file: {answer}"
    );
    assert_eq!(
        board.read_all().unwrap()["limited"],
        pattern(100_000, 1),
        "the previous status stays"
    );
    // Still usable: statuses that fit go on working.
    h.ok("grow limited 5000 3");
    assert_eq!(board.read_all().unwrap()["limited"], pattern(5000, 3));
    h.ok("grow limited 90000 4");
    assert_eq!(board.read_all().unwrap()["limited"], pattern(90_000, 4));
    assert!(h.finish().success());
    assert!(entries(tmp.path()).is_empty());
}

/// A file size limit with SIGXFSZ at its default action (which kills a
/// process that writes past the limit): growth that would cross it is an
/// error, the process lives, and the previous status stays; a region is cut
/// to the room left below the limit when the status fits there.
#[test]
fn a_file_size_limit_is_an_error_whatever_sigxfsz_does() {
    const LIMIT: u64 = 300 << 10;
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let mut h = Helper::spawn("script", tmp.path());
    h.ok("worker limited");
    // One copy gets a 100 KiB region (the file: 4 KiB + 100 KiB).
    h.ok("grow limited 100000 1");
    h.ok(&format!("fsize-limit {LIMIT} dfl"));
    // The other copy cannot grow past the limit: an error, not SIGXFSZ.
    let answer = h.send(&format!("grow limited {} 2", 4 * MIB));
    assert!(
        answer.starts_with("err Io") && answer.contains("RLIMIT_FSIZE"),
        "{answer}"
    );
    assert!(answer.contains("status_limited"), "{answer}");
    assert_eq!(
        board.read_all().unwrap()["limited"],
        pattern(100_000, 1),
        "the previous status stays"
    );
    // Statuses that fit still work, and the process lives on.
    h.ok("grow limited 10 3");
    assert_eq!(board.read_all().unwrap()["limited"], pattern(10, 3));
    assert_eq!(h.ok("pid"), h.pid().to_string());
    // The first copy again, at 150 KB: doubling its region would cross the
    // limit, the room left below it holds the status.
    h.ok("grow limited 150000 4");
    assert_eq!(board.read_all().unwrap()["limited"], pattern(150_000, 4));
    let len = std::fs::metadata(tmp.path().join("status_limited"))
        .unwrap()
        .len();
    assert!(len <= LIMIT, "{len}");
    assert!(h.finish().success());
    assert!(entries(tmp.path()).is_empty());
}

/// A limit below the first page: creating a worker fails cleanly, leaving
/// no temporary, and the process lives.
#[test]
fn a_file_size_limit_below_a_page_refuses_a_new_worker_cleanly() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let mut h = Helper::spawn("script", tmp.path());
    h.ok("fsize-limit 2048 dfl");
    let answer = h.send("worker tiny");
    assert!(answer.starts_with("err Io"), "{answer}");
    assert!(answer.contains("File too large"), "{answer}");
    let answer = h.send("update first");
    assert!(answer.starts_with("err Io"), "{answer}");
    assert!(entries(tmp.path()).is_empty(), "{:?}", entries(tmp.path()));
    assert_eq!(h.ok("pid"), h.pid().to_string());
    assert!(board.read_all().unwrap().is_empty());
    assert!(h.finish().success());
}
