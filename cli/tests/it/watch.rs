//! `watch`: plain frames without a terminal, and the full-screen view in a
//! real terminal (tmux): keys, quitting and the terminal restored.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use parallel_scoreboard::Scoreboard;

use crate::common::{BIN, scoreboard_ok, tempdir};

#[test]
fn plain_frames_without_a_terminal() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut a = board.worker_with_id("a").unwrap();
    let mut b = board.worker_with_id("b").unwrap();
    a.update(b"busy GET /\x1b[2J").unwrap();
    b.update(b"idle").unwrap();
    let start = Instant::now();
    let d = dir.path().to_str().unwrap();
    let out = scoreboard_ok(&[
        "watch",
        d,
        "--interval",
        "0.2",
        "--frames",
        "3",
        "--sort",
        "status",
    ]);
    assert!(start.elapsed() >= Duration::from_millis(400));
    let frames: Vec<&str> = out.split("scoreboard ").skip(1).collect();
    assert_eq!(frames.len(), 3, "{out}");
    for frame in frames {
        assert!(frame.contains("2 live workers (1 busy, 1 idle)"), "{frame}");
        assert!(frame.contains("sort: status"));
        let rows: Vec<&str> = frame
            .lines()
            .filter(|l| l.starts_with("a ") || l.starts_with("b "))
            .collect();
        assert_eq!(rows.len(), 2);
        assert!(
            rows[0].starts_with("a ") && rows[0].ends_with("busy GET /\\u{1b}[2J"),
            "{frame}"
        );
        assert!(!frame.contains('\x1b'));
    }
    let out = scoreboard_ok(&["watch", d, "--frames", "1", "--filter", "IDLE"]);
    assert!(out.contains("filter: \"IDLE\"  showing 1"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("b ")));
    assert!(!out.lines().any(|l| l.starts_with("a ")));
}

