//! The model `ops_model` checks the boards against: who holds each live id,
//! its latest status and update count, and what reads must therefore return.

use std::collections::BTreeMap;

use parallel_scoreboard::{Scoreboard, Worker};

/// Who holds a live id.
#[derive(Debug)]
pub(super) enum Owner {
    Worker(Worker),
    /// The listing board's own slot.
    Board,
}

/// A live id in the model.
#[derive(Debug)]
pub(super) struct Live {
    pub(super) owner: Owner,
    pub(super) status: Option<Vec<u8>>,
    pub(super) updates: u64,
}

/// `Op::Snapshot`: sorted by id, the model's statuses and update counts.
pub(super) fn check_snapshot(
    model: &BTreeMap<String, Live>,
    board: &Scoreboard,
    at: &dyn Fn() -> String,
) {
    let snap = snapshot(board).unwrap_or_else(|e| panic!("{}: {e}", at()));
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
pub(super) fn expected(model: &BTreeMap<String, Live>) -> BTreeMap<String, Vec<u8>> {
    model
        .iter()
        .filter_map(|(id, live)| Some((id.clone(), live.status.clone()?)))
        .collect()
}

/// The id of the live `Worker` number `slot`, modulo their number.
pub(super) fn nth_worker_id(model: &BTreeMap<String, Live>, slot: u8) -> Option<String> {
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
pub(super) fn nth_worker(model: &mut BTreeMap<String, Live>, slot: u8) -> Option<&mut Live> {
    let id = nth_worker_id(model, slot)?;
    model.get_mut(&id)
}

/// A fresh snapshot of `board` (`Scoreboard::read_into` into a new one).
fn snapshot(board: &Scoreboard) -> parallel_scoreboard::Result<parallel_scoreboard::Snapshot> {
    let mut snap = parallel_scoreboard::Snapshot::default();
    board.read_into(&mut snap)?;
    Ok(snap)
}
