//! The checks of the fuzz targets, shared by the targets (`fuzz/fuzz_targets/`)
//! and by the replay of their corpora in `cargo test` (`tests/fuzz_corpus.rs`).
//! Both include this file with `#[path]`, so a corpus file is decoded and
//! checked the same way in both places.
//!
//! - [`check_status_file`]: one byte choosing a file name, then a status file's
//!   bytes. `inspect::parse` must not panic and what it returns must hold
//!   together; the real reader, given the same bytes as a file, must agree with
//!   it while the file is locked (a live worker), and must remove it or leave it
//!   alone by the trust model's rules once it is unlocked (a dead worker).
//! - [`check_ops`]: a sequence of operations (decoded with `arbitrary`) run
//!   against a watching and a listing board and a model of what they must read.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use parallel_scoreboard::inspect::{self, Parsed};
use parallel_scoreboard::{ErrorKind, Scoreboard, Snapshot, Worker};

/// `"PSCOREBD"`: the first word of every status file.
const MAGIC: &[u8; 8] = b"PSCOREBD";
/// Status file header length; payload regions start here.
const HEADER_LEN: usize = 512;
/// Longest worker id, in bytes.
const MAX_ID_LEN: usize = 255;
/// Longest status `check_ops` writes: past the first page, so files grow.
pub(crate) const MAX_STATUS_LEN: usize = 70_000;
/// Most operations `check_ops` runs from one input.
const MAX_OPS: usize = 64;

