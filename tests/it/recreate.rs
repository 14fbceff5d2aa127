//! A board whose directory is removed, moved away, recreated (by `mkdir` or
//! by rename) or recreated insecure: watching and listing boards both fail
//! with `Missing` while nothing is at the path, read the new directory once
//! there is one, and always agree.

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use parallel_scoreboard::{ErrorKind, Scoreboard};

use crate::common::{Helper, tempdir};

/// One read of a board: the statuses as text, or the error's kind.
fn read(board: &Scoreboard) -> Want {
    board
        .read_all()
        .map(|all| {
            all.into_iter()
                .map(|(id, s)| (id, String::from_utf8_lossy(&s).into_owned()))
                .collect()
        })
        .map_err(|e| {
            assert!(
                e.to_string().contains(&*board.base_dir().to_string_lossy()),
                "the error names the path: {e}"
            );
            e.kind()
        })
}

/// Reads every board twice (cold after a change, then warm); all must give
/// `want`.
fn expect(boards: &[&Scoreboard], want: &Want) {
    for (i, b) in boards.iter().enumerate() {
        for pass in ["first", "second"] {
            assert_eq!(&read(b), want, "board {i}, {pass} read");
        }
    }
}

/// What a read should give: these statuses, by id.
type Want = Result<BTreeMap<String, String>, ErrorKind>;

fn statuses(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn mkdir(path: &Path, mode: u32) {
    std::fs::DirBuilder::new().mode(0o700).create(path).unwrap();
    // Set after creation: the umask does not apply to chmod.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A worker process holding worker `id` with status `text` on the board at `dir`.
fn worker(dir: &Path, id: &str, text: &str) -> Helper {
    let mut h = Helper::spawn("script", dir);
    h.ok(&format!("worker {id}"));
    h.ok(&format!("wupdate {id} {text}"));
    h
}

#[test]
fn removed_and_recreated_directories_are_followed_by_both_read_modes() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let watching = crate::common::builder(&dir).watch(true).open().unwrap();
    let listing = crate::common::builder(&dir).watch(false).open().unwrap();
    let boards = [&watching, &listing];
    expect(&boards, &Ok(statuses(&[])));

    let mut old = worker(&dir, "a", "first");
    expect(&boards, &Ok(statuses(&[("a", "first")])));
    for round in 0..3 {
        // Removed with a live worker in it.
        std::fs::remove_dir_all(&dir).unwrap();
        expect(&boards, &Err(ErrorKind::Missing));
        // Its worker keeps updating its own file, which nobody sees; a new
        // worker of that board cannot be made in the removed directory.
        old.ok(&format!("wupdate a unseen {round}"));
        assert!(old.send("worker late").starts_with("err Io"));
        expect(&boards, &Err(ErrorKind::Missing));

        // Recreated by mkdir, empty, then with a new worker.
        mkdir(&dir, 0o700);
        expect(&boards, &Ok(statuses(&[])));
        let fresh = worker(&dir, "b", &format!("mkdir {round}"));
        expect(&boards, &Ok(statuses(&[("b", &format!("mkdir {round}"))])));

        // Moved away: nothing at the path, although the directory lives on.
        let away = tmp.path().join(format!("away-{round}"));
        std::fs::rename(&dir, &away).unwrap();
        expect(&boards, &Err(ErrorKind::Missing));

        // Replaced by rename: a directory made elsewhere, with a live worker.
        let staged = tmp.path().join(format!("staged-{round}"));
        mkdir(&staged, 0o700);
        let renamed = worker(&staged, "c", &format!("renamed {round}"));
        std::fs::rename(&staged, &dir).unwrap();
        expect(
            &boards,
            &Ok(statuses(&[("c", &format!("renamed {round}"))])),
        );

        // Removed with no live worker: its worker exits first.
        renamed.finish();
        expect(&boards, &Ok(statuses(&[])));
        std::fs::remove_dir(&dir).unwrap();
        expect(&boards, &Err(ErrorKind::Missing));
        fresh.kill();
        mkdir(&dir, 0o700);
        expect(&boards, &Ok(statuses(&[])));
        old.finish();
        old = worker(&dir, "a", &format!("again {round}"));
        expect(&boards, &Ok(statuses(&[("a", &format!("again {round}"))])));
    }
    old.finish();
}

#[test]
fn a_renamed_or_removed_ancestor_is_followed_too() {
    let tmp = tempdir();
    let dir = tmp.path().join("run").join("svc").join("board");
    let watching = crate::common::builder(&dir).watch(true).open().unwrap();
    let listing = crate::common::builder(&dir).watch(false).open().unwrap();
    let boards = [&watching, &listing];
    let w = worker(&dir, "a", "one");
    expect(&boards, &Ok(statuses(&[("a", "one")])));
    // The grandparent moved away: nothing at the path.
    std::fs::rename(tmp.path().join("run"), tmp.path().join("run-old")).unwrap();
    expect(&boards, &Err(ErrorKind::Missing));
    std::fs::create_dir_all(&dir).unwrap();
    expect(&boards, &Ok(statuses(&[])));
    let w2 = worker(&dir, "b", "two");
    expect(&boards, &Ok(statuses(&[("b", "two")])));
    // The parent removed with everything in it, then made again.
    std::fs::remove_dir_all(tmp.path().join("run").join("svc")).unwrap();
    expect(&boards, &Err(ErrorKind::Missing));
    std::fs::create_dir_all(&dir).unwrap();
    expect(&boards, &Ok(statuses(&[])));
    drop((w, w2));
}

#[test]
fn a_recreated_directory_others_can_write_is_refused_until_fixed() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let watching = crate::common::builder(&dir).watch(true).open().unwrap();
    let listing = crate::common::builder(&dir).watch(false).open().unwrap();
    let boards = [&watching, &listing];
    let w = worker(&dir, "a", "before");
    expect(&boards, &Ok(statuses(&[("a", "before")])));
    std::fs::remove_dir_all(&dir).unwrap();
    w.kill();
    expect(&boards, &Err(ErrorKind::Missing));

    // By mkdir, then by rename, with group and others allowed to write.
    mkdir(&dir, 0o777);
    expect(&boards, &Err(ErrorKind::Insecure));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let w = worker(&dir, "b", "fixed");
    expect(&boards, &Ok(statuses(&[("b", "fixed")])));
    std::fs::remove_dir_all(&dir).unwrap();
    w.kill();
    let staged = tmp.path().join("staged");
    mkdir(&staged, 0o700);
    let w = worker(&staged, "c", "staged");
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o770)).unwrap();
    std::fs::rename(&staged, &dir).unwrap();
    expect(&boards, &Err(ErrorKind::Insecure));
    // The sticky bit makes a shared directory safe again.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1770)).unwrap();
    expect(&boards, &Ok(statuses(&[("c", "staged")])));
    w.finish();
}

