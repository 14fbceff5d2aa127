//! Entries that are not status files are skipped and reported, never followed,
//! never removed, and never block or fail a read.

use crate::common::snapshot;
use std::os::unix::fs::symlink;
use std::time::Duration;

use parallel_scoreboard::ErrorKind;

use crate::common::{entries, tempdir};

#[test]
fn odd_entries_are_skipped_reported_and_left_alone() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    let mut live = board.worker_with_id("live").unwrap();
    live.update(b"fine").unwrap();

    let outside = tmp.path().join("outside.txt");
    std::fs::write(&outside, b"not yours").unwrap();
    nix::unistd::mkfifo(&dir.join("status_fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    symlink(&outside, dir.join("status_link-out")).unwrap();
    symlink(dir.join("status_link-b"), dir.join("status_link-a")).unwrap();
    symlink(dir.join("status_link-a"), dir.join("status_link-b")).unwrap();
    symlink(live.path(), dir.join("status_link-live")).unwrap();
    std::fs::create_dir(dir.join("status_dir")).unwrap();
    std::fs::write(dir.join("status_garbage"), vec![0xAB; 10_000]).unwrap();
    std::fs::write(dir.join("status_empty"), b"").unwrap();
    std::fs::write(dir.join("notes.txt"), b"hello").unwrap();
    // A copy of a real status file under another user's name: unlocked, but
    // not this user's to remove.
    std::fs::copy(live.path(), dir.join("status_other")).unwrap();
    std::os::unix::fs::chown(dir.join("status_other"), Some(65534), Some(65534)).unwrap();
    let before = entries(&dir);

    // Reads finish (a FIFO is never opened for blocking) and list the live worker.
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let all = board.read_all().unwrap();
        let snap = snapshot(&board).unwrap();
        let removed = board.cleanup().unwrap().removed;
        tx.send((all, snap, removed)).unwrap();
        board
    });
    let (all, snap, removed) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("reads must not block");
    let _board = reader.join().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all["live"], b"fine");
    assert_eq!(removed, 0, "nothing here is a dead status file");

    let mut skipped: Vec<String> = snap
        .skipped
        .iter()
        .map(|e| {
            e.path()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    skipped.sort();
    let mut want: Vec<String> = before
        .iter()
        .filter(|n| *n != "status_live")
        .cloned()
        .collect();
    want.sort();
    assert_eq!(skipped, want, "every odd entry is reported");
    for e in &snap.skipped {
        assert!(
            matches!(e.kind(), ErrorKind::Corrupt | ErrorKind::Io),
            "{e}"
        );
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(entries(&dir), before, "nothing was removed or added");
    assert_eq!(std::fs::read(&outside).unwrap(), b"not yours");
    assert_eq!(
        std::fs::metadata(dir.join("status_garbage")).unwrap().len(),
        10_000
    );
}

#[test]
fn a_missing_base_dir_is_a_clear_error() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    std::fs::remove_dir(&dir).unwrap();
    let e = board.read_all().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Missing);
    assert!(e.to_string().contains("board"), "{e}");
    // Opening a path that is a file fails with the path in the message.
    let file = tmp.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let e = crate::common::open(&file).unwrap_err();
    assert!(e.to_string().contains("file"), "{e}");
}

#[test]
fn a_base_dir_others_can_write_or_another_user_owns_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let set = |mode: u32| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode));
    // Created private.
    drop(crate::common::open(&dir).unwrap());
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777,
        0o700
    );
    for (mode, ok) in [
        (0o777, false),
        (0o770, false),
        (0o702, false),
        (0o755, true),
        (0o750, true),
        (0o1777, true),
        (0o1770, true),
    ] {
        set(mode).unwrap();
        match crate::common::open(&dir) {
            Ok(_) => assert!(ok, "mode {mode:o} was accepted"),
            Err(e) => {
                assert!(!ok, "mode {mode:o}: {e}");
                assert_eq!(e.kind(), ErrorKind::Insecure);
                let msg = e.to_string();
                assert!(msg.contains("board") && msg.contains("chmod"), "{msg}");
                let io: std::io::Error = e.into();
                assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
            }
        }
    }
    set(0o700).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    // Another user's board: root reads it, and adds nothing to it (a user
    // who is not root nor in its group is refused even reading: `shared`).
    let board = crate::common::open(&dir).unwrap();
    assert!(board.read_all().unwrap().is_empty());
    let e = board.update(b"root was here").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ReadOnly);
    assert!(e.to_string().contains("owned by uid 65534"), "{e}");
    assert!(entries(&dir).is_empty());
}

