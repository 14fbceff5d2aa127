//! The `ops_model` target: a sequence of operations, decoded with
//! `arbitrary`, run against a watching and a listing board, every read
//! checked against the model (`oracle`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use parallel_scoreboard::{ErrorKind, Scoreboard};

use super::oracle::{Live, Owner, check_snapshot, expected, nth_worker, nth_worker_id};
use super::scratch::{OPS_DIR, listing_board, names_in, scratch, watching_board};
use super::{MAX_ID_LEN, MAX_OPS, MAX_STATUS_LEN};

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
            Op::Update { slot, len, seed } => update(&mut model, *slot, *len as usize, *seed, &at),
            Op::Drop { slot } => {
                if let Some(id) = nth_worker_id(&model, *slot) {
                    drop(model.remove(&id));
                }
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
    check_end(model, watching, listing, dir);
}

/// `Op::Update`: the live `Worker` number `slot` (modulo) publishes a status.
fn update(
    model: &mut BTreeMap<String, Live>,
    slot: u8,
    len: usize,
    seed: u8,
    at: &dyn Fn() -> String,
) {
    let Some(live) = nth_worker(model, slot) else {
        return;
    };
    let Owner::Worker(w) = &mut live.owner else {
        unreachable!("nth_worker returns workers")
    };
    let status = status_bytes(len, seed);
    w.update(&status)
        .unwrap_or_else(|e| panic!("{}: {e}", at()));
    live.status = Some(status);
    live.updates += 1;
    assert_eq!(w.updates(), live.updates, "{}", at());
}

/// The end of a run: with the workers dropped, then the listing board (and
/// its own slot), both boards read nothing and the directory is empty.
fn check_end(
    mut model: BTreeMap<String, Live>,
    watching: &Scoreboard,
    listing: Scoreboard,
    dir: &Path,
) {
    model.retain(|_, live| matches!(live.owner, Owner::Board));
    for (via, board) in [(Via::Watching, watching), (Via::Listing, &listing)] {
        let all = board.read_all().expect("the last read");
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
