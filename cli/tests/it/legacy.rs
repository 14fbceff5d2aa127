//! `--legacy`: directories written by Perl's `Parallel::Scoreboard`.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::common::{
    Helper, Server, agent, get, hex, legacy_file, scoreboard, scoreboard_ok, tempdir,
};

#[test]
fn list_show_watch_and_serve_read_the_perl_format() {
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    let mut perl = Helper::spawn("legacy", dir.path());
    let pid = perl.ok("pid");
    // A live worker whose status shrank: the file keeps the longer one's tail.
    perl.ok(&format!(
        "create 1234 {}",
        hex(b"a much longer first status")
    ));
    perl.ok(&format!(
        "update 1234 {}",
        hex(br#"{"state":"busy","n":3}"#)
    ));
    perl.ok(&format!("create worker-b {}", hex(b"\xffbinary")));
    // A dead worker: nobody holds its lock.
    drop(legacy_file(dir.path(), "999", b"dead"));
    // A live worker whose digest does not match (a torn or corrupt record).
    perl.ok(&format!("create torn {}", hex(b"torn")));
    let path = dir.path().join("status_torn");
    let mut bytes = std::fs::read(&path).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&path, bytes).unwrap();
    // The Perl module's temporary and unrelated files are ignored.
    drop(legacy_file(dir.path(), "77.tmp", b"tmp"));
    std::fs::write(dir.path().join("README"), b"hello").unwrap();

    // Without --legacy: no workers, and a hint.
    let out = scoreboard(&["list", d]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("entries skipped") && err.contains("try --legacy"),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let frame = scoreboard_ok(&["watch", d, "--frames", "1"]);
    assert!(frame.contains("try --legacy"), "{frame}");
    assert!(dir.path().join("status_1234").exists());

    let out = scoreboard_ok(&["list", d, "--legacy", "--json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{out}");
    let w = &list[0];
    assert_eq!(w["id"], "1234");
    assert_eq!(w["pid"].to_string(), pid);
    assert_eq!(w["status"], r#"{"state":"busy","n":3}"#);
    assert_eq!(w["bytes"], 22);
    assert_eq!(w["updates"], Value::Null);
    let mtime = std::fs::metadata(dir.path().join("status_1234"))
        .unwrap()
        .modified()
        .unwrap();
    let shown = parallel_scoreboard::render::rfc3339(mtime);
    assert_eq!(w["updated_at"], shown);
    assert!(w["started_at"].as_str().unwrap() <= shown.as_str());
    assert_eq!(list[1]["id"], "worker-b");
    assert_eq!(list[1]["status"], Value::Null);
    assert_eq!(list[1]["status_base64"], "/2JpbmFyeQ==");
    // Reading never removes anything: the Perl side cleans up its own files.
    assert!(dir.path().join("status_999").exists());

    let table = scoreboard_ok(&["list", d, "--legacy"]);
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(table.lines().nth(1).unwrap().starts_with("1234 "));
    assert!(table.contains(&pid));

    let out = scoreboard(&["show", d, "1234", "--legacy"]);
    assert_eq!(out.stdout, br#"{"state":"busy","n":3}"#);
    let out = scoreboard(&["show", d, "999", "--legacy"]);
    assert_eq!(out.status.code(), Some(1));

    let frame = scoreboard_ok(&["watch", d, "--legacy", "--frames", "1"]);
    assert!(frame.contains("(legacy)"), "{frame}");
    assert!(frame.contains("2 live workers (1 busy)"), "{frame}");
    assert!(
        frame
            .lines()
            .any(|l| l.starts_with("1234 ") && l.contains("busy"))
    );
    assert!(!frame.contains("999"));

    let server = Server::start(dir.path(), &["--legacy"]);
    let (code, _, body) = get(&agent(), &server.url("/json"));
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        json!({"1234": {"state": "busy", "n": 3}, "worker-b": "\u{fffd}binary"})
    );
    let (_, _, metrics) = get(&agent(), &server.url("/metrics"));
    assert!(metrics.contains("scoreboard_workers 2\n"));
    assert!(metrics.contains("scoreboard_worker_status_field{id=\"1234\",field=\"n\"} 3\n"));
    assert!(!metrics.contains("scoreboard_worker_updates_total{"));
    let (_, _, page) = get(&agent(), &server.url("/"));
    assert_eq!(page.matches("<tr class=\"worker\"").count(), 2);

    // When the Perl worker dies, its workers are gone.
    perl.kill();
    let out = scoreboard_ok(&["list", d, "--legacy", "--json"]);
    assert_eq!(out.trim(), "[]");
    let (_, _, body) = get(&agent(), &server.url("/json"));
    assert_eq!(body, "{}");
    assert!(server.stop());
    let age = SystemTime::now().duration_since(mtime).unwrap();
    assert!(age < Duration::from_secs(60));
}
