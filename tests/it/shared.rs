//! Boards shared with other users: a board of `nobody` shared with a test
//! group, read by root, by a member of the group and by a user outside it.
//! Readers that are not the owner change nothing of the owner's, report its
//! dead workers without removing them, and keep answering while the owner
//! truncates its files under them. The tests run as root (as CI does):
//! helpers take the other users' ids with `setpriv`.

use crate::common::snapshot;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use parallel_scoreboard::{ErrorKind, Reason, Snapshot};
use testkit::{Helper, entries, tempdir};

/// The board's owner.
const NOBODY: u32 = 65_534;
/// The group the board is shared with (it need not exist).
const GROUP: u32 = 64_999;
/// A member of [`GROUP`] who is not the owner.
const MEMBER: (u32, u32, &[u32]) = (64_001, 64_001, &[GROUP]);
/// A user outside [`GROUP`].
const OUTSIDER: (u32, u32, &[u32]) = (64_002, 64_002, &[]);
/// The owner, in its group.
const OWNER: (u32, u32, &[u32]) = (NOBODY, GROUP, &[GROUP]);
/// The environment variable asking the `shared` role to share the board.
const GROUP_VAR: &str = "PSB_TEST_GROUP";

/// The `shared` helper role. Opens the board (shared with the group in
/// `PSB_TEST_GROUP`, if set) and answers `@@ ok` or `@@ err KIND MESSAGE`;
/// then commands, one per line: `worker ID STATUS`, `big ID LEN` (a status
/// of LEN bytes), `truncate ID LEN`,
/// `snapshot` (`IDS SKIPPED` as in [`describe`]), `reads N` (N snapshots;
/// `@@ ok FAILED`), `update TEXT`, `cleanup` (files removed), `quit`.
pub fn role(dir: &str) {
    use std::io::BufRead;
    let mut builder = crate::common::builder(dir).create(false);
    if let Ok(gid) = std::env::var(GROUP_VAR) {
        builder = crate::common::builder(dir).group(gid.parse().expect("gid"));
    }
    let board = match builder.open() {
        Ok(board) => {
            println!("@@ ok");
            board
        }
        Err(e) => {
            println!("@@ err {:?} {}", e.kind(), crate::common::chain(&e));
            return;
        }
    };
    let mut workers = Vec::new();
    let mut cut = std::collections::HashMap::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let (cmd, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let answer = match cmd {
            "worker" => {
                let (id, status) = rest.split_once(' ').expect("worker ID STATUS");
                let mut w = board.worker_with_id(id).expect("worker");
                w.update(status.as_bytes()).expect("update");
                workers.push(w);
                Ok(String::new())
            }
            "big" => {
                let (id, len) = rest.split_once(' ').expect("big ID LEN");
                let mut w = board.worker_with_id(id).expect("worker");
                w.update(&vec![b'x'; len.parse().unwrap()]).expect("update");
                workers.push(w);
                Ok(String::new())
            }
            "truncate" => {
                let (id, len) = rest.split_once(' ').expect("truncate ID LEN");
                let f = OpenOptions::new()
                    .write(true)
                    .open(Path::new(dir).join(format!("status_{id}")))
                    .expect("open own file");
                f.set_len(len.parse().unwrap()).expect("ftruncate");
                // Kept open: no close event tells the readers to look again.
                cut.insert(id.to_owned(), f);
                Ok(String::new())
            }
            "snapshot" => snapshot(&board).map(|s| describe(&s)),
            "reads" => {
                let n: usize = rest.parse().unwrap();
                let failed = (0..n).filter(|_| snapshot(&board).is_err()).count();
                Ok(failed.to_string())
            }
            "update" => board.update(rest.as_bytes()).map(|()| String::new()),
            "cleanup" => board.cleanup().map(|c| c.removed.to_string()),
            "quit" => {
                println!("@@ ok");
                break;
            }
            other => panic!("unknown command {other}"),
        };
        match answer {
            Ok(s) => println!("@@ ok {s}"),
            Err(e) => println!("@@ err {:?} {}", e.kind(), crate::common::chain(&e)),
        }
    }
    // Workers whose files were truncated would fault on their removal's
    // last look; the test has what it needs.
    std::mem::forget(workers);
}

