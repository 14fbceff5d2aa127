//! The pool of slots, and the guard a request holds its slot with.
//!
//! The rules, in the order the code follows them:
//! 1. A request takes the idle slot given back last; when none is idle it
//!    makes a new one, numbered with the smallest number no slot has (so the
//!    pool grows to the peak of concurrent requests and its names stay
//!    `prefix1..prefixN`). A number a live worker of another process already
//!    holds on the board is skipped.
//! 2. The pool's lock is held only to pop or push a slot, never while a
//!    worker's file is made or removed, and never across an await: a slot is
//!    owned by its request between the two.
//! 3. A slot given back stays on the board, idle, unless `max_idle` slots
//!    already are: then its worker is dropped (which removes its file) and
//!    only afterwards its number becomes free again, so a new slot with that
//!    number never finds the old file still held.
//! 4. The guard of a request ([`InFlight`]) writes the idle status and gives
//!    the slot back in `Drop`, so a request dropped at any point (a client
//!    hanging up, a timeout, a panic) leaves its slot idle and back in the
//!    pool.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use http::{Extensions, Method, Request};

use super::status::{self, Busy, Ended, Outcome};
use crate::board::Scoreboard;
use crate::error::ErrorKind;
use crate::worker::Worker;

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
    pub(crate) client: ClientFn,
}

/// One slot: a worker of the board and what it has done so far.
struct Slot {
    worker: Worker,
    number: usize,
    requests: u64,
    /// The status being written; reused, so it stops allocating once grown.
    buf: Vec<u8>,
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
    /// Numbers below `made` whose slots were released.
    spare: BinaryHeap<Reverse<usize>>,
}

/// The slots of one layer (shared by every service it made).
pub(crate) struct Pool {
    board: Arc<Scoreboard>,
    pub(crate) config: Config,
    free: Mutex<Free>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let free = self.lock();
        f.debug_struct("Pool")
            .field("board", &self.board.base_dir())
            .field("prefix", &self.config.prefix)
            .field("max_idle", &self.config.max_idle)
            .field("idle", &free.idle.len())
            .field("made", &free.made)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(board: Arc<Scoreboard>, config: Config) -> Self {
        Self {
            board,
            config,
            free: Mutex::new(Free::default()),
        }
    }

    pub(crate) fn board(&self) -> &Arc<Scoreboard> {
        &self.board
    }

    fn lock(&self) -> MutexGuard<'_, Free> {
        // The lock guards plain pushes and pops: a panic cannot leave it
        // half-done, so a poisoned lock is still consistent.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Step 1: an idle slot, or a new one; `None` when no worker can be made
    /// (the request then runs without a slot).
    fn take(&self) -> Option<Box<Slot>> {
        let mut number = {
            let mut free = self.lock();
            if let Some(slot) = free.idle.pop() {
                return Some(slot);
            }
            if let Some(Reverse(n)) = free.spare.pop() {
                n
            } else {
                free.made += 1;
                free.made
            }
        };
        // Step 2: the worker's file is made without the lock.
        for _ in 0..MAX_SKIPS {
            let id = format!("{}{number}", self.config.prefix);
            match self.board.worker_with_id(id) {
                Ok(worker) => {
                    return Some(Box::new(Slot {
                        worker,
                        number,
                        requests: 0,
                        buf: Vec::with_capacity(256),
                    }));
                }
                Err(e) if e.kind() == ErrorKind::DuplicateId => {
                    // Held by another process: skip it for good.
                    let mut free = self.lock();
                    free.made += 1;
                    number = free.made;
                }
                Err(_) => break,
            }
        }
        self.lock().spare.push(Reverse(number));
        None
    }

    /// Step 3: keeps `slot` idle on the board, or releases it.
    fn give_back(&self, slot: Box<Slot>) {
        let mut free = self.lock();
        if free.idle.len() < self.config.max_idle {
            free.idle.push(slot);
            return;
        }
        drop(free);
        let number = slot.number;
        drop(slot);
        self.lock().spare.push(Reverse(number));
    }
}

/// A request's hold on its slot (step 4): the slot shows the request busy
/// from [`InFlight::start`] and idle once this is dropped.
pub(crate) struct InFlight {
    pool: Arc<Pool>,
    slot: Option<Box<Slot>>,
    started: Instant,
    code: Option<u16>,
    grpc: Option<u32>,
    head: bool,
    outcome: Outcome,
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight")
            .field("slot", &self.slot.as_ref().map(|s| s.worker.id()))
            .field("code", &self.code)
            .field("grpc", &self.grpc)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
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
        // A status that cannot be published is not worth failing the request
        // for (the previous one stays published).
        let _ = slot.worker.update(&slot.buf);
        Some(Self {
            pool: Arc::clone(pool),
            slot: Some(slot),
            started: Instant::now(),
            code: None,
            grpc: None,
            head: request.method() == Method::HEAD,
            outcome: Outcome::Cancelled,
        })
    }

    /// The service answered with `code`; the body is still to be sent.
    /// Returns whether the response has no body to wait for (a HEAD request's
    /// body is never sent).
    pub(crate) fn responded(&mut self, code: u16) -> bool {
        self.code = Some(code);
        self.outcome = Outcome::Aborted;
        self.head
    }

    /// Sets how the request ends when this is dropped.
    pub(crate) fn end(&mut self, outcome: Outcome) {
        self.outcome = outcome;
    }

    /// Records the gRPC status in `headers` (the response's, or its
    /// trailers), if they carry one.
    pub(crate) fn grpc_status_in(&mut self, headers: &http::HeaderMap) {
        if let Some(grpc) = status::grpc_status(headers) {
            self.grpc = Some(grpc);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let Some(mut slot) = self.slot.take() else {
            return;
        };
        status::idle(
            &mut slot.buf,
            &Ended {
                requests: slot.requests,
                code: self.code,
                grpc: self.grpc,
                took: self.started.elapsed(),
                outcome: self.outcome,
            },
        );
        // As in `start`: an unpublished status is not worth a panic in drop.
        let _ = slot.worker.update(&slot.buf);
        self.pool.give_back(slot);
    }
}
