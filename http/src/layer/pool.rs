//! The pool of slots, and the guard a request holds its slot with.
//!
//! The rules, in the order the code follows them:
//! 1. A request takes the idle slot given back last; when none is idle it
//!    makes a new one, numbered with the smallest number no slot has (so the
//!    pool grows to the peak of concurrent requests and its names stay
//!    `prefix1..prefixN`). A number a live worker of another process already
//!    holds on the board is skipped.
//! 2. A slot holds a descriptor and a mapping, which the application needs
//!    more: no new slot is made while the pool has `max_slots` (by default
//!    an eighth of the soft `RLIMIT_NOFILE`), nor when the process would
//!    then have less than a quarter of that limit free (checked each time a
//!    slot is to be made, never on a request that reuses one), nor when
//!    making it fails (`EMFILE`, `ENFILE`, no space, no mapping). The request
//!    is then served all the same, without a slot, and counted as unrecorded.
//!    After such a refusal (not one for `max_slots`) descriptors are scarce:
//!    for the next `SCARCE_NS` no slot is made and none is counted for (so
//!    that a process short of descriptors does not list them for every
//!    request), and slots given back are released rather than kept idle, so
//!    their descriptors go back to the application.
//! 3. The slot given back last waits in a cell of its own (`hot`), taken
//!    and given back with one atomic swap each: a server whose requests come
//!    one after another never takes the lock. The pool's lock is held only
//!    to pop or push the other idle slots, never while a worker's file is
//!    made or removed, and never across an await: a slot is owned by its
//!    request between the two.
//! 4. A slot given back stays on the board, idle, unless `max_idle` slots
//!    already are: then its worker is dropped (which removes its file) and
//!    only afterwards its number becomes free again, so a new slot with that
//!    number never finds the old file still held.
//! 5. The guard of a request ([`InFlight`]) writes the idle status and gives
//!    the slot back in `Drop`, so a request dropped at any point (a client
//!    hanging up, a timeout, a panic) leaves its slot idle and back in the
//!    pool.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_utils::atomic::AtomicCell;
use http::{Extensions, Method, Request};
use parallel_scoreboard::{ErrorKind, Scoreboard, Stamp, Worker};

use super::status::{self, Busy, Ended, Outcome};
use crate::sys;

/// How many numbers held by other processes a new slot skips before the
/// request goes without a slot.
const MAX_SKIPS: usize = 64;

/// Where a request's peer address is found in its extensions.
pub(crate) type ClientFn = fn(&Extensions) -> Option<SocketAddr>;

/// The settings of a pool.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) prefix: String,
    pub(crate) max_idle: usize,
    /// `None`: an eighth of the soft `RLIMIT_NOFILE` (rule 2).
    pub(crate) max_slots: Option<usize>,
    /// Requests timed to the nanosecond rather than to a clock tick.
    pub(crate) precise: bool,
    pub(crate) client: ClientFn,
}

/// The share of the descriptor limit slots may hold at most: one in
/// `SLOT_SHARE`.
const SLOT_SHARE: u64 = 8;
/// The share of the descriptor limit left free for the application: no slot
/// is made that would leave fewer than one in `RESERVE_SHARE` free.
const RESERVE_SHARE: u64 = 4;
/// How long descriptors count as scarce after a slot was refused for want of
/// them (rule 2).
const SCARCE: Duration = Duration::from_millis(100);

/// Whether a new slot may be made (rule 2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Room {
    Yes,
    /// The slots hold their share of the descriptor limit.
    Cap,
    /// The process would be left less than its share.
    Scarce,
}

/// One slot: a worker of the board and what it has done so far.
struct Slot {
    worker: Worker,
    number: usize,
    requests: u64,
    /// The status being written; reused, so it stops allocating once grown.
    buf: Vec<u8>,
    /// The request that holds the slot, or held it last. Kept in the slot's
    /// box, not in the guard: the guard moves with the response through the
    /// futures and bodies of the service, and stays two words.
    now: Current,
}

/// What is known of the request a slot shows.
struct Current {
    /// When it started.
    started: Stamp,
    code: Option<u16>,
    grpc: Option<u32>,
    head: bool,
    outcome: Outcome,
}