/// A snapshot as `id=status,... name:reason,...`, sorted.
fn describe(s: &Snapshot) -> String {
    let mut ids: Vec<String> = s
        .workers
        .iter()
        .map(|w| format!("{}={}", w.id, String::from_utf8_lossy(&w.status)))
        .collect();
    ids.sort();
    let mut skipped: Vec<String> = s
        .skipped
        .iter()
        .map(|e| {
            let name = e.path().and_then(Path::file_name).unwrap_or_default();
            let why = e
                .reason()
                .map_or_else(|| format!("{:?}", e.kind()), |r| format!("{r:?}"));
            format!("{}:{why}", name.to_string_lossy())
        })
        .collect();
    skipped.sort();
    format!("{} {}", ids.join(","), skipped.join(","))
        .trim()
        .to_owned()
}

/// A board at `<tmp>/board` owned by `nobody`, shared with [`GROUP`]: the
/// temporary directory made passable for everyone.
fn shared_board(tmp: &Path) -> (std::path::PathBuf, Helper) {
    fs::set_permissions(tmp, fs::Permissions::from_mode(0o711)).unwrap();
    // A private directory of the owner's, as its service would get one;
    // the owner's `group` shares it.
    let dir = tmp.join("board");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let mut owner =
        Helper::spawn_as_member("shared", &dir, OWNER, &[(GROUP_VAR, &GROUP.to_string())]);
    assert_eq!(owner.line(), "ok");
    (dir, owner)
}

#[test]
fn root_and_a_group_member_read_another_users_board_and_change_nothing() {
    let tmp = tempdir();
    let (dir, mut owner) = shared_board(tmp.path());
    owner.ok("worker live-0 serving");
    owner.ok("worker live-1 idle");
    // A worker that dies without removing its file.
    let mut doomed = Helper::spawn_as_member("shared", &dir, OWNER, &[]);
    assert_eq!(doomed.line(), "ok");
    doomed.ok("worker dead-0 gone soon");
    doomed.kill();

    // What the owner made: the directory setgid and the group's, the files
    // readable by the group.
    let meta = fs::metadata(&dir).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (NOBODY, GROUP, 0o2750)
    );
    for name in entries(&dir) {
        let meta = fs::metadata(dir.join(&name)).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (NOBODY, GROUP, 0o640),
            "{name}"
        );
    }

    let want = "live-0=serving,live-1=idle status_dead-0:DeadLeftForOwner { uid: 65534 }";
    // Root, in this process.
    let root = crate::common::builder(&dir).create(false).open().unwrap();
    let snap = snapshot(&root).unwrap();
    assert_eq!(describe(&snap), want);
    assert_eq!(snap.removed, 0);
    assert_eq!(
        snap.skipped[0].reason(),
        Some(&Reason::DeadLeftForOwner { uid: NOBODY })
    );
    let e = root.update(b"root was here").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ReadOnly, "{e}");
    assert_eq!(root.cleanup().unwrap().removed, 0);
    // A member of the group.
    let mut member = Helper::spawn_as_member("shared", &dir, MEMBER, &[]);
    assert_eq!(member.line(), "ok");
    assert_eq!(member.ok("snapshot"), want);
    assert_eq!(member.ok("cleanup"), "0");
    assert!(
        member.send("update x").starts_with("err ReadOnly"),
        "a reader wrote"
    );
    // Nothing of the owner's was removed, nothing was added.
    assert_eq!(
        entries(&dir),
        ["status_dead-0", "status_live-0", "status_live-1"]
    );

    // The owner's own read removes its dead worker's file; the readers then
    // see the board without it.
    assert_eq!(owner.ok("snapshot"), "live-0=serving,live-1=idle");
    assert_eq!(entries(&dir), ["status_live-0", "status_live-1"]);
    assert_eq!(member.ok("snapshot"), "live-0=serving,live-1=idle");
    assert_eq!(
        describe(&snapshot(&root).unwrap()),
        "live-0=serving,live-1=idle"
    );
    member.ok("quit");
    owner.ok("quit");
}

