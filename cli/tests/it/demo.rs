//! `scoreboard demo` without a terminal: plain frames, a worker killed and
//! replaced, everything cleaned up.

use crate::common::{BIN, tempdir};

#[test]
fn demo_runs_workers_shows_them_and_cleans_up() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let out = std::process::Command::new(BIN)
        .args([
            "demo",
            "--workers",
            "2",
            "--seconds",
            "6",
            "--interval",
            "0.25",
            "--dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A frame every 0.25 s, fewer on a busy machine: the rate needs three,
    // and the worker killed at 2.5 s and replaced at 3.5 s leaves 2.5 s of
    // frames to show it.
    let frames: Vec<&str> = text.split("scoreboard ").skip(1).collect();
    assert!(frames.len() >= 3, "{text}");
    assert!(frames[0].contains("2 live workers"), "{text}");
    for id in ["worker-1 ", "worker-2 "] {
        assert!(
            frames[0].lines().any(|l| l.starts_with(id)),
            "{id} in {text}"
        );
    }
    // Thousands of updates a second at the least, in total.
    let rate: u64 = frames[2]
        .lines()
        .find_map(|l| {
            l.split("   ")
                .find_map(|p| p.strip_suffix(" updates/s in total"))
        })
        .expect("a total rate")
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(rate > 10_000, "{rate}");
    assert!(text.contains("killed worker-2"), "{text}");
    assert!(text.contains("started a new worker-2"), "{text}");
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("stopped 2 workers after "), "{last}");
    assert!(
        last.ends_with(&format!("removed {}", dir.display())),
        "{last}"
    );
    assert!(!dir.exists(), "the board's directory is removed");
}

#[test]
fn one_worker_is_counted_in_the_singular() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let out = std::process::Command::new(BIN)
        .args([
            "demo",
            "--workers",
            "1",
            "--seconds",
            "0.3",
            "--interval",
            "0.1",
            "--dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("\n1 live worker ("), "{text}");
    assert!(!text.contains("1 live workers"), "{text}");
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("stopped 1 worker after "), "{last}");
}
