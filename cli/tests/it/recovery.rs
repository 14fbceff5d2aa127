//! `serve` and `watch` started before their directory exists, and a board
//! removed (`rm -rf`) and made again under them: 503 / a header that says
//! so while it is missing, then the new board's workers.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::{Helper, Server, agent, get, hex, scoreboard_ok, tempdir};

/// Every endpoint answers 503 with a one-line reason naming `dir`.
fn all_unavailable(server: &Server, dir: &Path) {
    let agent = agent();
    for path in ["/", "/json", "/metrics", "/worker/a", "/?refresh=2"] {
        let (code, _, body) = get(&agent, &server.url(path));
        assert_eq!(code, 503, "{path}: {body}");
        assert!(
            body.ends_with('\n') && body.lines().count() == 1,
            "{body:?}"
        );
        assert!(body.contains(&dir.display().to_string()), "{body}");
    }
}

/// The ids `/json` lists, polled until it answers 200 (at most 10 s).
fn ids_once_up(server: &Server) -> Vec<String> {
    let agent = agent();
    testkit::eventually(Duration::from_secs(10), Duration::from_millis(50), || {
        let (code, _, body) = get(&agent, &server.url("/json"));
        if code == 200 {
            let v: Value = serde_json::from_str(&body).unwrap();
            return Ok(v.as_object().unwrap().keys().cloned().collect());
        }
        assert_eq!(code, 503, "{body}");
        Err(format!("still {code}: {body}"))
    })
}

/// A helper process holding one worker `id` with status `status` on `dir`
/// (which it creates).
fn worker_on(dir: &Path, id: &str, status: &[u8]) -> Helper {
    let mut h = Helper::spawn("workers", dir);
    h.ok(&format!("worker {id}"));
    h.ok(&format!("update {id} {}", hex(status)));
    h
}

#[test]
fn serve_waits_for_its_directory_and_follows_it_when_remade() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let server = Server::start(&dir, &[]);
    all_unavailable(&server, &dir);
    assert!(!dir.exists(), "serve does not make the directory");

    let mut helpers = vec![worker_on(&dir, "first", b"busy GET /")];
    assert_eq!(ids_once_up(&server), ["first"]);
    let (code, ctype, body) = get(&agent(), &server.url("/worker/first"));
    assert_eq!(
        (code, ctype.as_str(), body.as_str()),
        (200, "text/plain; charset=utf-8", "busy GET /")
    );

    // Removed with a live worker in it, then without: 503 each time, and
    // the board made again at the path is read.
    for round in 0..2 {
        std::fs::remove_dir_all(&dir).unwrap();
        all_unavailable(&server, &dir);
        if round == 1 {
            helpers.clear();
        }
        let id = format!("again{round}");
        helpers.push(worker_on(&dir, &id, b"idle"));
        assert_eq!(ids_once_up(&server), [id]);
        let (code, _, metrics) = get(&agent(), &server.url("/metrics"));
        assert_eq!(code, 200);
        assert!(metrics.contains("\nscoreboard_workers 1\n"), "{metrics}");
    }
    assert!(server.stop());
}

#[test]
fn plain_watch_shows_a_missing_board_and_goes_on() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let d = dir.to_str().unwrap();
    let out = scoreboard_ok(&["watch", d, "--interval", "0.05", "--frames", "2"]);
    let frames: Vec<&str> = out.split("scoreboard ").skip(1).collect();
    assert_eq!(frames.len(), 2, "{out}");
    for frame in frames {
        assert!(
            frame.contains(&format!("board missing, waiting for it: {d}")),
            "{frame}"
        );
    }
    assert!(!dir.exists(), "watch does not make the directory");
}
