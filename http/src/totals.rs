//! Board-wide request and update totals that never go down while one
//! monitor keeps reading: the counts of workers that left stay in them.
//!
//! A worker is known by its id, pid and start time, so a worker replaced
//! under the same id is a new one. At each read:
//! 1. a worker seen before adds the growth of its counters; one whose
//!    counter went down (it reset it) has its last count kept as departed;
//! 2. a worker seen for the first time adds all of its counts;
//! 3. a worker seen at the previous read and not at this one (it left, or
//!    was replaced) has its last counts moved to the departed total, and is
//!    remembered among the last [`GONE_KEPT`] departed, so that a worker a
//!    read missed and the next one sees again is not counted twice.
//!
//! Memory is one entry per worker of the latest read plus [`GONE_KEPT`].
//! Requests a worker made after the last read that saw it are not counted:
//! the totals are as fine as the reads.

use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;

use super::Record;
use super::summary::Fields;

/// How many departed workers are remembered (see the module docs, step 3).
const GONE_KEPT: usize = 4096;

/// A worker's identity: id, pid, start.
type Identity = (String, Option<u32>, SystemTime);

/// The totals kept across the reads of one monitor; see
/// [`Totals::observe`].
///
/// # Examples
/// ```
/// # use std::time::{Duration, UNIX_EPOCH};
/// use parallel_scoreboard_http::{Record, Totals};
/// let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let worker = |pid: u32, requests: u64| Record {
///     id: "w1".into(),
///     status: format!(r#"{{"state":"idle","requests":{requests}}}"#).into_bytes(),
///     pid: Some(pid),
///     updates: Some(requests),
///     updated_at: t0,
///     started_at: t0 + Duration::from_secs(u64::from(pid)),
/// };
/// let mut totals = Totals::new();
/// assert_eq!(totals.observe(&[worker(1, 1000)]).requests, Some(1000));
/// // Replaced by a new worker under the same id: its requests add up.
/// let tally = totals.observe(&[worker(2, 5)]);
/// assert_eq!(tally.requests, Some(1005));
/// assert_eq!(tally.since, Some(t0 + Duration::from_secs(1)));
/// ```
#[derive(Debug, Default)]
pub struct Totals {
    /// The workers of the latest read.
    live: HashMap<Identity, Seen>,
    /// The departed workers remembered, with what of theirs is in the
    /// departed totals.
    gone: HashMap<Identity, Counts>,
    /// The order they departed in, oldest first (with, at times, some
    /// already seen again).
    gone_order: VecDeque<Identity>,
    /// Counts of workers no longer live.
    departed: Counts,
    /// Whether any status ever carried a request counter.
    any_requests: bool,
    /// Whether any worker's update count was ever known.
    any_updates: bool,
    /// The earliest start of a worker counted.
    since: Option<SystemTime>,
}

/// Request and update counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    requests: u64,
    updates: u64,
}

/// A live worker's counters at the latest read, and how much of them is
/// already in the departed totals (a worker seen again after a read missed
/// it).
#[derive(Clone, Copy, Debug)]
struct Seen {
    last: Counts,
    credited: Counts,
}

/// The totals at one read, from [`Totals::observe`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tally {
    /// Requests counted by every worker seen so far, departed ones
    /// included; `None` while no status has carried a request counter.
    pub requests: Option<u64>,
    /// Updates made by every worker seen so far, where known.
    pub updates: Option<u64>,
    /// When the earliest-started worker seen so far started: the counts
    /// above were all made since.
    pub since: Option<SystemTime>,
}

