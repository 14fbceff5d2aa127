//! Bad input gives one clear line on stderr and a non-zero exit, never a panic.

use std::net::TcpListener;

use crate::common::{BIN, one_line_error, scoreboard, tempdir};

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
        assert!(
            err.contains("bad address") && err.contains(addr),
            "{addr}: {err}"
        );
    }
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = scoreboard(&["serve", d, "--listen", &addr]);
    let err = one_line_error(&out);
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
    let out = scoreboard(&["watch", "/tmp", "--interval", "0"]);
    let err = one_line_error(&out);
    assert!(err.contains("--interval"), "{err}");
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
    let mut child = Command::new(BIN)
        .args(["list", dir.path().to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
        assert!(
            err.contains(d) && err.contains("Permission denied"),
            "{args:?}: {err}"
        );
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}
