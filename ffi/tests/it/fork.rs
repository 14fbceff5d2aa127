//! `fork()`: the child's own worker, the parent's left alone.

use std::ffi::CStr;

use parallel_scoreboard_ffi::*;

use crate::common::{Board, Snap, fork, wait};

#[test]
fn a_fork_child_updates_as_itself_and_leaves_the_parents_files() {
    let tmp = testkit::tempdir();
    let board = Board::open(tmp.path()).unwrap();
    board.update(b"parent").unwrap();
    let mut w = board.worker(Some(b"explicit")).unwrap();
    w.update(b"parent's worker").unwrap();
    let parent = std::process::id();
    let dir = tmp.path();
    let child = fork(|| {
        // An inherited worker refuses, and freeing it leaves the file.
        // SAFETY: the inherited worker, used by this thread only.
        let code = unsafe { psb_worker_update(w.0, c"x".as_ptr().cast(), 1) };
        if code != PSB_E_FORKED {
            return 10;
        }
        // SAFETY: a static or thread-owned C string.
        let message = unsafe { CStr::from_ptr(psb_error_message()) }.to_string_lossy();
        if !message.contains("inherited through fork") {
            return 11;
        }
        // SAFETY: the inherited worker, freed once (the child exits without
        // running the parent's destructors).
        if unsafe { psb_worker_free(w.0) } != PSB_OK {
            return 12;
        }
        // The child's own entry, by its pid.
        if board.update(b"child").is_err() {
            return 13;
        }
        let mut snap = Snap::new();
        if board.read(&mut snap).is_err() {
            return 14;
        }
        let me = std::process::id();
        let want = [
            (
                me.min(parent).to_string(),
                if me < parent {
                    &b"child"[..]
                } else {
                    b"parent"
                },
            ),
            (
                me.max(parent).to_string(),
                if me < parent {
                    &b"parent"[..]
                } else {
                    b"child"
                },
            ),
            ("explicit".to_owned(), b"parent's worker"),
        ];
        let got = snap.statuses();
        let want: Vec<_> = want
            .iter()
            .map(|(id, s)| (id.clone(), s.to_vec()))
            .collect();
        if got != want {
            eprintln!("child read {got:?}");
            return 15;
        }
        drop(snap);
        // Freeing the inherited board removes the child's entry only.
        // SAFETY: the inherited board, freed once, as above.
        if unsafe { psb_board_free(board.0) } != PSB_OK {
            return 16;
        }
        let exists = |name: String| dir.join(name).exists();
        if exists(format!("status_{me}"))
            || !exists(format!("status_{parent}"))
            || !exists("status_explicit".into())
        {
            return 17;
        }
        0
    });
    assert_eq!(wait(child), 0);
    assert!(tmp.path().join("status_explicit").exists());
    assert!(tmp.path().join(format!("status_{parent}")).exists());
    w.update(b"still mine").unwrap();
    let mut snap = Snap::new();
    board.read(&mut snap).unwrap();
    assert_eq!(
        snap.statuses(),
        [
            (parent.to_string(), b"parent".to_vec()),
            ("explicit".to_owned(), b"still mine".to_vec())
        ]
    );
}

#[test]
fn freeing_a_board_whose_directory_is_gone_is_quiet() {
    let tmp = testkit::tempdir();
    let path = tmp.path().join("board");
    let board = Board::open(&path).unwrap();
    board.update(b"up").unwrap();
    let w = board.worker(Some(b"w")).unwrap();
    std::fs::remove_dir_all(&path).unwrap();
    // Both frees succeed (the drops assert PSB_OK), and nothing is made.
    drop(w);
    drop(board);
    assert!(!path.exists());
}