#[test]
fn a_user_outside_the_group_is_refused_with_what_to_do() {
    let tmp = tempdir();
    let (dir, mut owner) = shared_board(tmp.path());
    owner.ok("worker live-0 serving");
    let mut outsider = Helper::spawn_as_member("shared", &dir, OUTSIDER, &[]);
    let line = outsider.line();
    // The directory is closed to others (2750): the system refuses, and the
    // message says what to do.
    assert!(line.starts_with("err Io"), "{line}");
    assert!(line.contains("Permission denied"), "{line}");
    for what in [
        "owned by uid 65534",
        "group 64999",
        "run as uid 65534",
        "Builder::group",
    ] {
        assert!(line.contains(what), "{what:?} missing: {line}");
    }
    // A private board (0700) says it is not shared.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let mut member = Helper::spawn_as_member("shared", &dir, MEMBER, &[]);
    let line = member.line();
    assert!(line.starts_with("err Io"), "{line}");
    assert!(line.contains("not shared with its group 64999"), "{line}");
    // A directory others may read (0755, as the Perl module's boards are):
    // opened, and refused by the library to a user outside the group.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let mut outsider = Helper::spawn_as_member("shared", &dir, OUTSIDER, &[]);
    let line = outsider.line();
    assert!(line.starts_with("err Insecure"), "{line}");
    assert!(line.contains("run as uid 65534"), "{line}");
    owner.ok("quit");
}

/// Sets its flag when dropped.
struct Stop<'a>(&'a AtomicBool);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Workers whose files the owner cuts, and their statuses' length.
const CUT: usize = 16;
const LEN: usize = 256 * 1024;

#[test]
fn the_owner_truncating_its_files_never_faults_or_hangs_a_reader() {
    let tmp = tempdir();
    let (dir, mut owner) = shared_board(tmp.path());
    owner.ok("worker steady steady status");
    // Long statuses, so that a read spends its time copying pages the owner
    // may cut off at any moment (a mapping of them would fault).
    for i in 0..CUT {
        owner.ok(&format!("big cut-{i} {LEN}"));
    }
    let stop = AtomicBool::new(false);
    let (reads, bad) = thread::scope(|s| {
        // Stops the reading thread however this closure ends.
        let _stop = Stop(&stop);
        // Root reads in a loop in this process.
        let root = s.spawn(|| {
            let board = crate::common::builder(&dir).create(false).open().unwrap();
            let (mut reads, mut bad) = (0, Vec::new());
            while !stop.load(Ordering::Relaxed) || reads < 50 {
                let snap = snapshot(&board).unwrap();
                reads += 1;
                if !snap.workers.iter().any(|w| w.id == "steady") && bad.len() < 10 {
                    bad.push(describe(&snap));
                }
                for e in &snap.skipped {
                    let name = e
                        .path()
                        .and_then(Path::file_name)
                        .unwrap()
                        .to_string_lossy();
                    assert!(name.starts_with("status_cut-"), "skipped {e}");
                }
            }
            (reads, bad)
        });
        // The member reads in a loop in its own process.
        let mut member = Helper::spawn_as_member("shared", &dir, MEMBER, &[]);
        assert_eq!(member.line(), "ok");
        member.tell("reads 400");
        // The owner cuts its files to nothing, to a few bytes, into the
        // header and into the payload, and back, over and over.
        let start = Instant::now();
        let mut cuts = 0;
        while start.elapsed() < Duration::from_secs(2) || cuts < 200 {
            let i = cuts % CUT;
            let len = [0, 5, 200, 520, 4096, 65_536, 1 << 20][cuts % 7];
            owner.ok(&format!("truncate cut-{i} {len}"));
            cuts += 1;
        }
        // Still there and still answering.
        assert_eq!(member.line(), "ok 0", "the member's reads failed");
        let snap = member.ok("snapshot");
        assert!(
            snap.starts_with("cut-") || snap.contains("steady=steady status"),
            "{snap}"
        );
        member.ok("quit");
        stop.store(true, Ordering::Relaxed);
        let (reads, bad) = root.join().unwrap();
        eprintln!(
            "{cuts} cuts in {:?}; root read {reads} times, the member 400",
            start.elapsed()
        );
        (reads, bad)
    });
    assert!(bad.is_empty(), "the untouched worker went missing: {bad:?}");
    assert!(reads >= 50);
    // Read once more, after the cuts: the untouched worker as it is; what
    // the owner made of its other files is its own business (zeros where it
    // cut and grew a file, skips where it left too little).
    let root = crate::common::builder(&dir).create(false).open().unwrap();
    let snap = snapshot(&root).unwrap();
    let steady = snap
        .workers
        .iter()
        .find(|w| w.id == "steady")
        .expect("steady");
    assert_eq!(steady.status, b"steady status");
    owner.ok("quit");
}