/// A directory of this process for one target, on tmpfs where there is one,
/// made once and emptied before every run.
fn scratch(cell: &'static OnceLock<PathBuf>, tag: &str) -> &'static Path {
    let dir = cell.get_or_init(|| {
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        remove_stale_scratch(&base, tag);
        let dir = base.join(format!("psb-fuzz-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("creating the scratch directory");
        dir
    });
    empty_dir(dir);
    dir
}

/// A watching board on `dir`, made once per process and kept: closing an
/// inotify instance costs the kernel 6 to 18 ms here, more than the rest of a
/// run. Its reader state carries over from run to run, and its reads must be
/// exact whatever came before.
fn watching_board(cell: &'static OnceLock<Scoreboard>, dir: &Path) -> &'static Scoreboard {
    cell.get_or_init(|| Scoreboard::open(dir).expect("opening the watching board"))
}

/// A board whose reads list the directory (no inotify instance to close).
fn listing_board(dir: &Path) -> Scoreboard {
    Scoreboard::builder(dir)
        .watch(false)
        .open()
        .expect("opening the listing board")
}

/// Removes the scratch directory of `target` (`"parse_status_file"` or
/// `"ops_model"`) if this process made one.
pub(crate) fn remove_scratch(target: &str) {
    let cell = match target {
        "parse_status_file" => &PARSE_DIR,
        "ops_model" => &OPS_DIR,
        _ => panic!("no fuzz target {target:?}"),
    };
    if let Some(dir) = cell.get() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Removes the scratch directories of `tag` left in `base` by processes that
/// are gone (a fuzzer cannot remove its own: libFuzzer exits the process).
fn remove_stale_scratch(base: &Path, tag: &str) {
    let prefix = format!("psb-fuzz-{tag}-");
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes every entry of `dir` (left behind by a run that failed).
fn empty_dir(dir: &Path) {
    for entry in fs::read_dir(dir).expect("listing the scratch directory") {
        let path = entry.expect("listing the scratch directory").path();
        if path.is_dir() {
            fs::remove_dir_all(&path).expect("emptying the scratch directory");
        } else {
            fs::remove_file(&path).expect("emptying the scratch directory");
        }
    }
}

/// The names left in `dir`.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("listing the scratch directory")
        .map(|e| {
            e.expect("listing the scratch directory")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The file name of `id`, as the README specifies it (written again here, so
/// the fuzzer can make headers whose id matches the name, and so `parse`'s
/// mapping is checked against the documented one).
pub(crate) fn file_name(id: &str) -> String {
    let mut name = String::from("sb-");
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
        format!("sb-~{hash:032x}")
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
        0..=3 => header_id(bytes).map_or_else(|| "sb-x".to_owned(), file_name),
        4 => "sb-w1".to_owned(),
        5 => "sb-%41".to_owned(),
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

static PARSE_DIR: OnceLock<PathBuf> = OnceLock::new();
static PARSE_BOARD: OnceLock<Scoreboard> = OnceLock::new();

/// The `parse_status_file` target: `data` is a name choice, then the bytes.
pub(crate) fn check_status_file(data: &[u8]) {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    let name = choose_name(choice, bytes);
    let parsed = inspect::parse(&name, bytes);
    if let Ok(p) = &parsed {
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

    let dir = scratch(&PARSE_DIR, "parse");
    let path = dir.join(&name);
    fs::write(&path, bytes).expect("writing the status file");
    let temp = name.starts_with(".sb-tmp-");
    let ours = name.starts_with("sb-");

    // A live worker's file: locked, as its owner locks it (read-write).
    let board = watching_board(&PARSE_BOARD, dir);
    if !published_copy_odd(bytes) {
        let owner = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("opening the status file");
        owner.lock().expect("locking the status file");
        let snap = board.snapshot().expect("a read of a live file failed");
        check_live(&name, ours, &parsed, &snap);
        assert!(path.exists(), "a live file was removed");
        drop(owner);
    }

    // A dead worker's file: a reader removes it if it has the magic (or is a
    // temporary), and otherwise leaves it alone and says so.
    let removable = temp || (ours && bytes.starts_with(MAGIC));
    // The watching board, told of the close by its watch; then a new board,
    // which lists the directory (as the first read of any board does).
    let watched = board.snapshot().expect("a read of a dead file failed");
    check_dead(&name, removable, &watched, false);
    let listed = listing_board(dir)
        .snapshot()
        .expect("a read of a dead file failed");
    check_dead(&name, removable, &listed, true);
    assert_eq!(path.exists(), !removable, "removal of a dead file");

    // Emptied: the watching board, told of the removal, reports nothing.
    empty_dir(dir);
    let after = board
        .snapshot()
        .expect("a read of the empty directory failed");
    assert!(after.workers.is_empty(), "{after:?}");
    assert_eq!(after.removed, 0, "{after:?}");
    assert_eq!(
        skipped_names(&after),
        Vec::<&str>::new(),
        "removed entries still reported as skipped by a watching board"
    );
    // A full listing: the next input starts from a board in step with the
    // directory even where the above was allowed to fail.
    assert_eq!(
        board
            .cleanup()
            .expect("cleanup of the empty directory")
            .removed,
        0
    );
}

/// What a read of the locked file must show: what `parse` found.
fn check_live(name: &str, ours: bool, parsed: &Result<Parsed, String>, snap: &Snapshot) {
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

/// Which of the two boards.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// Reads watch the directory (inotify).
    Watching,
    /// Reads list the directory (`.watch(false)`).
    Listing,
}

/// A worker id to create.
#[derive(Arbitrary, Debug)]
pub(crate) enum IdChoice {
    A,
    B,
    DotDotX,
    EAcute,
    Percent41,
    UpperA,
    /// 255 bytes, the longest.
    Long255,
    /// 127 `é`s: 254 bytes, escaped past a file name's length (hashed name).
    LongEAcute,
    /// The process id: the id `Scoreboard::update` uses.
    Pid,
    /// Invalid: empty.
    Empty,
    /// Invalid: 256 bytes.
    Long256,
    Custom(String),
}

impl IdChoice {
    fn id(&self) -> String {
        match self {
            Self::A => "a".into(),
            Self::B => "b".into(),
            Self::DotDotX => "../x".into(),
            Self::EAcute => "é".into(),
            Self::Percent41 => "%41".into(),
            Self::UpperA => "A".into(),
            Self::Long255 => "x".repeat(255),
            Self::LongEAcute => "é".repeat(127),
            Self::Pid => std::process::id().to_string(),
            Self::Empty => String::new(),
            Self::Long256 => "y".repeat(256),
            Self::Custom(s) => s.clone(),
        }
    }
}

/// One operation of `check_ops`.
#[derive(Arbitrary, Debug)]
pub(crate) enum Op {
    /// `board.worker_with_id(id)`.
    Create {
        id: IdChoice,
        via: Via,
    },
    /// `worker.update(status)` on the live `Worker` number `slot` (modulo).
    Update {
        slot: u8,
        len: u32,
        seed: u8,
    },
    /// Drops the live `Worker` number `slot` (modulo).
    Drop {
        slot: u8,
    },
    /// `board.update(status)` on the listing board: its own slot (the
    /// process id). (The watching board lives as long as the process.)
    BoardUpdate {
        len: u16,
        seed: u8,
    },
    ReadAll(Via),
    Snapshot(Via),
    Cleanup(Via),
}

/// Decodes `data` as `check_ops` does: `Vec<Op>` taking all of it.
pub(crate) fn decode_ops(data: &[u8]) -> Vec<Op> {
    let mut ops = Vec::<Op>::arbitrary_take_rest(Unstructured::new(data)).unwrap_or_default();
    ops.truncate(MAX_OPS);
    ops
}

/// A status of `len` bytes (at most [`MAX_STATUS_LEN`]) made from `seed`.
fn status_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len % (MAX_STATUS_LEN + 1))
        .map(|i| seed.wrapping_add((i % 251) as u8))
        .collect()
}

/// Who holds a live id.
#[derive(Debug)]
enum Owner {
    Worker(Worker),
    /// The listing board's own slot.
    Board,
}

/// A live id in the model.
#[derive(Debug)]
struct Live {
    owner: Owner,
    status: Option<Vec<u8>>,
    updates: u64,
}

static OPS_DIR: OnceLock<PathBuf> = OnceLock::new();
static OPS_BOARD: OnceLock<Scoreboard> = OnceLock::new();

/// The `ops_model` target: runs the operations `data` decodes to.
pub(crate) fn check_ops(data: &[u8]) {
    let ops = decode_ops(data);
    let dir = scratch(&OPS_DIR, "ops");
    let watching = watching_board(&OPS_BOARD, dir);
    let listing = listing_board(dir);
    let board = |via: Via| match via {
        Via::Watching => watching,
        Via::Listing => &listing,
    };
    let mut model: BTreeMap<String, Live> = BTreeMap::new();
    for (step, op) in ops.iter().enumerate() {
        let at = || format!("step {step}: {op:?}");
        match op {
            Op::Create { id, via } => create(&mut model, board(*via), &id.id(), &at),
            Op::Update { slot, len, seed } => {
                let Some(live) = nth_worker(&mut model, *slot) else {
                    continue;
                };
                let Owner::Worker(w) = &mut live.owner else {
                    unreachable!("nth_worker returns workers")
                };
                let status = status_bytes(*len as usize, *seed);
                w.update(&status)
                    .unwrap_or_else(|e| panic!("{}: {e}", at()));
                live.status = Some(status);
                live.updates += 1;
                assert_eq!(w.updates(), live.updates, "{}", at());
            }
            Op::Drop { slot } => {
                let Some(id) = nth_worker_id(&model, *slot) else {
                    continue;
                };
                drop(model.remove(&id));
            }
            Op::BoardUpdate { len, seed } => {
                board_update(&mut model, &listing, usize::from(*len), *seed, &at);
            }
            Op::ReadAll(via) => {
                let all = board(*via)
                    .read_all()
                    .unwrap_or_else(|e| panic!("{}: {e}", at()));
                assert_eq!(all, expected(&model), "{}", at());
            }
            Op::Snapshot(via) => check_snapshot(&model, board(*via), &at),
            Op::Cleanup(via) => {
                let removed = board(*via)
                    .cleanup()
                    .unwrap_or_else(|e| panic!("{}: {e}", at()))
                    .removed;
                assert_eq!(removed, 0, "{}: every worker is live", at());
            }
        }
    }
    // Workers dropped, then the listing board (and its own slot): nothing is
    // left.
    model.retain(|_, live| matches!(live.owner, Owner::Board));
    for via in [Via::Watching, Via::Listing] {
        let all = board(via).read_all().expect("the last read");
        assert_eq!(
            all,
            expected(&model),
            "after dropping the workers ({via:?})"
        );
    }
    drop(model);
    drop(listing);
    for via in [Via::Watching, Via::Listing] {
        let all = board_after(watching, dir, via);
        assert!(
            all.is_empty(),
            "after dropping everything ({via:?}): {all:?}"
        );
    }
    assert_eq!(names_in(dir), Vec::<String>::new(), "left in the directory");
}

/// What `via` reads once the listing board of the run is gone.
fn board_after(watching: &Scoreboard, dir: &Path, via: Via) -> BTreeMap<String, Vec<u8>> {
    match via {
        Via::Watching => watching.read_all(),
        Via::Listing => listing_board(dir).read_all(),
    }
    .expect("the last read")
}

/// `Op::Create`: refused for an invalid id or a live one.
fn create(
    model: &mut BTreeMap<String, Live>,
    board: &Scoreboard,
    id: &str,
    at: &dyn Fn() -> String,
) {
    let got = board.worker_with_id(id);
    if id.is_empty() || id.len() > MAX_ID_LEN {
        let kind = got.map(|_| ()).map_err(|e| e.kind());
        assert_eq!(kind, Err(ErrorKind::InvalidId), "{}", at());
    } else if model.contains_key(id) {
        let kind = got.map(|_| ()).map_err(|e| e.kind());
        assert_eq!(kind, Err(ErrorKind::DuplicateId), "{}", at());
    } else {
        let w = got.unwrap_or_else(|e| panic!("{}: {e}", at()));
        assert_eq!((w.id(), w.updates()), (id, 0), "{}", at());
        let live = Live {
            owner: Owner::Worker(w),
            status: None,
            updates: 0,
        };
        model.insert(id.to_owned(), live);
    }
}

/// `Op::BoardUpdate`: the board's slot, refused while a `Worker` holds the
/// process id.
fn board_update(
    model: &mut BTreeMap<String, Live>,
    board: &Scoreboard,
    len: usize,
    seed: u8,
    at: &dyn Fn() -> String,
) {
    let id = std::process::id().to_string();
    let status = status_bytes(len, seed);
    let got = board.update(&status);
    match model.get_mut(&id) {
        Some(live) if matches!(live.owner, Owner::Board) => {
            got.unwrap_or_else(|e| panic!("{}: {e}", at()));
            live.status = Some(status);
            live.updates += 1;
        }
        Some(_) => {
            let kind = got.map_err(|e| e.kind());
            assert_eq!(kind, Err(ErrorKind::DuplicateId), "{}", at());
        }
        None => {
            got.unwrap_or_else(|e| panic!("{}: {e}", at()));
            let live = Live {
                owner: Owner::Board,
                status: Some(status),
                updates: 1,
            };
            model.insert(id, live);
        }
    }
}

/// `Op::Snapshot`: sorted by id, the model's statuses and update counts.
fn check_snapshot(model: &BTreeMap<String, Live>, board: &Scoreboard, at: &dyn Fn() -> String) {
    let snap = board.snapshot().unwrap_or_else(|e| panic!("{}: {e}", at()));
    assert!(snap.skipped.is_empty(), "{}: {:?}", at(), snap.skipped);
    assert_eq!(snap.removed, 0, "{}", at());
    let got: Vec<(&str, &[u8], u64, u32)> = snap
        .workers
        .iter()
        .map(|w| (w.id.as_str(), w.status.as_slice(), w.updates, w.pid))
        .collect();
    let want: Vec<(&str, &[u8], u64, u32)> = model
        .iter()
        .filter_map(|(id, live)| {
            let status = live.status.as_deref()?;
            Some((id.as_str(), status, live.updates, std::process::id()))
        })
        .collect();
    assert_eq!(got, want, "{}", at());
}

/// What `read_all` must return.
fn expected(model: &BTreeMap<String, Live>) -> BTreeMap<String, Vec<u8>> {
    model
        .iter()
        .filter_map(|(id, live)| Some((id.clone(), live.status.clone()?)))
        .collect()
}

/// The id of the live `Worker` number `slot`, modulo their number.
fn nth_worker_id(model: &BTreeMap<String, Live>, slot: u8) -> Option<String> {
    let ids: Vec<&String> = model
        .iter()
        .filter(|(_, live)| matches!(live.owner, Owner::Worker(_)))
        .map(|(id, _)| id)
        .collect();
    if ids.is_empty() {
        return None;
    }
    Some(ids[usize::from(slot) % ids.len()].clone())
}

/// The live `Worker` number `slot`, modulo their number.
fn nth_worker(model: &mut BTreeMap<String, Live>, slot: u8) -> Option<&mut Live> {
    let id = nth_worker_id(model, slot)?;
    model.get_mut(&id)
}

/// The bytes of the corpus file `path`.
pub(crate) fn read_input(path: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        &mut bytes,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
}
