//! `list` (table and `--json`), `show` and `cleanup` against live worker
//! processes.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::common::{Helper, hex, scoreboard, scoreboard_ok, tempdir};

/// Parses an RFC 3339 UTC timestamp as printed (`YYYY-MM-DDTHH:MM:SS.ffffffZ`).
fn parse_time(text: &str) -> SystemTime {
    assert_eq!(text.len(), 27, "{text:?}");
    assert!(text.ends_with('Z'), "{text:?}");
    let n = |r: std::ops::Range<usize>| -> u64 { text[r].parse().unwrap() };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (Howard Hinnant), for years after 1970.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(n(20..26))
}

fn near_now(t: SystemTime, before: SystemTime) {
    let slack = Duration::from_millis(50);
    assert!(t + slack >= before, "{t:?} before {before:?}");
    assert!(t <= SystemTime::now() + slack, "{t:?} in the future");
}

#[test]
fn json_lists_every_live_worker_field_by_field() {
    let dir = tempdir();
    let before = SystemTime::now();
    let mut a = Helper::spawn("workers", dir.path());
    let mut b = Helper::spawn("workers", dir.path());
    a.ok("worker alpha");
    for i in 0..5 {
        a.ok(&format!(
            "update alpha {}",
            hex(format!("busy GET /{i}").as_bytes())
        ));
    }
    b.ok("worker beta");
    b.ok(&format!("update beta {}", hex(b"\xff\x00binary")));
    b.ok("worker gamma"); // no status yet: not listed
    b.ok("worker delta");
    b.ok(&format!(
        "update delta {}",
        hex("é \"quoted\"\n".as_bytes())
    ));

    let out = scoreboard_ok(&["list", dir.path().to_str().unwrap(), "--json"]);
    let list: Value = serde_json::from_str(&out).expect("JSON");
    let list = list.as_array().expect("an array");
    let ids: Vec<&str> = list.iter().map(|w| w["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["alpha", "beta", "delta"]);

    let alpha = list[0].as_object().unwrap();
    let mut keys: Vec<&str> = alpha.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "bytes",
            "id",
            "pid",
            "started_at",
            "status",
            "updated_at",
            "updates"
        ]
    );
    assert_eq!(alpha["pid"], a.pid());
    assert_eq!(alpha["status"], "busy GET /4");
    assert_eq!(alpha["bytes"], 11);
    assert_eq!(alpha["updates"], 5);
    let (started, updated) = (
        parse_time(alpha["started_at"].as_str().unwrap()),
        parse_time(alpha["updated_at"].as_str().unwrap()),
    );
    near_now(started, before);
    near_now(updated, before);
    assert!(updated + Duration::from_millis(10) >= started);

    let beta = list[1].as_object().unwrap();
    assert_eq!(beta["pid"], b.pid());
    assert_eq!(beta["status"], Value::Null);
    assert_eq!(beta["status_base64"], "/wBiaW5hcnk=");
    assert_eq!(beta["bytes"], 8);
    assert_eq!(beta["updates"], 1);

    let delta = list[2].as_object().unwrap();
    assert_eq!(delta["status"], "é \"quoted\"\n");
    assert_eq!(delta["bytes"], "é \"quoted\"\n".len());
    assert!(!delta.contains_key("status_base64"));

    // The table: a header and one safe line per worker.
    let table = scoreboard_ok(&["list", dir.path().to_str().unwrap(), "--width", "8"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    for col in ["ID", "PID", "AGE(s)", "UPDATES", "BYTES", "STATUS"] {
        assert!(lines[0].contains(col), "{}", lines[0]);
    }
    assert!(lines[1].starts_with("alpha "));
    assert!(lines[1].contains(&a.pid().to_string()));
    assert!(lines[1].ends_with("busy GET…"), "{}", lines[1]);
    // Cut to 8 columns, the escape's 5 included.
    assert!(lines[2].ends_with("\u{fffd}\\u{0}bi…"), "{}", lines[2]);
    assert!(lines[3].ends_with("é \"quote…"), "{}", lines[3]);

    // A killed worker is gone from the next list.
    b.kill();
    let out = scoreboard_ok(&["list", dir.path().to_str().unwrap(), "--json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], "alpha");
}

#[test]
fn show_writes_the_raw_status() {
    let dir = tempdir();
    let mut h = Helper::spawn("workers", dir.path());
    h.ok("worker w1");
    let status = b"raw\x00\xff\nbytes";
    h.ok(&format!("update w1 {}", hex(status)));
    let d = dir.path().to_str().unwrap();
    let out = scoreboard(&["show", d, "w1"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, status);

    let out = scoreboard(&["show", d, "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = crate::common::one_line_error(&out);
    assert!(err.contains("no live worker with id \"nobody\""), "{err}");
}

#[test]
fn cleanup_removes_dead_workers_files_and_says_how_many() {
    let dir = tempdir();
    let mut dead = Helper::spawn("workers", dir.path());
    let mut live = Helper::spawn("workers", dir.path());
    dead.ok("worker d1");
    dead.ok("worker d2");
    live.ok("worker l1");
    dead.kill();
    let d = dir.path().to_str().unwrap();
    assert_eq!(crate::common::entries(dir.path()).len(), 3);
    assert_eq!(
        scoreboard_ok(&["cleanup", d]),
        "removed 2 dead worker files\n"
    );
    assert_eq!(crate::common::entries(dir.path()), ["status_l1"]);
    assert_eq!(
        scoreboard_ok(&["cleanup", d]),
        "removed 0 dead worker files\n"
    );
    live.ok("pid");
}

/// `chattr +i` on a file for the test's life (root only, as in CI).
struct Immutable(std::path::PathBuf);

impl Drop for Immutable {
    fn drop(&mut self) {
        // Else the temporary directory could not be removed; no panic in a drop.
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn cleanup_that_cannot_remove_a_dead_file_fails_naming_it() {
    let dir = tempdir();
    let mut dead = Helper::spawn("workers", dir.path());
    dead.ok("worker stuck");
    dead.ok("worker freed");
    dead.kill();
    let stuck = dir.path().join("status_stuck");
    let ok = std::process::Command::new("chattr")
        .arg("+i")
        .arg(&stuck)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chattr +i needs root and chattr (as in CI)");
    let guard = Immutable(stuck.clone());
    let d = dir.path().to_str().unwrap();
    let out = scoreboard(&["cleanup", d]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "removed 1 dead worker file\n"
    );
    let err = crate::common::one_line_error(&out);
    assert_eq!(out.status.code(), Some(2), "an error");
    assert!(
        err.contains("could not remove 1 dead worker file")
            && err.contains(&*stuck.to_string_lossy())
            && err.contains("Operation not permitted"),
        "{err}"
    );
    assert_eq!(crate::common::entries(dir.path()), ["status_stuck"]);
    drop(guard);
    assert_eq!(
        scoreboard_ok(&["cleanup", d]),
        "removed 1 dead worker file\n"
    );
}