/// A tmux server of its own, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts it running `command` (the tests using it are ignored when
    /// the build found no tmux; see `cli/build.rs`).
    fn start(command: &str) -> Self {
        let socket = format!("scoreboard-test-{}-{}", std::process::id(), rand_suffix());
        let tmux = Self { socket };
        let ok = tmux
            .cmd(&[
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "110",
                "-y",
                "24",
                command,
            ])
            .status
            .success();
        assert!(ok, "tmux new-session");
        tmux
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p"]).stdout).into_owned()
    }

    fn query(&self, format: &str) -> String {
        let out = self.cmd(&["display-message", "-p", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success());
    }

    fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        testkit::eventually(Duration::from_secs(15), Duration::from_millis(50), || {
            let screen = self.screen();
            if f(&screen) {
                return Ok(screen);
            }
            Err(format!("waiting for {what}; screen:\n{screen}"))
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// The terminal is as `watch` found it: normal screen, cursor shown,
/// cooked mode (`shell_command` prints the `stty` flags after the exit).
fn assert_restored(tmux: &Tmux) {
    assert_eq!(tmux.query("#{alternate_on}"), "0");
    assert_eq!(tmux.query("#{cursor_flag}"), "1", "cursor shown again");
    let screen = tmux.wait_for("stty", |s| s.contains("icanon"));
    assert!(
        screen.lines().any(|l| l.trim() == "icanon echo"),
        "cooked mode again: {screen}"
    );
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        .into()
}

fn shell_command(dir: &Path, extra: &str) -> String {
    format!(
        "{BIN} watch {} --interval 0.2 {extra}; echo EXIT=$?; \
         stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; \
         echo; sleep 60",
        dir.display()
    )
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "tmux not found on PATH")]
fn full_screen_view_in_a_terminal() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut workers: Vec<_> = ["alpha", "beta", "gamma"]
        .iter()
        .map(|id| board.worker_with_id(*id).unwrap())
        .collect();
    workers[0].update(b"busy GET /a").unwrap();
    workers[1].update(b"idle").unwrap();
    workers[2].update(b"busy POST /c").unwrap();
    let tmux = Tmux::start(&shell_command(dir.path(), ""));

    let screen = tmux.wait_for("the workers", |s| s.contains("gamma"));
    assert!(
        screen.contains("3 live workers (2 busy, 1 idle)"),
        "{screen}"
    );
    assert!(screen.contains("sort: id"));
    assert_eq!(
        tmux.query("#{alternate_on}"),
        "1",
        "on the alternate screen"
    );
    assert_eq!(tmux.query("#{cursor_flag}"), "0", "cursor hidden");
    let rows = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| {
                ["alpha ", "beta ", "gamma "]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(rows(&screen), ["alpha", "beta", "gamma"]);

    // Updates show up at the next refresh.
    for _ in 0..10 {
        workers[1].update(b"idle").unwrap();
    }
    tmux.wait_for("the new count", |s| {
        s.lines()
            .any(|l| l.starts_with("beta ") && l.contains(" 11 "))
    });

    // `r` reverses the order, `/` filters.
    tmux.keys(&["r"]);
    let screen = tmux.wait_for("reversed order", |s| s.contains("sort: id, reversed"));
    assert_eq!(rows(&screen), ["gamma", "beta", "alpha"]);
    tmux.keys(&["/", "P", "O", "S", "T", "Enter"]);
    let screen = tmux.wait_for("the filter", |s| s.contains("filter: \"POST\"  showing 1"));
    assert_eq!(rows(&screen), ["gamma"]);
    tmux.keys(&["s"]);
    tmux.wait_for("sort by pid", |s| s.contains("sort: pid"));

    // A worker that goes away disappears.
    drop(workers.remove(2));
    tmux.wait_for("gamma gone", |s| {
        s.contains("2 live workers (1 busy, 1 idle)")
    });

    // `q` quits with status 0 and restores the terminal.
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the exit", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        !screen.contains("live workers"),
        "the view is gone: {screen}"
    );
    assert_restored(&tmux);
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "tmux not found on PATH")]
fn ctrl_c_quits_and_restores_the_terminal() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    board.update(b"idle").unwrap();
    let tmux = Tmux::start(&shell_command(dir.path(), "--sort rate"));
    tmux.wait_for("the view", |s| s.contains("1 live worker (1 idle)"));
    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for("the exit", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert_restored(&tmux);
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "tmux not found on PATH")]
fn demo_in_a_terminal_quits_on_q_and_cleans_up() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let command = format!(
        "{BIN} demo --workers 2 --interval 0.3 --dir {}; echo EXIT=$?; sleep 60",
        dir.display()
    );
    let tmux = Tmux::start(&command);
    let screen = tmux.wait_for("the workers", |s| {
        s.contains("worker-1") && s.contains("worker-2")
    });
    assert!(screen.contains("2 live workers"), "{screen}");
    assert!(screen.contains("updates/s in total"), "{screen}");
    assert_eq!(tmux.query("#{alternate_on}"), "1");
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the exit", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("stopped 2 workers after"), "{screen}");
    assert_eq!(tmux.query("#{alternate_on}"), "0");
    assert!(!dir.exists(), "the demo removed its board");
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "tmux not found on PATH")]
fn full_screen_view_waits_for_a_missing_board_and_follows_it_when_remade() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let tmux = Tmux::start(&shell_command(&dir, ""));
    tmux.wait_for("the missing board", |s| {
        s.contains("board missing, waiting for it")
    });
    assert!(!dir.exists(), "watch does not make the directory");
    for round in 0..2 {
        let board = Scoreboard::open(&dir).unwrap();
        let id = format!("worker{round}");
        let mut w = board.worker_with_id(&id).unwrap();
        w.update(b"busy GET /").unwrap();
        let screen = tmux.wait_for("the worker", |s| s.contains(&id));
        assert!(screen.contains("1 live worker (1 busy)"), "{screen}");
        assert!(!screen.contains("board missing"), "{screen}");
        std::fs::remove_dir_all(&dir).unwrap();
        let screen = tmux.wait_for("the missing board again", |s| {
            s.contains("board missing, waiting for it")
        });
        assert!(!screen.contains(&id), "no worker shown: {screen}");
    }
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the exit", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
}