impl Totals {
    /// No reads yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in the records of a read (see the module docs) and returns the
    /// totals now. They never go down from one call to the next.
    pub fn observe(&mut self, records: &[Record]) -> Tally {
        let mut live = HashMap::with_capacity(records.len());
        for r in records {
            let requests = Fields::of(&r.status).requests;
            self.any_requests |= requests.is_some();
            self.any_updates |= r.updates.is_some();
            let now = Counts {
                requests: requests.unwrap_or(0),
                updates: r.updates.unwrap_or(0),
            };
            let identity = (r.id.clone(), r.pid, r.started_at);
            let seen = match self.live.remove(&identity) {
                Some(mut seen) => {
                    // Step 1: a counter that went down was reset.
                    if now.requests < seen.last.requests {
                        self.departed.requests += seen.last.requests - seen.credited.requests;
                        seen.credited.requests = 0;
                    }
                    if now.updates < seen.last.updates {
                        self.departed.updates += seen.last.updates - seen.credited.updates;
                        seen.credited.updates = 0;
                    }
                    seen.last = now;
                    seen
                }
                // Step 2, or a departed worker seen again.
                None => Seen {
                    last: now,
                    credited: self.take_gone(&identity),
                },
            };
            self.since = Some(self.since.map_or(r.started_at, |s| s.min(r.started_at)));
            live.insert(identity, seen);
        }
        // Step 3.
        for (identity, seen) in std::mem::replace(&mut self.live, live) {
            let left = Counts {
                requests: seen.last.requests.saturating_sub(seen.credited.requests),
                updates: seen.last.updates.saturating_sub(seen.credited.updates),
            };
            self.departed.requests = self.departed.requests.saturating_add(left.requests);
            self.departed.updates = self.departed.updates.saturating_add(left.updates);
            if self.gone_order.len() == GONE_KEPT
                && let Some(oldest) = self.gone_order.pop_front()
            {
                self.gone.remove(&oldest);
            }
            let credited = Counts {
                requests: seen.credited.requests + left.requests,
                updates: seen.credited.updates + left.updates,
            };
            self.gone_order.push_back(identity.clone());
            self.gone.insert(identity, credited);
        }
        let mut total = self.departed;
        for seen in self.live.values() {
            total.requests = total
                .requests
                .saturating_add(seen.last.requests.saturating_sub(seen.credited.requests));
            total.updates = total
                .updates
                .saturating_add(seen.last.updates.saturating_sub(seen.credited.updates));
        }
        Tally {
            requests: self.any_requests.then_some(total.requests),
            updates: self.any_updates.then_some(total.updates),
            since: self.since,
        }
    }

    /// What of a departed worker seen again is in the departed totals.
    fn take_gone(&mut self, identity: &Identity) -> Counts {
        self.gone.remove(identity).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::record;
    use std::time::{Duration, UNIX_EPOCH};

    fn worker(id: &str, pid: u32, requests: u64) -> Record {
        let mut r = record(id, format!(r#"{{"requests":{requests}}}"#).as_bytes());
        r.pid = Some(pid);
        r.updates = Some(requests * 2);
        r.started_at = UNIX_EPOCH + Duration::from_secs(u64::from(pid));
        r
    }

    #[test]
    fn departed_workers_stay_counted() {
        let mut t = Totals::new();
        let a = t.observe(&[worker("a", 1, 600_000), worker("b", 2, 400_000)]);
        assert_eq!(a.requests, Some(1_000_000));
        assert_eq!(a.updates, Some(2_000_000));
        // `b` replaced by a new process under its id.
        let b = t.observe(&[worker("a", 1, 600_010), worker("b", 3, 0)]);
        assert_eq!(b.requests, Some(1_000_010));
        // `a` gone, `b` counting.
        let c = t.observe(&[worker("b", 3, 7)]);
        assert_eq!(c.requests, Some(1_000_017));
        assert_eq!(c.since, Some(UNIX_EPOCH + Duration::from_secs(1)));
        // Nobody left.
        assert_eq!(t.observe(&[]).requests, Some(1_000_017));
    }

    #[test]
    fn never_down_through_resets_and_missed_reads() {
        let mut t = Totals::new();
        let mut last = 0;
        let reads: [&[Record]; 6] = [
            &[worker("a", 1, 10)],
            // A read that missed `a`, then `a` again with more.
            &[],
            &[worker("a", 1, 15)],
            // `a` reset its counter.
            &[worker("a", 1, 2)],
            &[worker("a", 1, 4)],
            &[worker("a", 1, 4), worker("x", 9, 1)],
        ];
        let expected = [10, 10, 15, 17, 19, 20];
        for (records, want) in reads.iter().zip(expected) {
            let n = t.observe(records).requests.unwrap();
            assert!(n >= last, "{n} after {last}");
            assert_eq!(n, want);
            last = n;
        }
        assert!(t.gone_order.len() <= GONE_KEPT);
    }

    #[test]
    fn unknown_counts_stay_unknown() {
        let mut t = Totals::new();
        let plain = record("p", b"idle");
        let tally = t.observe(&[plain]);
        assert_eq!(tally.requests, None);
        assert!(tally.updates.is_some());
    }

    #[test]
    fn memory_is_bounded() {
        let mut t = Totals::new();
        for pid in 0..(GONE_KEPT as u32 + 100) {
            t.observe(&[worker("w", pid, 1)]);
        }
        assert_eq!((t.gone.len(), t.gone_order.len()), (GONE_KEPT, GONE_KEPT));
        assert_eq!(t.live.len(), 1);
        assert_eq!(
            t.observe(&[]).requests,
            Some(u64::from(GONE_KEPT as u32 + 100))
        );
    }
}