#[test]
fn a_board_opened_without_create_waits_for_its_directory() {
    let tmp = tempdir();
    let dir = tmp.path().join("later").join("board");
    let watching = crate::common::builder(&dir).create(false).open().unwrap();
    let listing = crate::common::builder(&dir)
        .create(false)
        .watch(false)
        .open()
        .unwrap();
    assert!(!dir.exists(), "open made nothing");
    let boards = [&watching, &listing];
    expect(&boards, &Err(ErrorKind::Missing));
    // Nor can it make workers while there is no directory.
    assert_eq!(
        watching.update(b"x").unwrap_err().kind(),
        ErrorKind::Missing
    );
    let w = worker(&dir, "server", "up");
    expect(&boards, &Ok(statuses(&[("server", "up")])));
    // Once there is one, its workers are made there.
    listing.update(b"monitor").unwrap();
    let me = std::process::id().to_string();
    expect(
        &boards,
        &Ok(statuses(&[("server", "up"), (&me, "monitor")])),
    );
    drop(listing);
    expect(&[&watching], &Ok(statuses(&[("server", "up")])));
    w.finish();
    // An insecure directory still fails the open, as with `create(true)`.
    let shared = tmp.path().join("shared");
    mkdir(&shared, 0o777);
    let e = crate::common::builder(&shared)
        .create(false)
        .open()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Insecure);
}
