//! A board of `nobody` shared with a test group, read with `scoreboard
//! list` and `scoreboard serve` by root and by a member of the group, while
//! the owner truncates its files; a user outside the group is refused with
//! what to do; `demo --group` makes a shared board. The tests run as root
//! (as CI does): other users' ids are taken with `setpriv`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{BIN, Helper, Server, agent, as_user, entries, get, hex, tempdir};

/// The board's owner.
const NOBODY: u32 = 65_534;
/// The group the board is shared with (it need not exist).
const GROUP: u32 = 64_999;
/// The owner, in its group.
const OWNER: (u32, u32, &[u32]) = (NOBODY, GROUP, &[GROUP]);
/// A member of [`GROUP`] who is not the owner.
const MEMBER: (u32, u32, &[u32]) = (64_001, 64_001, &[GROUP]);
/// A user outside [`GROUP`].
const OUTSIDER: (u32, u32, &[u32]) = (64_002, 64_002, &[]);
/// Root.
const ROOT: (u32, u32, &[u32]) = (0, 0, &[]);

/// `scoreboard ARGS` run as `ids`.
fn scoreboard_as(ids: (u32, u32, &[u32]), args: &[&str]) -> Output {
    as_user(BIN, ids)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run scoreboard")
}

/// The ids `scoreboard list --json` shows, run as `ids`; and its stderr.
fn list_as(ids: (u32, u32, &[u32]), dir: &Path) -> (Vec<String>, String) {
    let out = scoreboard_as(ids, &["list", "--json", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "list as {ids:?}: {}: {stderr}",
        out.status
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ids = v
        .as_array()
        .expect("array")
        .iter()
        .map(|w| w["id"].as_str().expect("id").to_owned())
        .collect();
    (ids, stderr)
}

/// A directory `<tmp>/board` of the owner's, shared with [`GROUP`] the way a
/// service manager makes one (group, mode 2750): the owner's workers make
/// their files readable by the group.
fn shared_dir(tmp: &Path) -> PathBuf {
    fs::set_permissions(tmp, fs::Permissions::from_mode(0o711)).unwrap();
    let dir = tmp.join("board");
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(NOBODY), Some(GROUP)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o2750)).unwrap();
    dir
}

#[test]
fn root_and_a_group_member_list_and_serve_another_users_board_read_only() {
    let tmp = tempdir();
    let dir = shared_dir(tmp.path());
    let mut owner = Helper::spawn_as_member("workers", &dir, OWNER, &[]);
    for i in 0..8 {
        owner.ok(&format!("worker w-{i}"));
        owner.ok(&format!("update w-{i} {}", hex(&vec![b'x'; 100_000])));
    }
    owner.ok("worker steady");
    owner.ok(&format!("update steady {}", hex(b"steady status")));
    let mut doomed = Helper::spawn_as_member("workers", &dir, OWNER, &[]);
    doomed.ok("worker dead-0");
    doomed.ok(&format!("update dead-0 {}", hex(b"gone soon")));
    doomed.kill();
    for name in entries(&dir) {
        let meta = fs::metadata(dir.join(&name)).unwrap();
        assert_eq!((meta.gid(), meta.mode() & 0o777), (GROUP, 0o640), "{name}");
    }

    let mut all: Vec<String> = (0..8).map(|i| format!("w-{i}")).collect();
    all.push("steady".to_owned());
    all.sort();
    for who in [ROOT, MEMBER] {
        let (ids, stderr) = list_as(who, &dir);
        assert_eq!(ids, all, "as {who:?}");
        assert!(
            stderr.contains("1 entry skipped") && stderr.contains("left for its owner"),
            "as {who:?}: {stderr}"
        );
    }
    // The dead worker's file is the owner's to remove.
    assert!(entries(&dir).contains(&"status_dead-0".to_owned()));

    // `serve` as root and as the member, while the owner cuts its files.
    let servers = [
        Server::start(&dir, &[]),
        Server::start_as(&dir, &[], MEMBER),
    ];
    let agent = agent();
    for (k, len) in [0, 5, 300, 600, 4096, 8192, 0, 1].into_iter().enumerate() {
        owner.ok(&format!("truncate w-{k} {len}"));
        for server in &servers {
            let (code, _, body) = get(&agent, &server.url("/json"));
            assert_eq!(code, 200, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["steady"], "steady status", "{body}");
            let (code, _, metrics) = get(&agent, &server.url("/metrics"));
            assert_eq!(code, 200, "{metrics}");
        }
        // And `list`, each time.
        let (ids, _) = list_as(MEMBER, &dir);
        assert!(ids.contains(&"steady".to_owned()), "{ids:?}");
    }
    for mut server in servers {
        assert!(server.running(), "a server died");
        assert!(server.stop(), "a server did not stop cleanly");
    }
    // Nothing of the owner's was removed by its readers.
    assert!(entries(&dir).contains(&"status_dead-0".to_owned()));
    assert_eq!(entries(&dir).len(), 10);
    drop(owner);
}

