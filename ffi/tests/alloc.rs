//! Warm updates and a warm read into a reused snapshot allocate nothing
//! through the C functions either. Counted by a global allocator, so this
//! is a test binary of its own.

use std::ptr;

use parallel_scoreboard_ffi::*;
use testkit::alloc::{Counting, allocations};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn warm_updates_and_reads_allocate_nothing() {
    let tmp = testkit::tempdir();
    let dir = std::ffi::CString::new(tmp.path().to_str().unwrap()).unwrap();
    let mut board = ptr::null_mut();
    let mut worker = ptr::null_mut();
    let snap = psb_snapshot_new();
    // SAFETY: valid arguments throughout; every handle is freed once at the
    // end.
    unsafe {
        assert_eq!(
            psb_board_open(dir.as_ptr(), ptr::null(), &raw mut board),
            PSB_OK
        );
        assert_eq!(
            psb_worker_open(board, c"w".as_ptr(), 1, &raw mut worker),
            PSB_OK
        );
        let status = b"busy GET /index.html";
        assert_eq!(
            psb_board_update(board, status.as_ptr().cast(), status.len()),
            PSB_OK
        );
        assert_eq!(
            psb_worker_update(worker, status.as_ptr().cast(), status.len()),
            PSB_OK
        );
        // Warm the snapshot and the reader (mappings, the watch).
        for _ in 0..3 {
            assert_eq!(psb_board_read(board, snap), PSB_OK);
        }
        let n = allocations(|| {
            for i in 0..1000u32 {
                let s = i.to_le_bytes();
                assert_eq!(psb_board_update(board, s.as_ptr().cast(), s.len()), PSB_OK);
                assert_eq!(
                    psb_worker_update(worker, s.as_ptr().cast(), s.len()),
                    PSB_OK
                );
            }
        });
        assert_eq!(n, 0, "1000 warm updates of each kind allocated {n} times");
        let n = allocations(|| {
            for _ in 0..100 {
                assert_eq!(psb_board_read(board, snap), PSB_OK);
            }
        });
        assert_eq!(
            n, 0,
            "100 warm reads into a reused snapshot allocated {n} times"
        );
        assert_eq!(psb_snapshot_count(snap), 2);
        assert_eq!(psb_snapshot_free(snap), PSB_OK);
        assert_eq!(psb_worker_free(worker), PSB_OK);
        assert_eq!(psb_board_free(board), PSB_OK);
    }
}
