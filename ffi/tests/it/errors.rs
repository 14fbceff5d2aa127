//! Codes and messages: NULL pointers, bad arguments, bad ids, OS errors
//! with their errno, and the thread's last error.

use std::ffi::CStr;
use std::os::unix::fs::PermissionsExt;
use std::ptr;

use parallel_scoreboard_ffi::*;

use crate::common::{Board, Snap, c_path, check, fork, last_message, wait};

/// Checks that `code` is `PSB_E_NULL` and the message names `what`.
fn refused_null(code: i32, what: &str) {
    let e = check(code).expect_err("NULL refused");
    assert_eq!(e.code, PSB_E_NULL, "{e:?}");
    assert_eq!(e.message, format!("{what} is NULL"));
    assert_eq!(e.os, 0);
}

#[test]
fn every_function_refuses_null_pointers() {
    let tmp = testkit::tempdir();
    let dir = c_path(&tmp.path().join("b"));
    let board = Board::open(&tmp.path().join("b")).unwrap();
    let snap = Snap::new();
    let mut w = board.worker(Some(b"w")).unwrap();
    let mut out_board: *mut psb_board = ptr::dangling_mut();
    let mut out_worker: *mut psb_worker = ptr::dangling_mut();
    let mut info = std::mem::MaybeUninit::<psb_worker_info>::uninit();
    let mut skipped = std::mem::MaybeUninit::<psb_skipped_info>::uninit();
    // SAFETY: every pointer is NULL or valid; NULL is what is tested.
    unsafe {
        refused_null(psb_options_init(ptr::null_mut()), "opts");
        refused_null(
            psb_board_open(ptr::null(), ptr::null(), &raw mut out_board),
            "dir",
        );
        assert!(out_board.is_null(), "a failed open leaves NULL");
        refused_null(
            psb_board_open(dir.as_ptr(), ptr::null(), ptr::null_mut()),
            "out",
        );
        refused_null(psb_board_update(ptr::null(), ptr::null(), 0), "board");
        refused_null(psb_board_update(board.0, ptr::null(), 5), "status");
        refused_null(
            psb_board_cleanup(ptr::null(), ptr::null_mut(), ptr::null_mut()),
            "board",
        );
        refused_null(psb_board_read(ptr::null(), snap.0), "board");
        refused_null(psb_board_read(board.0, ptr::null_mut()), "snap");
        refused_null(psb_snapshot_get(ptr::null(), 0, info.as_mut_ptr()), "snap");
        refused_null(psb_snapshot_get(snap.0, 0, ptr::null_mut()), "out");
        refused_null(
            psb_snapshot_skipped(ptr::null(), 0, skipped.as_mut_ptr()),
            "snap",
        );
        refused_null(psb_snapshot_skipped(snap.0, 0, ptr::null_mut()), "out");
        refused_null(
            psb_worker_open(ptr::null(), ptr::null(), 0, &raw mut out_worker),
            "board",
        );
        assert!(out_worker.is_null(), "a failed open leaves NULL");
        refused_null(
            psb_worker_open(board.0, c"x".as_ptr(), 1, ptr::null_mut()),
            "out",
        );
        refused_null(psb_worker_update(ptr::null_mut(), ptr::null(), 0), "worker");
        refused_null(psb_worker_update(w.0, ptr::null(), 3), "status");

        // NULL where the header allows it.
        assert_eq!(psb_board_update(board.0, ptr::null(), 0), PSB_OK);
        assert_eq!(psb_worker_update(w.0, ptr::null(), 0), PSB_OK);
        assert_eq!(
            psb_board_cleanup(board.0, ptr::null_mut(), ptr::null_mut()),
            PSB_OK
        );
        assert_eq!(psb_board_free(ptr::null_mut()), PSB_OK);
        assert_eq!(psb_worker_free(ptr::null_mut()), PSB_OK);
        assert_eq!(psb_snapshot_free(ptr::null_mut()), PSB_OK);
        assert_eq!(psb_snapshot_count(ptr::null()), 0);
        assert_eq!(psb_snapshot_removed(ptr::null()), 0);
        assert_eq!(psb_snapshot_skipped_count(ptr::null()), 0);
    }
    // The empty updates above published empty statuses.
    w.update(b"").unwrap();
    let mut snap = snap;
    board.read(&mut snap).unwrap();
    let pid = std::process::id().to_string();
    assert_eq!(
        snap.statuses(),
        [(pid, vec![]), ("w".to_owned(), vec![])],
        "sorted by id"
    );
}