#[test]
fn a_user_outside_the_group_is_refused_with_what_to_do() {
    let tmp = tempdir();
    let dir = shared_dir(tmp.path());
    let mut owner = Helper::spawn_as_member("workers", &dir, OWNER, &[]);
    owner.ok("worker w-0");
    let out = scoreboard_as(OUTSIDER, &["list", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = crate::common::one_line_error(&out);
    for what in [
        "owned by uid 65534",
        "group 64999",
        "run as uid 65534",
        "--group",
    ] {
        assert!(err.contains(what), "{what:?} missing: {err}");
    }
}

#[test]
fn demo_group_shares_its_board_with_the_group() {
    let tmp = tempdir();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o711)).unwrap();
    let dir = tmp.path().join("board");
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let mut demo = as_user(BIN, OWNER);
    demo.args([
        "demo",
        "--workers",
        "2",
        "--seconds",
        "60",
        "--interval",
        "0.5",
    ])
    .args([
        "--group",
        &GROUP.to_string(),
        "--dir",
        dir.to_str().unwrap(),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null());
    let demo = testkit::Reaped::new(demo.spawn().expect("start the demo"));
    let ids = testkit::eventually(Duration::from_secs(30), Duration::from_millis(100), || {
        let out = scoreboard_as(MEMBER, &["list", "--json", dir.to_str().unwrap()]);
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("{e}: {out:?}"))?;
        let ids: Vec<String> = v
            .as_array()
            .ok_or("not an array")?
            .iter()
            .map(|w| w["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        if ids.len() == 2 {
            Ok(ids)
        } else {
            Err(format!("{ids:?}"))
        }
    });
    assert_eq!(ids, ["worker-1", "worker-2"]);
    let meta = fs::metadata(&dir).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (NOBODY, GROUP, 0o2750)
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(demo.id().cast_signed()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM the demo");
    let status = demo.output().status;
    assert!(status.success(), "{status}");
    // The demo cleaned up its workers and kept the directory it was given.
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
}

/// The systemd unit of docs/deployment.md ("With systemd"), with its
/// `ExecStart=` pointed at the binary under test (`systemd-analyze verify`
/// checks that the program exists), passes `systemd-analyze verify`.
#[test]
#[cfg_attr(not(has_systemd_analyze), ignore = "systemd-analyze not found on PATH")]
fn the_systemd_unit_of_serve_verifies() {
    let unit = fs::read_to_string(
        crate::common::repo_root().join("docs/systemd/scoreboard-serve.service"),
    )
    .unwrap();
    let tmp = tempdir();
    let path = tmp.path().join("scoreboard-serve.service");
    let unit = unit.replace(
        "ExecStart=/usr/local/bin/scoreboard ",
        &format!("ExecStart={BIN} "),
    );
    assert!(
        unit.contains(&format!("ExecStart={BIN} serve /run/app/board")),
        "{unit}"
    );
    for key in ["User=", "Group=", "SupplementaryGroups=app"] {
        assert!(unit.contains(key), "{key}");
    }
    fs::write(&path, unit).unwrap();
    let out = std::process::Command::new(testkit::tools::SYSTEMD_ANALYZE.path())
        .args(["verify", path.to_str().unwrap()])
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    // Only what no unit file can avoid: the ordering on a unit this
    // machine does not have.
    for line in stderr.lines() {
        assert!(line.contains("app.service"), "systemd-analyze: {line}");
    }
}
