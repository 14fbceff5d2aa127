//! The `parse_status_file` target: a name chosen by the input's first byte,
//! then a status file's bytes. `inspect::parse` must hold together, and the
//! real reader must agree with it while the file is locked and follow the
//! trust model's rules once it is not.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::path::Path;
use std::sync::OnceLock;

use parallel_scoreboard::inspect::{self, Parsed};
use parallel_scoreboard::{Error, Reason, Scoreboard, Snapshot};

use super::scratch::{PARSE_DIR, empty_dir, listing_board, scratch, watching_board};
use super::{HEADER_LEN, MAGIC, MAX_ID_LEN};

/// The file name of `id`, as docs/protocol.md specifies it (written again here, so
/// the fuzzer can make headers whose id matches the name, and so `parse`'s
/// mapping is checked against the documented one).
fn file_name(id: &str) -> String {
    let mut name = String::from("status_");
    for &b in id.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
            name.push(char::from(b));
        } else {
            write!(name, "%{b:02X}").expect("writing to a String");
        }
    }
    if name.len() > 255 {
        let hash = id
            .as_bytes()
            .iter()
            .fold(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d_u128, |h, &b| {
                (h ^ u128::from(b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b)
            });
        format!("status_~{hash:032x}")
    } else {
        name
    }
}

/// The id in a header's bytes (length at byte 32, id at byte 40), if it is one.
fn header_id(bytes: &[u8]) -> Option<&str> {
    let len = u64::from_le_bytes(bytes.get(32..40)?.try_into().ok()?);
    let len = usize::try_from(len).ok().filter(|&n| n <= MAX_ID_LEN)?;
    std::str::from_utf8(bytes.get(40..40 + len)?).ok()
}

/// The file name an input's first byte chooses for the rest of it.
fn choose_name(choice: u8, bytes: &[u8]) -> String {
    match choice % 8 {
        // Mostly the name the header's id maps to, so parsing gets past it.
        0..=3 => header_id(bytes).map_or_else(|| "status_x".to_owned(), file_name),
        4 => "status_w1".to_owned(),
        5 => "status_%41".to_owned(),
        // A publication temporary: removed by readers once dead, whatever it holds.
        6 => ".sb-tmp-fuzz".to_owned(),
        // Not a status file's name: never touched.
        _ => "other".to_owned(),
    }
}

