//! Self-checking statuses; the rest of the test plumbing (board
//! directories, helper processes, mounts) is the `testkit` crate's.

pub use testkit::{DIR_VAR, Helper, Mount, entries, tempdir};

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use parallel_scoreboard::{Builder, Scoreboard, Snapshot};

/// The builder of a board in `dir` for this run's mode: a listing board in
/// the suite's listing run (`PARALLEL_SCOREBOARD_NO_WATCH=1`, see
/// [`testkit::watching`]), a watching one otherwise. Every board of the
/// suite, in the tests and in their helper processes, is opened through it
/// (or [`open`]); a test that needs one mode says so with `.watch(..)`.
pub fn builder(dir: impl AsRef<Path>) -> Builder {
    Scoreboard::builder(dir.as_ref()).watch(testkit::watching())
}

/// A board in `dir` for this run's mode (see [`builder`]), with the
/// defaults otherwise, as `Scoreboard::open` would.
pub fn open(dir: impl AsRef<Path>) -> parallel_scoreboard::Result<Scoreboard> {
    builder(dir).open()
}

/// Taken by the tests that load the machine most (tens of thousands of
/// workers) and by those that require progress of their own (so many reads,
/// kills or changes in so many seconds): on two cores, one of the first
/// running beside one of the second starves it below its bounds. Those tests
/// run one at a time; the rest of the suite runs beside them as before.
pub fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    // A test that failed holding it poisons it; the next one runs all the same.
    HEAVY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A self-checking status of `len` bytes: the bytes depend on `seed` and their
/// position; statuses of 24 bytes or more start with a mark, their seed and
/// length, statuses of 16 to 23 bytes with their seed and length.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| filler(seed, i)).collect();
    if len >= 24 {
        v[..8].copy_from_slice(b"PSBCHECK");
        v[8..16].copy_from_slice(&seed.to_le_bytes());
        v[16..24].copy_from_slice(&(len as u64).to_le_bytes());
    } else if len >= 16 {
        v[..8].copy_from_slice(&seed.to_le_bytes());
        v[8..16].copy_from_slice(&(len as u64).to_le_bytes());
    }
    v
}

fn filler(seed: u64, i: usize) -> u8 {
    (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) as u8)
        ^ (i as u8).wrapping_mul(31)
        ^ ((i >> 8) as u8)
}

/// Checks a status made by [`pattern`] with 16 bytes or more; returns its seed.
pub fn verify(status: &[u8]) -> Result<u64, String> {
    if (16..24).contains(&status.len()) {
        let seed = u64::from_le_bytes(status[..8].try_into().unwrap());
        let len = u64::from_le_bytes(status[8..16].try_into().unwrap()) as usize;
        if len != status.len() {
            return Err(format!("length {} but header says {len}", status.len()));
        }
        return match (16..len).find(|&k| status[k] != filler(seed, k)) {
            Some(k) => Err(format!("byte {k} of {len} differs (seed {seed})")),
            None => Ok(seed),
        };
    }
    if status.len() < 24 || &status[..8] != b"PSBCHECK" {
        return Err(format!("no check header in {} bytes", status.len()));
    }
    let seed = u64::from_le_bytes(status[8..16].try_into().unwrap());
    let len = u64::from_le_bytes(status[16..24].try_into().unwrap()) as usize;
    if len != status.len() {
        return Err(format!("length {} but header says {len}", status.len()));
    }
    match status[24..]
        .iter()
        .enumerate()
        .position(|(k, &b)| b != filler(seed, k + 24))
    {
        Some(k) => Err(format!("byte {} of {len} differs (seed {seed})", k + 24)),
        None => Ok(seed),
    }
}

/// A small xorshift generator for sizes and delays.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A fresh [`Snapshot`] of `board` (`Scoreboard::read_into` into a new one).
pub fn snapshot(board: &Scoreboard) -> parallel_scoreboard::Result<Snapshot> {
    let mut snap = Snapshot::default();
    board.read_into(&mut snap)?;
    Ok(snap)
}

/// `e`'s message and those of its causes, joined by `: ` (as anyhow's `{:#}`
/// prints them): the library's `Display` leaves the OS error to `source()`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}
