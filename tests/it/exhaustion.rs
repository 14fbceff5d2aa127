//! Resources running out: a full file system, a file size limit, no file
//! descriptors left. Each is an error from the call that needed the resource;
//! the previous status stays published and readable, the worker stays usable,
//! nothing faults, and a read never leaves out a live worker silently.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use parallel_scoreboard::ErrorKind;

use crate::common::{Helper, Mount, entries, tempdir};

/// Fills the file system holding `dir` until writes fail with ENOSPC.
fn fill(dir: &Path) {
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0u8; 4096];
    loop {
        match f.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return,
            Err(e) => panic!("filling: {e}"),
        }
    }
}

#[test]
fn a_full_file_system_is_an_error_that_loses_nothing() {
    let tmp = tempdir();
    let fs = tmp.path().join("fs");
    let _mount = Mount::tmpfs(&fs, "512k");
    let dir = fs.join("board");
    let board = crate::common::open(&dir).unwrap();
    let reader = crate::common::builder(&dir).watch(false).open().unwrap();
    let mut w = board.worker_with_id("w").unwrap();
    w.update(b"before the disk filled").unwrap();
    let mut other = Helper::spawn("script", &dir);
    other.ok("worker p");
    other.ok("wupdate p other process");
    assert_eq!(board.read_all().unwrap().len(), 2);
    fill(&fs);

    // Growth needs blocks: an error, and the previous status stays.
    let big = vec![b'x'; 200_000];
    let e = w.update(&big).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert_eq!(
        e.io_error().unwrap().raw_os_error(),
        Some(libc::ENOSPC),
        "{e}"
    );
    assert!(e.to_string().contains("status_w"), "{e}");
    let want = BTreeMap::from([
        ("p".to_owned(), b"other process".to_vec()),
        ("w".to_owned(), b"before the disk filled".to_vec()),
    ]);
    assert_eq!(board.read_all().unwrap(), want);
    assert_eq!(reader.read_all().unwrap(), want);
    // Growth in another process: its error, its previous status.
    let answer = other.send("grow p 300000 3");
    assert!(answer.starts_with("err Io"), "{answer}");
    assert_eq!(reader.read_all().unwrap(), want);

    // What fits still works, with no system call to fail.
    w.update(b"still usable").unwrap();
    assert_eq!(board.read_all().unwrap()["w"], b"still usable");
    // A new worker needs a file: an error, and no temporary left behind.
    let e = board.worker_with_id("new").unwrap_err();
    assert_eq!(
        e.io_error().unwrap().raw_os_error(),
        Some(libc::ENOSPC),
        "{e}"
    );
    assert_eq!(entries(&dir), ["status_p", "status_w"]);

    // Space again: growth works.
    std::fs::remove_file(fs.join("filler")).unwrap();
    w.update(&big).unwrap();
    assert_eq!(reader.read_all().unwrap()["w"], big);
    assert!(other.finish().success());
    drop(w);
    assert!(board.read_all().unwrap().is_empty());
}

#[test]
fn out_of_file_descriptors_is_a_clear_error_never_a_partial_read() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let mut holder = Helper::spawn("script", &dir);
    holder.ok("hold 20 h");
    let mut f = Helper::spawn("script", &dir);
    f.ok("worker mine");
    f.ok("wupdate mine first");
    // A warm read first: the board watches base_dir and has every file mapped.
    assert_eq!(f.ok("read").split(' ').count(), 21);
    f.ok("nofile-extra 8");
    // Workers until no descriptor is left: creating one fails, clearly.
    let mut made = 0;
    let answer = loop {
        let answer = f.send(&format!("worker x{made}"));
        if answer != "ok" {
            break answer;
        }
        made += 1;
        assert!(made < 100, "the open-file limit did not apply");
    };
    assert!(made >= 3, "{made}");
    assert!(
        answer.starts_with("err Io") && answer.contains("Too many open files"),
        "{answer}"
    );
    // No descriptor left at all (a failed creation may leave some: it needs
    // more than a read does): the files made since cannot be opened to check
    // them, so the read fails, saying it would be incomplete, rather than
    // leave out a worker.
    f.ok("fill-fds");
    let answer = f.send("read");
    assert!(
        answer.starts_with("err Io") && answer.contains("Too many open files"),
        "{answer}"
    );
    if testkit::watching() {
        // (A listing board fails earlier, at listing the directory.)
        assert!(answer.contains("incomplete"), "{answer}");
    }
    // Existing workers keep working.
    f.ok("wupdate mine second");
    f.ok("free-fds");
    // Descriptors back: reads are complete again.
    f.ok("drop x0");
    f.ok("drop x1");
    let answer = f.ok("read");
    let ids: Vec<&str> = answer
        .split(' ')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 21, "{answer}");
    assert!(answer.contains("mine=second"), "{answer}");
    assert!(f.finish().success());
    assert!(holder.finish().success());
}

#[test]
fn no_memory_for_a_status_is_an_error_not_an_abort() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    let mut big = board.worker_with_id("big").unwrap();
    let len = 96 << 20;
    big.update(&vec![b'b'; len]).unwrap();
    let mut small = board.worker_with_id("small").unwrap();
    small.update(b"fine").unwrap();

    let mut reader = Helper::spawn("script", &dir);
    // Room to map the big status (and a little more), not to copy it too.
    reader.ok(&format!("as-extra {}", len + (24 << 20)));
    let answer = reader.send("read");
    assert!(
        answer.starts_with("err Io")
            && answer.contains(&format!("no memory for its {len}-byte status"))
            && answer.contains("status_big"),
        "{answer}"
    );
    // The reader lives on; once the status is small again, reads are whole.
    big.update(b"small again").unwrap();
    assert_eq!(reader.ok("read"), "big=small again small=fine");
    assert!(reader.finish().success());
}
