//! Crash at every step: a process killed (SIGKILL, through the crash points of
//! the `fault-injection` feature) at each step of publishing, taking over,
//! growing, removing and dropping a status file. Afterwards reads finish, show
//! exactly the live workers, `cleanup` leaves one file per live worker, the id
//! can be taken again, and a bystander's live file is never touched.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use parallel_scoreboard::Scoreboard;

use crate::common::{Helper, entries, tempdir};

/// What the crashing process does before it reaches its crash point.
enum Scenario {
    /// Creates the worker `victim`.
    Create,
    /// A process holding `victim` is killed first; then takes over `victim`.
    Takeover,
    /// Creates `victim` and updates it, then grows it to 100,000 bytes.
    Grow,
    /// A process holding `victim` is killed first; then runs `cleanup`.
    Cleanup,
    /// Creates `victim`, updates it and drops it.
    Drop,
}

const POINTS: [(&str, Scenario); 9] = [
    ("create:temp", Scenario::Create),
    ("create:locked", Scenario::Create),
    ("create:header", Scenario::Create),
    ("create:published", Scenario::Create),
    ("takeover:claimed", Scenario::Takeover),
    ("grow:allocated", Scenario::Grow),
    ("grow:mapped", Scenario::Grow),
    ("remove:claimed", Scenario::Cleanup),
    ("drop:unlinked", Scenario::Drop),
];

#[test]
fn a_crash_at_every_step_leaves_a_board_that_converges() {
    for (point, scenario) in POINTS {
        crash_at(point, &scenario);
    }
}

fn crash_at(point: &str, scenario: &Scenario) {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let watching = crate::common::open(&dir).unwrap();
    let listing = crate::common::builder(&dir).watch(false).open().unwrap();
    let mut bystander = Helper::spawn("script", &dir);
    bystander.ok("worker live");
    bystander.ok("wupdate live still here");
    let live_ino = std::fs::metadata(dir.join("status_live")).unwrap().ino();
    let want = BTreeMap::from([("live".to_owned(), b"still here".to_vec())]);
    assert_eq!(watching.read_all().unwrap(), want);

    if matches!(scenario, Scenario::Takeover | Scenario::Cleanup) {
        // A dead worker's file for the crashing process to work on.
        let mut old = Helper::spawn("script", &dir);
        old.ok("worker victim");
        old.ok("wupdate victim old");
        old.kill();
        assert!(dir.join("status_victim").exists());
    }
    let mut f = Helper::spawn_with("script", &dir, &[("PARALLEL_SCOREBOARD_FAULT", point)]);
    match scenario {
        Scenario::Create | Scenario::Takeover => f.tell("worker victim"),
        Scenario::Grow => {
            f.ok("worker victim");
            f.ok("wupdate victim before growing");
            // A reader maps the file before it grows.
            assert_eq!(watching.read_all().unwrap().len(), 2, "{point}");
            f.tell("grow victim 100000 7");
        }
        Scenario::Cleanup => f.tell("cleanup 1"),
        Scenario::Drop => {
            f.ok("worker victim");
            f.ok("wupdate victim leaving");
            f.tell("drop victim");
        }
    }
    let status = f.finish();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{point}: the process did not crash there ({status:?})"
    );

    // Reads finish, and show exactly the live workers.
    let (w, l) = read_with_timeout(watching, listing, point);
    assert_eq!(w.read_all().unwrap(), want, "{point}: watching board");
    assert_eq!(l.read_all().unwrap(), want, "{point}: listing board");
    w.cleanup().unwrap();
    assert_eq!(entries(&dir), ["status_live"], "{point}: after cleanup");
    assert_eq!(
        std::fs::metadata(dir.join("status_live")).unwrap().ino(),
        live_ino,
        "{point}: the live file was replaced"
    );

    // The id is free again, and the bystander was never disturbed.
    let mut next = Helper::spawn("script", &dir);
    next.ok("worker victim");
    next.ok("wupdate victim new");
    let mut want2 = want.clone();
    want2.insert("victim".to_owned(), b"new".to_vec());
    assert_eq!(w.read_all().unwrap(), want2, "{point}");
    bystander.ok("wupdate live still here 2");
    assert_eq!(l.read_all().unwrap()["live"], b"still here 2", "{point}");
    assert!(next.finish().success());
    assert!(bystander.finish().success());
    assert!(w.read_all().unwrap().is_empty());
    assert!(entries(&dir).is_empty(), "{point}: {:?}", entries(&dir));
    drop((w, l));
    assert_dir_gone_ok(&dir);
}

/// Runs a read on both boards on another thread; panics if it does not finish
/// within 10 s. Returns the boards.
fn read_with_timeout(w: Scoreboard, l: Scoreboard, point: &str) -> (Scoreboard, Scoreboard) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        w.read_all().unwrap();
        l.read_all().unwrap();
        let _ = tx.send((w, l));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{point}: a read hung"))
}

fn assert_dir_gone_ok(dir: &Path) {
    std::fs::remove_dir(dir).unwrap();
}