#[test]
fn an_index_past_the_end_is_an_invalid_argument() {
    let tmp = testkit::tempdir();
    let board = Board::open(tmp.path()).unwrap();
    board.update(b"one").unwrap();
    let mut snap = Snap::new();
    board.read(&mut snap).unwrap();
    assert!(snap.raw(0).is_ok());
    let e = snap.raw(1).unwrap_err();
    assert_eq!(e.code, PSB_E_INVALID_ARGUMENT);
    assert_eq!(
        e.message,
        "invalid argument: index 1, and the snapshot has 1 workers"
    );
    let mut s = std::mem::MaybeUninit::<psb_skipped_info>::uninit();
    // SAFETY: a live snapshot and a place for the info.
    let code = unsafe { psb_snapshot_skipped(snap.0, 0, s.as_mut_ptr()) };
    assert_eq!(check(code).unwrap_err().code, PSB_E_INVALID_ARGUMENT);
}

#[test]
fn bad_ids_get_a_code_and_a_message() {
    let tmp = testkit::tempdir();
    let board = Board::open(tmp.path()).unwrap();
    let e = board.worker(Some(b"")).unwrap_err();
    assert_eq!(e.code, PSB_E_INVALID_ID);
    assert_eq!(e.message, "invalid worker id (empty)");
    let e = board.worker(Some(&[b'x'; 256])).unwrap_err();
    assert_eq!(e.code, PSB_E_INVALID_ID);
    assert_eq!(e.message, "invalid worker id (256 bytes, at most 255)");
    let e = board.worker(Some(b"caf\xe9")).unwrap_err();
    assert_eq!(e.code, PSB_E_INVALID_ID);
    assert!(
        e.message.starts_with("invalid worker id (not UTF-8"),
        "{e:?}"
    );
    // The longest id is taken.
    drop(board.worker(Some(&[b'x'; 255])).unwrap());

    let mut out = ptr::dangling_mut();
    // SAFETY: a live board, NULL id, a place for the worker.
    let code = unsafe { psb_worker_open(board.0, ptr::null(), 3, &raw mut out) };
    let e = check(code).unwrap_err();
    assert_eq!(e.code, PSB_E_INVALID_ARGUMENT);
    assert!(e.message.contains("id is NULL with id_len 3"), "{e:?}");
    assert!(out.is_null());

    let _held = board.worker(Some(b"acceptor-1")).unwrap();
    let e = board.worker(Some(b"acceptor-1")).unwrap_err();
    assert_eq!(e.code, PSB_E_DUPLICATE_ID);
    assert!(
        e.message
            .starts_with("worker id is held by a live worker (id \"acceptor-1\"): "),
        "{e:?}"
    );
    assert!(e.message.ends_with("status_acceptor-1"), "{e:?}");
}

#[test]
fn options_out_of_range_are_invalid_arguments() {
    let tmp = testkit::tempdir();
    let mut opts = std::mem::MaybeUninit::<psb_options>::uninit();
    // SAFETY: a place for the options.
    assert_eq!(unsafe { psb_options_init(opts.as_mut_ptr()) }, PSB_OK);
    // SAFETY: initialised by the call.
    let opts = unsafe { opts.assume_init() };
    assert_eq!(
        (
            opts.create,
            opts.watch,
            opts.settle_timeout_ms,
            opts.group,
            opts.max_mappings
        ),
        (1, 1, -1, -1, -1)
    );
    assert!(opts.worker_id.is_none() && opts.worker_id_ctx.is_null());
    for (bad, what) in [
        (
            psb_options {
                settle_timeout_ms: -2,
                ..opts
            },
            "settle_timeout_ms is -2",
        ),
        (psb_options { group: -5, ..opts }, "group is -5"),
        (
            psb_options {
                group: i64::from(u32::MAX),
                ..opts
            },
            "group is 4294967295",
        ),
        (
            psb_options {
                group: 1 << 40,
                ..opts
            },
            "group is 1099511627776",
        ),
        (
            psb_options {
                max_mappings: -3,
                ..opts
            },
            "max_mappings is -3",
        ),
    ] {
        let e = Board::open_with(&tmp.path().join("b"), Some(&bad)).unwrap_err();
        assert_eq!(e.code, PSB_E_INVALID_ARGUMENT, "{e:?}");
        assert!(
            e.message.starts_with(&format!("invalid argument: {what}")),
            "{e:?}"
        );
    }
    assert!(!tmp.path().join("b").exists(), "nothing made");
}

