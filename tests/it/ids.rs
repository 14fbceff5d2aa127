//! Worker ids are any UTF-8 string of 1 to 255 bytes, returned exactly, and
//! none can create anything outside `base_dir`.

use parallel_scoreboard::ErrorKind;

use crate::common::{entries, tempdir};

#[test]
fn ids_that_try_to_escape_stay_inside_base_dir() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    let slashes = "/".repeat(200);
    let long = "é".repeat(127);
    let max = "z".repeat(255);
    let ids: Vec<&str> = vec![
        "../x",
        "a/b",
        &slashes,
        ".",
        "..",
        "/etc/passwd",
        "x\0y",
        "%2F",
        "status_x",
        ".sb-tmp-1",
        "💥 status",
        &long,
        &max,
        " ",
        "\n",
    ];
    let mut workers = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let mut w = board
            .worker_with_id(*id)
            .unwrap_or_else(|e| panic!("{id:?}: {e}"));
        assert_eq!(w.id(), *id);
        w.update(format!("status {n}").as_bytes()).unwrap();
        assert_eq!(
            w.path().parent().unwrap(),
            dir,
            "{id:?} -> {}",
            w.path().display()
        );
        workers.push(w);
    }
    let all = board.read_all().unwrap();
    assert_eq!(all.len(), ids.len());
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(all[*id], format!("status {n}").as_bytes(), "{id:?}");
    }
    // Nothing outside base_dir, nothing but regular files inside it.
    assert_eq!(entries(tmp.path()), vec!["board".to_owned()]);
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        assert!(e.file_type().unwrap().is_file(), "{:?}", e.file_name());
    }
    assert_eq!(entries(&dir).len(), ids.len());
    drop(workers);
    assert!(entries(&dir).is_empty());
}

#[test]
fn empty_and_overlong_ids_are_refused() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    for id in [String::new(), "x".repeat(256), "é".repeat(128)] {
        let e = board.worker_with_id(id.clone()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidId, "{id:?}");
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::InvalidInput
        );
    }
    let custom = crate::common::builder(tmp.path())
        .worker_id(String::new)
        .open()
        .unwrap();
    assert_eq!(
        custom.update(b"x").unwrap_err().kind(),
        ErrorKind::InvalidId
    );
    assert!(entries(tmp.path()).is_empty());
}
