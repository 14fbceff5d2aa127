//! Ages on the monotonic clock: workers whose wall clock reads an hour ahead
//! or an hour behind the reader's (libfaketime through its `faketime`
//! wrapper, the monotonic clock left true) show their true age in the
//! library's snapshot, in `list` and in `serve`'s metrics.

use std::time::{Duration, SystemTime};

use parallel_scoreboard::Scoreboard;
use testkit::tools::FAKETIME;

use crate::common::{Helper, Server, agent, get, hex, scoreboard_ok, tempdir};

/// How long the test waits after the updates: every age read after it is at
/// least this (less a clock tick).
const WAIT: Duration = Duration::from_secs(2);

/// The age an hour-off clock would give is an hour more or nothing; a true
/// one is at least `WAIT` and, even on a machine stalled for minutes, far
/// below an hour.
fn assert_true_age(what: &str, secs: f64) {
    eprintln!("{what}: {secs:.3} s");
    assert!(
        (WAIT.as_secs_f64() - 0.1..600.0).contains(&secs),
        "{what}: {secs} s, not the {} s since the update",
        WAIT.as_secs()
    );
}

/// The value of the series `name{id="ID"}` in a metrics text.
fn metric(text: &str, name: &str, id: &str) -> f64 {
    let prefix = format!("{name}{{id=\"{id}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in\n{text}"))
        .parse()
        .expect("a number")
}

#[test]
#[cfg_attr(
    not(has_faketime),
    ignore = "faketime not found on PATH (apt-get install faketime)"
)]
fn ages_are_true_when_a_writers_wall_clock_is_an_hour_off() {
    let dir = tempdir();
    let faketime = FAKETIME.path();
    let faketime = faketime.to_str().expect("a UTF-8 path");
    let mut helpers = Vec::new();
    for (id, offset, sign) in [("ahead", "+1h", 1.0), ("behind", "-1h", -1.0)] {
        let mut h = Helper::spawn_wrapped(
            &[faketime, "-f", "--exclude-monotonic", offset],
            "workers",
            dir.path(),
        );
        // The helper's wall clock really is an hour off this process's.
        let now = unix_secs();
        let theirs: f64 = h.ok("now").parse().expect("seconds");
        let off = theirs - now;
        assert!((off - sign * 3600.0).abs() < 300.0, "{id}: off by {off} s");
        h.ok(&format!("worker {id}"));
        h.ok(&format!("update {id} {}", hex(b"busy GET /stuck")));
        helpers.push(h);
    }
    std::thread::sleep(WAIT);

    let board = Scoreboard::builder(dir.path())
        .create(false)
        .open()
        .expect("open");
    let mut snap = parallel_scoreboard::Snapshot::default();
    board.read_into(&mut snap).expect("read");
    let ids: Vec<&str> = snap.workers.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["ahead", "behind"], "{:?}", snap.skipped);
    for w in &snap.workers {
        let age = |t: SystemTime| SystemTime::now().duration_since(t).unwrap_or_default();
        assert_true_age(
            &format!("{} updated_at", w.id),
            age(w.updated_at).as_secs_f64(),
        );
        assert_true_age(
            &format!("{} started_at", w.id),
            age(w.started_at).as_secs_f64(),
        );
    }

    // `list`: ID, PID, AGE(s), ...
    let table = scoreboard_ok(&["list", dir.path().to_str().expect("UTF-8")]);
    for id in ["ahead", "behind"] {
        let line = table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no {id} in\n{table}"));
        let age = line.split_whitespace().nth(2).expect("AGE column");
        assert_true_age(&format!("list {id}"), age.parse().expect("a number"));
    }

    // `serve`: the age of the update and how long the busy request has run.
    let server = Server::start(dir.path(), &[]);
    let (code, _, text) = get(&agent(), &server.url("/metrics"));
    assert_eq!(code, 200, "{text}");
    for id in ["ahead", "behind"] {
        for name in [
            "scoreboard_worker_seconds_since_update",
            "scoreboard_worker_busy_seconds",
        ] {
            assert_true_age(&format!("{name} {id}"), metric(&text, name, id));
        }
    }
    assert!(server.stop(), "serve exits 0 on SIGTERM");
    for h in helpers {
        assert!(h.finish().success());
    }
}

/// This process's wall clock, in seconds since the Unix epoch.
fn unix_secs() -> f64 {
    SystemTime::UNIX_EPOCH
        .elapsed()
        .expect("after 1970")
        .as_secs_f64()
}