/// Whether the published copy's sequence word is odd: a reader would wait for
/// a writer that does not exist (and report the worker busy after 1 s).
fn published_copy_odd(bytes: &[u8]) -> bool {
    let word = |i: usize| {
        bytes
            .get(i * 8..i * 8 + 8)
            .map_or(0, |w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
    };
    let published = usize::from(word(40) & 1 == 1);
    word(48 + published * 8) & 1 == 1
}

static PARSE_BOARD: OnceLock<Scoreboard> = OnceLock::new();

/// The `parse_status_file` target: `data` is a name choice, then the bytes.
pub(crate) fn check_status_file(data: &[u8]) {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    let name = choose_name(choice, bytes);
    let parsed = inspect::parse(&name, bytes);
    if let Ok(p) = &parsed {
        check_parsed(&name, bytes, p);
    }

    let dir = scratch(&PARSE_DIR, "parse");
    let path = dir.join(&name);
    fs::write(&path, bytes).expect("writing the status file");
    let temp = name.starts_with(".sb-tmp-");
    let ours = name.starts_with("status_");

    // A live worker's file: locked, as its owner locks it (read-write).
    let board = watching_board(&PARSE_BOARD, dir);
    if !published_copy_odd(bytes) {
        let owner = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("opening the status file");
        owner.lock().expect("locking the status file");
        let snap = snapshot(board).expect("a read of a live file failed");
        check_live(&name, ours, bytes, &parsed, &snap);
        assert!(path.exists(), "a live file was removed");
        drop(owner);
    }

    // A dead worker's file: a reader removes it if it has the magic (or is a
    // temporary), and otherwise leaves it alone and says so.
    let removable = temp || (ours && bytes.starts_with(MAGIC));
    // The watching board, told of the close by its watch; then a new board,
    // which lists the directory (as the first read of any board does).
    let watched = snapshot(board).expect("a read of a dead file failed");
    check_dead(&name, removable, &watched, false);
    let listed = snapshot(&listing_board(dir)).expect("a read of a dead file failed");
    check_dead(&name, removable, &listed, true);
    assert_eq!(path.exists(), !removable, "removal of a dead file");

    check_emptied(board, dir);
}

/// What `parse` returned for a file named `name` holding `bytes`, checked on
/// its own: an id that maps to the name, a status within the file.
fn check_parsed(name: &str, bytes: &[u8], p: &Parsed) {
    assert!(
        !p.id.is_empty() && p.id.len() <= MAX_ID_LEN,
        "id of {} bytes",
        p.id.len()
    );
    assert_eq!(file_name(&p.id), name, "the id does not map to the name");
    assert!(p.status.len() <= bytes.len(), "status longer than the file");
    assert!(
        p.status.len() <= bytes.len() / 8 * 8 - HEADER_LEN,
        "status of {} bytes in a file of {}: it overlaps the header",
        p.status.len(),
        bytes.len()
    );
}

/// Empties `dir`: the watching board, told of the removal, reports nothing,
/// and a full listing leaves it in step with the directory for the next input
/// (even where the checks before were allowed to fail).
fn check_emptied(board: &Scoreboard, dir: &Path) {
    empty_dir(dir);
    let after = snapshot(board).expect("a read of the empty directory failed");
    assert!(after.workers.is_empty(), "{after:?}");
    assert_eq!(after.removed, 0, "{after:?}");
    assert_eq!(
        skipped_names(&after),
        Vec::<&str>::new(),
        "removed entries still reported as skipped by a watching board"
    );
    assert_eq!(
        board
            .cleanup()
            .expect("cleanup of the empty directory")
            .removed,
        0
    );
}

/// What a read of the locked file must show: what `parse` found.
fn check_live(
    name: &str,
    ours: bool,
    bytes: &[u8],
    parsed: &Result<Parsed, Error>,
    snap: &Snapshot,
) {
    assert_eq!(snap.removed, 0, "a live file was removed");
    let skipped = skipped_names(snap);
    match parsed {
        Ok(p) if ours => {
            assert!(
                skipped.is_empty(),
                "parsed, but the reader skipped it: {snap:?}"
            );
            if p.updates == 0 {
                assert!(snap.workers.is_empty(), "no update made, but listed");
            } else {
                assert_eq!(snap.workers.len(), 1, "{snap:?}");
                let w = &snap.workers[0];
                assert_eq!(
                    (w.id.as_str(), w.pid, &w.status, w.updates),
                    (p.id.as_str(), p.pid, &p.status, p.updates),
                    "the reader and parse disagree"
                );
            }
        }
        Err(why) if ours => {
            assert!(snap.workers.is_empty(), "parse failed ({why}), but listed");
            assert_eq!(skipped, [name], "parse failed ({why}): {snap:?}");
            // Both say why in the same terms, but that the reader tells the
            // Perl module's files (named as ours) from other headerless ones.
            let read = &snap.skipped[0];
            let headerless = matches!(why.reason(), Some(Reason::BadMagic | Reason::ShortHeader));
            // (The Perl module's name has an id after the prefix.)
            let perl_name = name.len() > "status_".len();
            let want = if headerless && perl_name && perl_record(bytes) {
                Some(&Reason::PerlStatusFile)
            } else {
                why.reason()
            };
            assert_eq!(
                (read.kind(), read.reason()),
                (why.kind(), want),
                "parse and the reader disagree on why ({why}; {read})"
            );
        }
        _ => {
            assert!(snap.workers.is_empty(), "not a status file, but listed");
            let expect: &[&str] = if name.starts_with(".sb-tmp-") {
                &[]
            } else {
                &[name]
            };
            assert_eq!(skipped, expect, "{snap:?}");
        }
    }
}

/// Whether `bytes` hold what readers take for a record of the Perl module's
/// format (`Reason::PerlStatusFile`'s docs): a 16-byte digest (not checked),
/// a big-endian 4-byte length (of at most 16 MiB), and that many bytes after.
fn perl_record(bytes: &[u8]) -> bool {
    let Some(len) = bytes.get(16..20) else {
        return false;
    };
    let len = u64::from(u32::from_be_bytes(len.try_into().expect("4 bytes")));
    len <= 16 << 20 && 20 + len <= bytes.len() as u64
}

/// What a read of the unlocked file must show. `again`: a read after another
/// one, which may have removed the file already.
fn check_dead(name: &str, removable: bool, snap: &Snapshot, again: bool) {
    assert!(snap.workers.is_empty(), "a dead worker listed: {snap:?}");
    let skipped = skipped_names(snap);
    if removable {
        assert!(skipped.is_empty(), "{snap:?}");
        assert!(
            snap.removed == 1 || (again && snap.removed == 0),
            "{snap:?}"
        );
    } else {
        assert_eq!(snap.removed, 0, "{name}: removed, but had no magic");
        assert_eq!(skipped, [name], "{snap:?}");
    }
}

/// The file names of a snapshot's skipped entries.
fn skipped_names(snap: &Snapshot) -> Vec<&str> {
    snap.skipped
        .iter()
        .map(|e| {
            e.path()
                .and_then(Path::file_name)
                .and_then(|n| n.to_str())
                .unwrap_or("?")
        })
        .collect()
}

/// A fresh snapshot of `board` (`Scoreboard::read_into` into a new one).
fn snapshot(board: &Scoreboard) -> parallel_scoreboard::Result<parallel_scoreboard::Snapshot> {
    let mut snap = parallel_scoreboard::Snapshot::default();
    board.read_into(&mut snap)?;
    Ok(snap)
}
