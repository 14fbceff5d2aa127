//! The worker-id callback: ids it gives, ids it fails to give, threads.

use std::ffi::{c_char, c_void};
use std::sync::Mutex;

use parallel_scoreboard_ffi::*;

use crate::common::{Board, Snap};

/// What the test callback gives: its bytes, and the length it returns
/// (which may differ, to lie).
struct Ctx {
    id: Mutex<(Vec<u8>, usize)>,
}

impl Ctx {
    fn new(id: &[u8]) -> Self {
        Self {
            id: Mutex::new((id.to_vec(), id.len())),
        }
    }

    fn set(&self, id: &[u8], len: usize) {
        *self.id.lock().unwrap() = (id.to_vec(), len);
    }
}

/// Writes the context's id, as much as fits.
unsafe extern "C" fn from_ctx(ctx: *mut c_void, buf: *mut c_char, cap: usize) -> usize {
    assert!(cap >= 256);
    // SAFETY: the tests pass a `Ctx` that outlives the board.
    let ctx = unsafe { &*ctx.cast::<Ctx>() };
    let (id, len) = &*ctx.id.lock().unwrap();
    let n = id.len().min(cap);
    // SAFETY: `buf` holds `cap` bytes, `n <= cap`.
    unsafe { std::ptr::copy_nonoverlapping(id.as_ptr(), buf.cast::<u8>(), n) };
    *len
}

fn open(dir: &std::path::Path, ctx: &Ctx) -> Board {
    let mut opts = std::mem::MaybeUninit::<psb_options>::uninit();
    // SAFETY: a place for the options.
    assert_eq!(unsafe { psb_options_init(opts.as_mut_ptr()) }, PSB_OK);
    let opts = psb_options {
        worker_id: Some(from_ctx),
        worker_id_ctx: std::ptr::from_ref(ctx).cast_mut().cast(),
        // SAFETY: initialised by the call.
        ..unsafe { opts.assume_init() }
    };
    Board::open_with(dir, Some(&opts)).unwrap()
}

#[test]
fn the_callback_names_the_updating_worker_and_the_default_worker() {
    let tmp = testkit::tempdir();
    let ctx = Ctx::new(b"acceptor-1");
    let board = open(tmp.path(), &ctx);
    board.update(b"busy").unwrap();
    ctx.set(b"acceptor-2", 10);
    board.update(b"idle").unwrap();
    ctx.set(b"explicit", 8);
    let mut w = board.worker(None).unwrap();
    w.update(b"mine").unwrap();
    let mut snap = Snap::new();
    board.read(&mut snap).unwrap();
    assert_eq!(
        snap.statuses(),
        [
            ("acceptor-1".to_owned(), b"busy".to_vec()),
            ("acceptor-2".to_owned(), b"idle".to_vec()),
            ("explicit".to_owned(), b"mine".to_vec()),
        ]
    );
}

#[test]
fn an_id_the_callback_fails_to_give_is_an_invalid_id_with_why() {
    let tmp = testkit::tempdir();
    let ctx = Ctx::new(b"");
    let board = open(tmp.path(), &ctx);
    for (id, len, why) in [
        (&b""[..], 0, "the worker-id callback returned 0 bytes"),
        (
            &[b'x'; 256][..],
            256,
            "the worker-id callback returned 256 bytes, at most 255",
        ),
        (
            &b"abc"[..],
            5000,
            "the worker-id callback returned 5000 bytes, at most 255",
        ),
        (
            &b"caf\xe9"[..],
            4,
            "the worker-id callback's id is not UTF-8",
        ),
    ] {
        ctx.set(id, len);
        let e = board.update(b"x").unwrap_err();
        assert_eq!(e.code, PSB_E_INVALID_ID);
        assert_eq!(e.message, format!("invalid worker id ({why})"));
        let e = board.worker(None).unwrap_err();
        assert_eq!(e.code, PSB_E_INVALID_ID);
        assert_eq!(e.message, format!("invalid worker id ({why})"));
    }
    // A callback that says it failed.
    ctx.set(b"", PSB_ID_FAILED);
    let e = board.update(b"x").unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (PSB_E_CALLBACK, "the worker-id callback failed")
    );
    let e = board.worker(None).unwrap_err();
    assert_eq!(e.code, PSB_E_CALLBACK);
    // A good id after bad ones, and an empty explicit id is the library's
    // own message again.
    ctx.set(&[b'y'; 255], 255);
    board.update(b"fine").unwrap();
    let e = board.worker(Some(b"")).unwrap_err();
    assert_eq!(e.message, "invalid worker id (empty)");
    assert!(testkit::entries(tmp.path()).len() == 1);
}

