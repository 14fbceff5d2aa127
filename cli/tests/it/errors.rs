//! Bad input gives one clear line on stderr and exit status 2, never a panic;
//! `show` of an unknown id exits with 1 (as ripgrep does when nothing matched).

use std::net::TcpListener;

use crate::common::{self, BIN, one_line_error, scoreboard, tempdir};

#[test]
fn a_missing_directory_or_a_file_is_an_error_for_every_command() {
    let dir = tempdir();
    let missing = dir.path().join("missing");
    let missing = missing.to_str().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let file = file.to_str().unwrap();
    for (path, expected) in [
        (missing, "No such file or directory"),
        (file, "not a directory"),
    ] {
        let mut commands = vec![
            vec!["list", path],
            vec!["list", path, "--json"],
            vec!["list", path, "--legacy"],
            vec!["show", path, "x"],
            vec!["cleanup", path],
        ];
        // `watch` and `serve` wait for a missing directory (`recovery.rs`).
        if path == file {
            commands.push(vec!["watch", path, "--frames", "1"]);
            commands.push(vec!["serve", path, "--listen", "127.0.0.1:0"]);
        }
        for args in commands {
            let out = scoreboard(&args);
            let err = one_line_error(&out);
            assert!(
                err.contains(path) && err.contains(expected),
                "{args:?}: {err}"
            );
            assert_eq!(out.status.code(), Some(2), "{args:?}");
        }
    }
    assert!(
        !std::path::Path::new(missing).exists(),
        "no command creates DIR"
    );
}

#[test]
fn bad_addresses_and_a_port_in_use() {
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    for addr in [
        "nonsense",
        "127.0.0.1",
        "127.0.0.1:99999",
        "[::1",
        "localhost:http",
    ] {
        let out = scoreboard(&["serve", d, "--listen", addr]);
        let err = one_line_error(&out);
        assert_eq!(out.status.code(), Some(2), "{addr}");
        assert!(
            err.contains("bad address") && err.contains(addr),
            "{addr}: {err}"
        );
    }
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = scoreboard(&["serve", d, "--listen", &addr]);
    let err = one_line_error(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains(&format!("cannot listen on {addr}")) && err.contains("in use"),
        "{err}"
    );
}

#[test]
fn bad_options_and_help() {
    let out = scoreboard(&["list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<DIR>"));
    let out = scoreboard(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    for cmd in ["list", "show", "watch", "cleanup", "serve", "demo"] {
        let out = scoreboard(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd} --help");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(&format!("Usage: scoreboard {cmd}")), "{text}");
    }
    let out = scoreboard(&["--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Exit status: 0 on success; 1 when `show` finds no live worker")
            && text.contains("2 on errors"),
        "{text}"
    );
    for cmd in ["list", "show", "watch", "cleanup", "serve", "demo"] {
        assert!(text.contains(&format!("  {cmd} ")), "{cmd} in\n{text}");
    }
    assert!(!text.contains("demo-worker"));
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let dir = tempdir();
    let board = parallel_scoreboard::Scoreboard::open(dir.path()).unwrap();
    // 100 workers of 2000 bytes: far more output than a pipe buffers.
    let mut workers: Vec<_> = (0..100)
        .map(|i| board.worker_with_id(format!("worker-{i:03}")).unwrap())
        .collect();
    for w in &mut workers {
        w.update(&[b'x'; 2000]).unwrap();
    }
    let mut child = testkit::Reaped::new(
        Command::new(BIN)
            .args(["list", dir.path().to_str().unwrap(), "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = [0_u8; 10];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then closed
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status}: {err}");
    assert_eq!(err, "");
}

#[test]
fn an_unreadable_directory_is_an_error() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let tmp = tempdir();
    // The parent is open, so `private` itself can be looked up, not listed.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tmp.path().join("private");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let d = dir.to_str().unwrap();
    for args in [
        vec!["list", d],
        vec!["watch", d, "--frames", "1"],
        vec!["serve", d],
    ] {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(&args);
        if root {
            // Root reads any directory: ask as `nobody`, to whom it is closed.
            cmd.uid(65534).gid(65534);
        }
        let out = cmd.output().unwrap();
        let err = one_line_error(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            err.contains(d) && err.contains("Permission denied"),
            "{args:?}: {err}"
        );
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn bad_intervals_are_rejected_by_the_parser() {
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    for (value, why) in [
        ("0", "give at least 0.01 seconds"),
        ("-1", "give at least 0.01 seconds"),
        ("0.001", "give at least 0.01 seconds"),
        ("abc", "not a number of seconds"),
        ("NaN", "not a number of seconds"),
        ("", "not a number of seconds"),
        ("1e9", "give at most 86400 seconds"),
        ("inf", "give at most 86400 seconds"),
    ] {
        for cmd in [vec!["watch", d], vec!["demo", "--dir", d]] {
            let mut args = cmd.clone();
            args.extend(["--frames", "1", "--interval", value]);
            let out = scoreboard(&args);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.starts_with(&format!(
                    "error: invalid value '{value}' for '--interval <SECONDS>': {why}"
                )),
                "{args:?}: {err}"
            );
            assert!(out.stdout.is_empty(), "{args:?}: nothing runs");
        }
    }
    assert!(
        common::entries(dir.path()).is_empty(),
        "the demo never started"
    );
    // A good value runs: two frames 20 ms apart.
    let out = scoreboard(&["watch", d, "--frames", "2", "--interval", "0.02"]);
    assert!(out.status.success(), "{out:?}");
    let frames = String::from_utf8(out.stdout).unwrap();
    assert_eq!(frames.matches("every 0.0 s").count(), 2, "{frames}");
}

#[test]
fn show_of_an_unknown_id_exits_with_1_and_errors_with_2() {
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    let board = parallel_scoreboard::Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("here").unwrap();
    w.update(b"status").unwrap();
    let out = scoreboard(&["show", d, "here"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"status");
    let out = scoreboard(&["show", d, "gone"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = one_line_error(&out);
    assert!(err.contains("no live worker with id \"gone\""), "{err}");
    let missing = dir.path().join("missing");
    let out = scoreboard(&["show", missing.to_str().unwrap(), "here"]);
    assert_eq!(out.status.code(), Some(2));
    one_line_error(&out);
    let out = scoreboard(&["show", d]);
    assert_eq!(out.status.code(), Some(2), "usage errors too");
}

#[test]
fn cleanup_of_a_legacy_board_is_refused() {
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    drop(common::legacy_file(dir.path(), "999", b"dead"));
    let out = scoreboard(&["cleanup", d, "--legacy"]);
    assert_eq!(out.status.code(), Some(2));
    let err = one_line_error(&out);
    assert!(err.contains("left to the Perl module"), "{err}");
    assert_eq!(common::entries(dir.path()), ["status_999"]);
}

#[test]
fn an_os_error_is_told_once() {
    // The library's error says what failed and where; the OS error is its
    // cause, which the one line prints after it, once.
    let dir = tempdir();
    let file = dir.path().join("afile");
    std::fs::write(&file, b"x").unwrap();
    let under = file.join("sub");
    let under = under.to_str().unwrap();
    let out = scoreboard(&["demo", "--dir", under, "--seconds", "1"]);
    let err = one_line_error(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("Not a directory").count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "I/O error: {under}: Not a directory (os error 20)"
        )),
        "{err}"
    );
}
