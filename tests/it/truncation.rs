//! A same-user truncation of a live worker's status file (the trust model's
//! open case): the worker's process dies of SIGBUS on its next update, with
//! all its workers; readers that learn of the truncation before they copy
//! (the watch's `IN_MODIFY`, or a listing's `fstat`) skip the file instead of
//! faulting. Readers and writers are separate processes here, so a fault
//! kills a helper, never the test.

use std::os::unix::process::ExitStatusExt;

use crate::common::{Helper, tempdir};

#[test]
fn a_truncated_status_file_kills_its_writer_and_readers_skip_it() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let _board = crate::common::open(&dir).unwrap();
    let mut writer = Helper::spawn("script", &dir);
    writer.ok("worker victim");
    writer.ok("wupdate victim v1");
    writer.ok("worker bystander");
    writer.ok("wupdate bystander b1");
    let mut other = Helper::spawn("script", &dir);
    other.ok("worker elsewhere");
    other.ok("wupdate elsewhere e1");
    let mut readers = [
        Helper::spawn("script", &dir),
        Helper::spawn_with("script", &dir, &[(testkit::NO_WATCH_VAR, "1")]),
    ];
    for r in &mut readers {
        // Each maps every file.
        assert_eq!(r.ok("read"), "bystander=b1 elsewhere=e1 victim=v1");
    }

    // Truncated by another process of the same user, its writer still live;
    // kept open, so the watch hears of it only as IN_MODIFY (no close yet).
    let truncator = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("status_victim"))
        .unwrap();
    truncator.set_len(0).unwrap();
    for r in &mut readers {
        for _ in 0..2 {
            // Survived, and the truncated file is left out.
            assert_eq!(r.ok("read"), "bystander=b1 elsewhere=e1");
        }
    }

    // The writer's next update stores into a page past the end of the file:
    // SIGBUS, which ends its whole process, the bystander worker with it.
    drop(truncator);
    writer.tell("wupdate victim v2");
    let status = writer.finish();
    assert_eq!(status.signal(), Some(libc::SIGBUS), "{status:?}");
    for r in &mut readers {
        assert_eq!(r.ok("read"), "elsewhere=e1");
    }
    other.ok("wupdate elsewhere e2");
    for r in &mut readers {
        assert_eq!(r.ok("read"), "elsewhere=e2");
    }
}