/// The odd entries of `hostile.rs`, made in a board of `nobody` (owned by
/// it), read by root and by a member: every read ends, shows the live
/// worker, skips each odd entry saying why, and leaves all of them.
#[test]
fn odd_entries_of_the_owner_are_skipped_by_other_users_and_left_alone() {
    use std::os::unix::fs::{lchown, symlink};
    let tmp = tempdir();
    let (dir, mut owner) = shared_board(tmp.path());
    owner.ok("worker live fine");
    // A copy of the live file, another of it cut short, and a third user's.
    let live = dir.join("status_live");
    fs::copy(&live, dir.join("status_copy")).unwrap();
    fs::copy(&live, dir.join("status_short")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(dir.join("status_short"))
        .unwrap()
        .set_len(100)
        .unwrap();
    fs::copy(&live, dir.join("status_third")).unwrap();
    nix::unistd::mkfifo(&dir.join("status_fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    // Readable by the group: opened (never blocking), and skipped as such.
    fs::set_permissions(dir.join("status_fifo"), fs::Permissions::from_mode(0o640)).unwrap();
    symlink("/etc/shadow", dir.join("status_link-shadow")).unwrap();
    symlink(&live, dir.join("status_link-live")).unwrap();
    fs::create_dir(dir.join("status_dir")).unwrap();
    fs::write(dir.join("status_garbage"), vec![0xAB; 10_000]).unwrap();
    fs::write(dir.join("status_empty"), b"").unwrap();
    fs::write(dir.join("status_1"), b"not perl").unwrap();
    for name in entries(&dir) {
        let who = if name == "status_third" {
            64_003
        } else {
            NOBODY
        };
        lchown(dir.join(&name), Some(who), Some(GROUP)).unwrap();
    }
    let before = entries(&dir);

    // Unlocked files are dead workers' (left for the owner) when they have
    // a status header, and left alone as not ours when they do not.
    let want = "live=fine status_1:UnlockedWithoutHeader,\
                status_copy:DeadLeftForOwner { uid: 65534 },status_dir:NotARegularFile,\
                status_empty:UnlockedWithoutHeader,status_fifo:NotARegularFile,\
                status_garbage:UnlockedWithoutHeader,status_link-live:Io,status_link-shadow:Io,\
                status_short:DeadLeftForOwner { uid: 65534 },status_third:OwnedByAnotherUser { uid: 64003 }";
    // Root, in a thread, so that a read that blocked would be seen.
    let (tx, rx) = std::sync::mpsc::channel();
    let path = dir.clone();
    thread::spawn(move || {
        let board = crate::common::builder(&path).create(false).open().unwrap();
        let first = describe(&snapshot(&board).unwrap());
        let again = describe(&snapshot(&board).unwrap());
        let removed = board.cleanup().unwrap().removed;
        tx.send((first, again, removed)).unwrap();
    });
    let (first, again, removed) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("root's reads must not block");
    assert_eq!(first, want);
    assert_eq!(again, want);
    assert_eq!(removed, 0);
    let mut member = Helper::spawn_as_member("shared", &dir, MEMBER, &[]);
    assert_eq!(member.line(), "ok");
    assert_eq!(member.ok("snapshot"), want);
    assert_eq!(entries(&dir), before);
    member.ok("quit");
    owner.ok("quit");
}