/// A skipped entry that is removed is no longer reported (a watching board
/// learns of the removal from its watch).
#[test]
fn a_removed_odd_entry_is_no_longer_reported() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    assert!(snapshot(&board).unwrap().skipped.is_empty());
    std::fs::write(dir.join("\u{7}"), b"x").unwrap();
    std::fs::write(dir.join("status_junk"), b"x").unwrap();
    assert_eq!(snapshot(&board).unwrap().skipped.len(), 2);
    std::fs::remove_file(dir.join("\u{7}")).unwrap();
    std::fs::remove_file(dir.join("status_junk")).unwrap();
    let snap = snapshot(&board).unwrap();
    assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);
}

type Damage = fn(&mut Vec<u8>, &dyn Fn(&mut Vec<u8>, usize, u64));

/// Status files with damaged headers and descriptors, locked as live ones are
/// and then unlocked: reads skip and report each (never hang, never fail as a
/// whole), and once unlocked remove those with a status header, leaving the
/// one without.
#[test]
fn crafted_status_files_are_skipped_then_removed_never_fatal() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    let word = |b: &mut Vec<u8>, at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    // After one update the published copy is copy 1, described at byte 448:
    // seq, offset (+8), capacity (+16), length (+24).
    let damages: [(&str, Damage); 7] = [
        ("huge-len", |b, w| w(b, 448 + 24, 1 << 50)),
        ("huge-cap", |b, w| w(b, 448 + 16, u64::MAX)),
        ("bad-magic", |b, w| w(b, 0, 0x4141_4141)),
        // Version 99, header length 512.
        ("future-version", |b, w| w(b, 8, 0x63 | (0x200 << 32))),
        ("truncated", |b, _| b.truncate(600)),
        ("overlaps-header", |b, w| w(b, 448 + 8, 8)),
        ("partial-word", |b, w| {
            // The copy ends 2 bytes short of the last whole word.
            b.truncate(2326);
            w(b, 448 + 8, 2304);
            w(b, 448 + 24, 20);
        }),
    ];
    let mut locks = Vec::new();
    for (name, damage) in damages {
        let mut w = board.worker_with_id(name).unwrap();
        w.update(b"a status of twenty b").unwrap();
        let mut bytes = std::fs::read(w.path()).unwrap();
        let path = w.path();
        drop(w);
        damage(&mut bytes, &word);
        std::fs::write(&path, &bytes).unwrap();
        // Live, as far as readers can tell.
        let f = std::fs::File::options()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        f.lock().unwrap();
        locks.push(f);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let all = board.read_all().unwrap();
        let snap = snapshot(&board).unwrap();
        tx.send((all, snap)).unwrap();
        board
    });
    let (all, snap) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("reads must not hang");
    let board = reader.join().unwrap();
    assert!(all.is_empty(), "{:?}", all.keys());
    assert_eq!(snap.skipped.len(), 7, "{:?}", snap.skipped);
    for e in &snap.skipped {
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    }
    assert_eq!(entries(&dir).len(), 7);

    // Unlocked: dead. Removed if they have a status header.
    drop(locks);
    let snap = snapshot(&board).unwrap();
    assert!(snap.workers.is_empty());
    assert_eq!(snap.removed, 6, "{snap:?}");
    assert_eq!(entries(&dir), ["status_bad-magic"]);
    assert_eq!(snap.skipped.len(), 1, "{:?}", snap.skipped);
    assert!(
        snap.skipped[0].to_string().contains("left in place"),
        "{}",
        snap.skipped[0]
    );
}

/// A new worker whose file name is taken by something that is not this
/// user's status file is refused, and told why as a `Reason`.
#[test]
fn a_name_taken_by_something_else_is_refused_with_its_reason() {
    use parallel_scoreboard::Reason;
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    std::fs::create_dir(dir.join("status_dir")).unwrap();
    let e = board.worker_with_id("dir").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert_eq!(e.reason(), Some(&Reason::NotARegularFile), "{e}");
    assert_eq!(e.path(), Some(dir.join("status_dir").as_path()));
    // Another user's file, where root can make one.
    let root = nix::unistd::geteuid().is_root();
    if root {
        let theirs = dir.join("status_theirs");
        std::fs::write(&theirs, b"x").unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let e = board.worker_with_id("theirs").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
        assert_eq!(
            e.reason(),
            Some(&Reason::OwnedByAnotherUser { uid: 65534 }),
            "{e}"
        );
    }
    // Nothing was removed or added.
    let left: &[&str] = if root {
        &["status_dir", "status_theirs"]
    } else {
        &["status_dir"]
    };
    assert_eq!(entries(&dir), left);
}