/// A board pointer shared with threads, as the header allows.
#[derive(Clone, Copy)]
struct Shared(*const psb_board);
// SAFETY: a board is thread-safe (the header's contract, `Scoreboard` is
// `Send + Sync`); the tests free it after joining the threads.
unsafe impl Send for Shared {}

/// Names the worker after the calling thread.
unsafe extern "C" fn thread_name(_: *mut c_void, buf: *mut c_char, cap: usize) -> usize {
    let name = format!("{:?}", std::thread::current().id());
    let n = name.len().min(cap);
    // SAFETY: `buf` holds `cap` bytes, `n <= cap`.
    unsafe { std::ptr::copy_nonoverlapping(name.as_ptr(), buf.cast::<u8>(), n) };
    name.len()
}

#[test]
fn threads_update_one_board_each_under_its_own_id() {
    let tmp = testkit::tempdir();
    let mut opts = std::mem::MaybeUninit::<psb_options>::uninit();
    // SAFETY: a place for the options.
    assert_eq!(unsafe { psb_options_init(opts.as_mut_ptr()) }, PSB_OK);
    let opts = psb_options {
        worker_id: Some(thread_name),
        // SAFETY: initialised by the call.
        ..unsafe { opts.assume_init() }
    };
    let board = Board::open_with(tmp.path(), Some(&opts)).unwrap();
    let shared = Shared(board.0);
    let (tx, rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let go_rx = std::sync::Arc::new(Mutex::new(go_rx));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let tx = tx.clone();
            let go = std::sync::Arc::clone(&go_rx);
            std::thread::spawn(move || {
                let shared = shared;
                for i in 0..1000u32 {
                    let status = i.to_string();
                    // SAFETY: the board outlives the threads.
                    let code =
                        unsafe { psb_board_update(shared.0, status.as_ptr().cast(), status.len()) };
                    assert_eq!(code, PSB_OK);
                }
                tx.send(()).unwrap();
                // Stay alive (and so keep the slot) until told.
                let _ = go.lock().unwrap().recv();
            })
        })
        .collect();
    for _ in 0..4 {
        rx.recv().unwrap();
    }
    let mut snap = Snap::new();
    board.read(&mut snap).unwrap();
    let w = snap.workers();
    assert_eq!(w.len(), 4, "{w:?}");
    assert!(
        w.iter().all(|w| w.status == b"999" && w.updates == 1000),
        "{w:?}"
    );
    drop(go_tx);
    for t in threads {
        t.join().unwrap();
    }
    // The threads have exited: their workers are gone.
    board.read(&mut snap).unwrap();
    assert!(snap.workers().is_empty());
}

#[test]
fn a_callback_fault_does_not_outlive_its_call() {
    // The board's directory is missing: the update fails before the id is
    // looked at, with the callback's fault kept; the next invalid id must
    // not be reported as the callback's.
    let tmp = testkit::tempdir();
    let ctx = Ctx::new(b"");
    let mut opts = std::mem::MaybeUninit::<psb_options>::uninit();
    // SAFETY: a place for the options.
    assert_eq!(unsafe { psb_options_init(opts.as_mut_ptr()) }, PSB_OK);
    let opts = psb_options {
        create: 0,
        worker_id: Some(from_ctx),
        worker_id_ctx: std::ptr::from_ref(&ctx).cast_mut().cast(),
        // SAFETY: initialised by the call.
        ..unsafe { opts.assume_init() }
    };
    let board = Board::open_with(&tmp.path().join("later"), Some(&opts)).unwrap();
    ctx.set(b"", 0);
    let e = board.update(b"x").unwrap_err();
    assert_eq!(e.code, PSB_E_MISSING, "{e:?}");
    std::fs::create_dir(tmp.path().join("later")).unwrap();
    let e = board.worker(Some(b"")).unwrap_err();
    assert_eq!(e.message, "invalid worker id (empty)");
}
