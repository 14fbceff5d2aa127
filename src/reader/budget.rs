//! The process's mapping budget, shared by every reader of every board.
//!
//! A process may have only `vm.max_map_count` mappings, and once it has them
//! all every `mmap` fails, the allocator's included, which aborts the
//! process. Readers keep mappings between reads, so the mappings they may
//! keep are counted for the whole process, whatever the number of boards (or
//! of boards on one directory): [`take`] one before keeping a mapping,
//! [`give`] it back when the mapping goes. The budget is worked out once, on
//! the first [`take`] ([`auto_budget`]): `vm.max_map_count` less the
//! mappings the process has then, less a quarter left for everything else.
//!
//! Both words are counters, not guards of other data: every access is
//! Relaxed. A fork child inherits the count along with the mappings it
//! counts (a reader it leaks keeps its share; one it drops gives it back).

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::sys;

/// [`LIMIT`] before it is worked out.
const UNKNOWN: usize = usize::MAX;

/// The most mappings all readers together may keep.
static LIMIT: AtomicUsize = AtomicUsize::new(UNKNOWN);

/// The mappings readers keep now.
static KEPT: AtomicUsize = AtomicUsize::new(0);

/// The process's budget, worked out on first use.
fn limit() -> usize {
    let limit = LIMIT.load(Ordering::Relaxed);
    if limit != UNKNOWN {
        return limit;
    }
    // Two threads may both work it out: the first to store it wins.
    let mine = auto_budget();
    match LIMIT.compare_exchange(UNKNOWN, mine, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => mine,
        Err(theirs) => theirs,
    }
}

/// Takes one mapping from the budget; false when none is left.
pub(super) fn take() -> bool {
    let limit = limit();
    KEPT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |kept| {
        (kept < limit).then_some(kept + 1)
    })
    .is_ok()
}

/// Gives back `n` mappings taken with [`take`].
pub(super) fn give(n: usize) {
    if n > 0 {
        KEPT.fetch_sub(n, Ordering::Relaxed);
    }
}

/// A mapping failed for want of memory: no reader keeps more than are kept
/// now, from now on.
pub(super) fn exhausted() {
    LIMIT.fetch_min(KEPT.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// The budget: a quarter of `vm.max_map_count` is left for everything else
/// (the allocator, thread stacks, the mappings made for one copy), and the
/// mappings the process has already are not counted twice.
pub(super) fn auto_budget() -> usize {
    let max = sys::max_map_count().unwrap_or(65_530);
    let have = sys::mapping_count().unwrap_or(0);
    max.saturating_sub(have).saturating_sub(max / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_automatic_budget_leaves_a_quarter_and_what_the_process_has() {
        let max = sys::max_map_count().unwrap();
        let have = sys::mapping_count().unwrap();
        assert!(have > 0, "a process has mappings");
        let budget = auto_budget();
        assert!(budget > 0, "{budget} of {max} with {have} in use");
        assert!(budget <= max - max / 4 - have + 64, "{budget} of {max}");
    }
}