#[test]
fn an_os_error_gives_its_errno_and_the_path() {
    let tmp = testkit::tempdir();
    let file = tmp.path().join("afile");
    std::fs::write(&file, b"").unwrap();
    let e = Board::open(&file.join("board")).unwrap_err();
    assert_eq!(e.code, PSB_E_IO);
    assert_eq!(e.os, libc::ENOTDIR);
    assert!(e.message.starts_with("I/O error"), "{e:?}");
    assert!(e.message.contains(&file.display().to_string()), "{e:?}");
    let os_text = std::io::Error::from_raw_os_error(libc::ENOTDIR).to_string();
    assert_eq!(
        e.message.matches(&os_text).count(),
        1,
        "the OS error once: {e:?}"
    );
}

#[test]
fn no_permission_is_eacces_for_another_user() {
    // A process of the user `nobody` (uid and gid 65534) makes a board in a
    // directory of ours that it may not write to.
    let tmp = testkit::tempdir();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = c_path(&tmp.path().join("board"));
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Without root the process cannot become `nobody`; as ourselves,
        // a directory without write permission gives the same error.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let child = fork(|| {
        // SAFETY: plain system calls in the child.
        unsafe {
            if libc::geteuid() == 0 && (libc::setgid(65534) != 0 || libc::setuid(65534) != 0) {
                return 2;
            }
        }
        let mut out = ptr::null_mut();
        // SAFETY: a C string, default options, a place for the board.
        let code = unsafe { psb_board_open(dir.as_ptr(), ptr::null(), &raw mut out) };
        let message = last_message();
        match (code, psb_error_os(), out.is_null()) {
            (PSB_E_IO, libc::EACCES, true) if message.contains("board") => 0,
            (PSB_OK, ..) => 3,
            _ => 4,
        }
    });
    assert_eq!(wait(child), 0, "the child saw PSB_E_IO with EACCES");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_missing_board_is_missing_until_made() {
    let tmp = testkit::tempdir();
    let path = tmp.path().join("later");
    let mut opts = std::mem::MaybeUninit::<psb_options>::uninit();
    // SAFETY: a place for the options.
    assert_eq!(unsafe { psb_options_init(opts.as_mut_ptr()) }, PSB_OK);
    // SAFETY: initialised by the call.
    let opts = psb_options {
        create: 0,
        ..unsafe { opts.assume_init() }
    };
    let monitor = Board::open_with(&path, Some(&opts)).unwrap();
    let mut snap = Snap::new();
    let e = monitor.read(&mut snap).unwrap_err();
    assert_eq!(e.code, PSB_E_MISSING);
    assert_eq!(e.os, 0);
    assert!(e.message.contains("later"), "{e:?}");
    let server = Board::open(&path).unwrap();
    server.update(b"up").unwrap();
    monitor.read(&mut snap).unwrap();
    assert_eq!(snap.statuses().len(), 1);
}

#[test]
fn the_last_error_is_the_threads_and_success_keeps_it() {
    let tmp = testkit::tempdir();
    let board = Board::open(tmp.path()).unwrap();
    // SAFETY: a NULL board is refused.
    let code = unsafe { psb_board_update(ptr::null(), ptr::null(), 0) };
    assert_eq!(code, PSB_E_NULL);
    board.update(b"fine").unwrap();
    assert_eq!(
        psb_error_code(),
        PSB_E_NULL,
        "a success leaves the last error"
    );
    assert_eq!(last_message(), "board is NULL");
    std::thread::spawn(|| {
        assert_eq!(psb_error_code(), PSB_OK);
        assert_eq!(last_message(), "");
        assert_eq!(psb_error_os(), 0);
    })
    .join()
    .unwrap();
}

#[test]
fn names_and_version() {
    let name = |code| {
        // SAFETY: a static C string.
        unsafe { CStr::from_ptr(psb_code_name(code)) }
            .to_str()
            .unwrap()
    };
    assert_eq!(name(PSB_OK), "PSB_OK");
    assert_eq!(name(PSB_E_IO), "PSB_E_IO");
    assert_eq!(name(PSB_E_MISSING), "PSB_E_MISSING");
    assert_eq!(name(PSB_E_PANIC), "PSB_E_PANIC");
    assert_eq!(name(-1), "unknown");
    // SAFETY: a static C string.
    let version = unsafe { CStr::from_ptr(psb_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}