impl Current {
    /// A request that started at `started`, with no response yet.
    fn new(started: Stamp, head: bool) -> Self {
        Self {
            started,
            code: None,
            grpc: None,
            head,
            outcome: Outcome::Cancelled,
        }
    }
}

/// What the lock guards. Slots are boxed: a request moves its slot in and
/// out of the pool and through its futures, and a `Worker` is large.
#[derive(Default)]
struct Free {
    // The boxes are what moves, not the `Vec`'s storage.
    #[allow(clippy::vec_box)]
    idle: Vec<Box<Slot>>,
    /// The numbers made so far: `1..=made`.
    made: usize,
    /// Slots that exist (idle or in use), and slots being made.
    live: usize,
    /// Numbers below `made` whose slots were released.
    spare: BinaryHeap<Reverse<usize>>,
}

/// The slots of one layer (shared by every service it made).
pub(crate) struct Pool {
    board: Arc<Scoreboard>,
    config: Config,
    /// The idle slot given back last (rule 3); counted with the idle ones.
    hot: AtomicCell<Option<Box<Slot>>>,
    free: Mutex<Free>,
    /// Requests served without a slot (rule 2).
    unrecorded: AtomicU64,
    /// Until when descriptors count as scarce (rule 2), in ns since
    /// `epoch`; 0 while they are not.
    scarce_until: AtomicU64,
    /// The origin of `scarce_until`: when the pool was made.
    epoch: Instant,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let free = self.lock_all();
        f.debug_struct("Pool")
            .field("board", &self.board.base_dir())
            .field("prefix", &self.config.prefix)
            .field("max_idle", &self.config.max_idle)
            .field("idle", &free.idle.len())
            .field("live", &free.live)
            .field("unrecorded", &self.unrecorded())
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(board: Arc<Scoreboard>, config: Config) -> Self {
        Self {
            board,
            config,
            hot: AtomicCell::new(None),
            free: Mutex::new(Free::default()),
            unrecorded: AtomicU64::new(0),
            scarce_until: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Now on the monotonic clock: to a tick (the clock updates read anyway,
    /// a few ns), or to the nanosecond if the layer was asked to (about four
    /// times as long).
    #[inline]
    fn now(&self) -> Stamp {
        if self.config.precise {
            Stamp::precise_now()
        } else {
            Stamp::now()
        }
    }

    /// Requests served without a slot so far.
    pub(crate) fn unrecorded(&self) -> u64 {
        // A statistic: no other memory is read through it.
        self.unrecorded.load(Ordering::Relaxed)
    }

    /// Slots that exist now (idle or in use), and idle ones.
    pub(crate) fn slots(&self) -> (usize, usize) {
        let free = self.lock_all();
        (free.live, free.idle.len())
    }

    fn lock(&self) -> MutexGuard<'_, Free> {
        // The lock guards plain pushes and pops: a panic cannot leave it
        // half-done, so a poisoned lock is still consistent.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock, with the hot slot moved under it (on top: it is the one
    /// given back last), so that every idle slot is counted.
    fn lock_all(&self) -> MutexGuard<'_, Free> {
        let mut free = self.lock();
        if let Some(slot) = self.hot.take() {
            free.idle.push(slot);
        }
        free
    }

    /// Rules 1 and 2: an idle slot, or a new one; `None` when none may or
    /// can be made (the request then runs without a slot, counted).
    fn take(&self) -> Option<Box<Slot>> {
        let slot = self.take_or_make();
        if slot.is_none() {
            self.unrecorded.fetch_add(1, Ordering::Relaxed);
        }
        slot
    }

    fn take_or_make(&self) -> Option<Box<Slot>> {
        if let Some(slot) = self.hot.take() {
            return Some(slot);
        }
        let mut number = {
            let mut free = self.lock();
            if let Some(slot) = free.idle.pop() {
                return Some(slot);
            }
            if self.config.max_slots.is_some_and(|max| free.live >= max) || self.scarce() {
                return None;
            }
            free.live += 1;
            if let Some(Reverse(n)) = free.spare.pop() {
                n
            } else {
                free.made += 1;
                free.made
            }
        };
        // Rule 3: the descriptors are counted and the worker's file made
        // without the lock.
        let room = self.room();
        if room == Room::Yes {
            for _ in 0..MAX_SKIPS {
                let id = format!("{}{number}", self.config.prefix);
                match self.board.worker_with_id(id) {
                    Ok(worker) => {
                        // A statistic of its own: orders nothing else.
                        self.scarce_until.store(0, Ordering::Relaxed);
                        return Some(Box::new(Slot {
                            worker,
                            number,
                            requests: 0,
                            buf: Vec::with_capacity(256),
                            now: Current::new(Stamp::now(), false),
                        }));
                    }
                    Err(e) if e.kind() == ErrorKind::DuplicateId => {
                        // Held by another process: skip it for good.
                        let mut free = self.lock();
                        free.made += 1;
                        number = free.made;
                    }
                    Err(_) => {
                        self.set_scarce();
                        break;
                    }
                }
            }
        } else if room == Room::Scarce {
            self.set_scarce();
        }
        let mut free = self.lock();
        free.live -= 1;
        free.spare.push(Reverse(number));
        None
    }

    /// Rule 2: whether one more slot keeps the slots within their share of
    /// the descriptor limit (by default) and leaves the process its share.
    fn room(&self) -> Room {
        let Ok((limit, open)) = sys::descriptors() else {
            // Not known (no /proc): making the slot will say.
            return Room::Yes;
        };
        if self.config.max_slots.is_none() {
            let live = self.lock().live as u64;
            if live > (limit / SLOT_SHARE).max(1) {
                return Room::Cap;
            }
        }
        if open as u64 + 1 > limit - limit / RESERVE_SHARE {
            return Room::Scarce;
        }
        Room::Yes
    }

    /// Whether descriptors are scarce now (rule 2).
    fn scarce(&self) -> bool {
        let until = self.scarce_until.load(Ordering::Relaxed);
        until != 0 && self.since_epoch_ns() < until
    }

    /// Descriptors are scarce from now on, for a while (rule 2).
    fn set_scarce(&self) {
        let until = self
            .since_epoch_ns()
            .saturating_add(SCARCE.as_nanos() as u64)
            .max(1);
        self.scarce_until.store(until, Ordering::Relaxed);
    }

    /// Now, in ns since the pool was made (monotonic: `Instant`). Read only
    /// when a slot is to be made or descriptors are scarce, never on a
    /// request that reuses a slot.
    fn since_epoch_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Rule 4: keeps `slot` idle on the board, or releases it (also while
    /// descriptors are scarce, rule 2).
    fn give_back(&self, slot: Box<Slot>) {
        // Relaxed: a hint; a stale value keeps or releases one slot more.
        if self.config.max_idle == 0 || self.scarce_until.load(Ordering::Relaxed) != 0 {
            return self.release(slot);
        }
        // Rule 3: into the cell; the slot it held (given back earlier, by a
        // request that ran beside this one) goes on top of the others.
        let Some(earlier) = self.hot.swap(Some(slot)) else {
            return;
        };
        let mut free = self.lock();
        // The hot slot is one of the `max_idle`.
        if free.idle.len() + 1 < self.config.max_idle {
            free.idle.push(earlier);
            return;
        }
        drop(free);
        self.release(earlier);
    }

    /// Drops `slot` (which removes its worker's file), then frees its number
    /// (rule 4).
    fn release(&self, slot: Box<Slot>) {
        let number = slot.number;
        drop(slot);
        let mut free = self.lock();
        free.live -= 1;
        free.spare.push(Reverse(number));
    }
}

/// A request's hold on its slot (rule 5): the slot shows the request busy
/// from [`InFlight::start`] and idle once this is dropped.
pub(crate) struct InFlight {
    pool: Arc<Pool>,
    /// `None` only once `drop` has given it back.
    slot: Option<Box<Slot>>,
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("InFlight");
        if let Some(slot) = &self.slot {
            d.field("slot", &slot.worker.id())
                .field("code", &slot.now.code)
                .field("grpc", &slot.now.grpc)
                .field("outcome", &slot.now.outcome);
        }
        d.finish_non_exhaustive()
    }
}

impl InFlight {
    /// Takes a slot for `request` and shows it busy.
    pub(crate) fn start<B>(pool: &Arc<Pool>, request: &Request<B>) -> Option<Self> {
        let mut slot = pool.take()?;
        slot.requests += 1;
        status::busy(
            &mut slot.buf,
            &Busy {
                method: request.method().as_str(),
                path: request.uri().path(),
                client: (pool.config.client)(request.extensions()),
                requests: slot.requests,
            },
        );
        // One clock read starts the request's time and stamps its update. A status
        // that cannot be published is not worth failing the request for (the
        // previous one stays published).
        let started = pool.now();
        let _ = slot.worker.update_stamped(&slot.buf, started);
        slot.now = Current::new(started, request.method() == Method::HEAD);
        Some(Self {
            pool: Arc::clone(pool),
            slot: Some(slot),
        })
    }

    fn now(&mut self) -> &mut Current {
        // Some until `drop`.
        &mut self.slot.as_mut().expect("a slot until dropped").now
    }

    /// The service answered with `code`; the body is still to be sent.
    /// Returns whether the response has no body to wait for (a HEAD request's
    /// body is never sent).
    pub(crate) fn responded(&mut self, code: u16) -> bool {
        let now = self.now();
        now.code = Some(code);
        now.outcome = Outcome::Aborted;
        now.head
    }

    /// Sets how the request ends when this is dropped.
    pub(crate) fn end(&mut self, outcome: Outcome) {
        self.now().outcome = outcome;
    }

    /// Records the gRPC status in `headers` (the response's, or its
    /// trailers), if they carry one.
    pub(crate) fn grpc_status_in(&mut self, headers: &http::HeaderMap) {
        if let Some(grpc) = status::grpc_status(headers) {
            self.now().grpc = Some(grpc);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let Some(mut slot) = self.slot.take() else {
            return;
        };
        let ended = self.pool.now();
        let Current {
            started,
            code,
            grpc,
            outcome,
            ..
        } = slot.now;
        status::idle(
            &mut slot.buf,
            &Ended {
                requests: slot.requests,
                code,
                grpc,
                took: ended.saturating_duration_since(started),
                outcome,
                unrecorded: self.pool.unrecorded(),
            },
        );
        // As in `start`: an unpublished status is not worth a panic in drop.
        let _ = slot.worker.update_stamped(&slot.buf, ended);
        self.pool.give_back(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(board: &Arc<Scoreboard>, max_slots: Option<usize>) -> Arc<Pool> {
        let config = Config {
            prefix: "t-".to_owned(),
            max_idle: 8,
            max_slots,
            precise: false,
            client: |_| None,
        };
        Arc::new(Pool::new(Arc::clone(board), config))
    }

    #[test]
    fn a_request_s_guard_is_two_words() {
        // It moves with the response through the service's futures and body.
        assert_eq!(
            std::mem::size_of::<Option<InFlight>>(),
            2 * std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn the_hot_slot_is_swapped_without_a_lock() {
        assert!(AtomicCell::<Option<Box<Slot>>>::is_lock_free());
    }

    #[test]
    fn beyond_max_slots_requests_go_unrecorded_and_slots_are_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let board = Arc::new(Scoreboard::open(tmp.path()).unwrap());
        let pool = pool(&board, Some(1));
        let request = Request::get("/").body(()).unwrap();
        let first = InFlight::start(&pool, &request);
        assert!(first.is_some());
        assert!(InFlight::start(&pool, &request).is_none());
        assert_eq!((pool.slots(), pool.unrecorded()), ((1, 0), 1));
        drop(first);
        assert_eq!(pool.slots(), (1, 1));
        let again = InFlight::start(&pool, &request);
        assert!(again.is_some());
        drop(again);
        assert_eq!((pool.slots(), pool.unrecorded()), ((1, 1), 1));
        let status = String::from_utf8(board.read_all().unwrap()["t-1"].clone()).unwrap();
        assert!(status.ends_with(r#","unrecorded":1}"#), "{status}");
    }

    #[test]
    fn by_default_slots_are_made_while_descriptors_are_plentiful() {
        let tmp = tempfile::tempdir().unwrap();
        let board = Arc::new(Scoreboard::open(tmp.path()).unwrap());
        let pool = pool(&board, None);
        let request = Request::get("/").body(()).unwrap();
        let held: Vec<_> = (0..4).map(|_| InFlight::start(&pool, &request)).collect();
        assert!(held.iter().all(Option::is_some));
        assert_eq!((pool.slots(), pool.unrecorded()), ((4, 0), 0));
    }
}
