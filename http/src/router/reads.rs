//! Reads of the board shared by the requests that wait for them: one read at
//! a time (single flight), each rendering of a read made once, and a bound on
//! the reads kept in memory at once.
//!
//! The rules, in order:
//! 1. A request notes how many reads have been published, then waits for the
//!    gate (one read runs at a time).
//! 2. With the gate, if a read was published since step 1 (it ran while the
//!    request waited), the request takes that one; otherwise it reads.
//! 3. A read first takes a place among [`KEPT`] (each [`Reading`] holds one
//!    until dropped), so that readings held by slow clients bound memory
//!    instead of multiplying it; then it runs on a blocking thread.
//! 4. The read's records are added to the board-wide totals (which keep the
//!    counts of departed workers, [`Totals`]), and the read is published
//!    with them; the reading before it is let go once its last client is
//!    answered.
//!
//! Steps 1-4 run in a task of their own, so a request that goes away cannot
//! cut a read short and let the next one start beside it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use axum::body::Bytes;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use super::ReadFn;
use crate::{Record, Tally, Totals};

/// How many readings may be alive at once: the latest, one being made and
/// two more still being sent to clients.
pub(crate) const KEPT: usize = 4;

/// How many renderings of one reading are kept (a page per `refresh` value,
/// say); more are made for each request.
const BODIES_KEPT: usize = 16;

/// One read of the board.
#[derive(Debug)]
pub(crate) struct Reading {
    /// The live workers, sorted by id.
    pub(crate) records: Vec<Record>,
    /// When the read ended (the renderers' "now").
    pub(crate) at: SystemTime,
    /// The board-wide totals at this read.
    pub(crate) tally: Tally,
    _place: OwnedSemaphorePermit,
}

/// What requests are answered from: the latest reading and the renderings
/// made of it.
#[derive(Debug)]
pub(crate) struct Current {
    pub(crate) reading: Arc<Reading>,
    bodies: Mutex<HashMap<Rendering, Arc<OnceCell<Bytes>>>>,
}

/// A rendering of a reading, made once and shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Rendering {
    /// The HTML page with this refresh, and the hash of the path it links
    /// cut statuses to (a router nested at two places has two).
    Page(Option<u32>, u64),
    /// `/json`.
    Json,
    /// `/metrics`.
    Metrics,
    /// `/metrics` in `OpenMetrics`.
    OpenMetrics,
    /// `?auto`.
    Auto,
}

/// Why a read gave no records: unavailable (no directory at the path: a
/// 503) or failed (a 500), with a one-line reason.
#[derive(Clone, Debug)]
pub(crate) struct ReadError {
    pub(crate) unavailable: bool,
    pub(crate) reason: String,
}

type Outcome = Result<Arc<Current>, Arc<ReadError>>;

/// The shared state of the router's reads.
pub(crate) struct Reads {
    read: Arc<ReadFn>,
    /// Held while a read runs (step 1).
    gate: tokio::sync::Mutex<()>,
    /// Places for readings (step 3).
    places: Arc<Semaphore>,
    /// The totals across reads (step 4); taken only with the gate held.
    totals: Mutex<Totals>,
    published: Mutex<Published>,
}

#[derive(Default)]
struct Published {
    count: u64,
    latest: Option<Outcome>,
}

impl std::fmt::Debug for Reads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reads")
            .field("published", &self.published().count)
            .finish_non_exhaustive()
    }
}

impl Reads {
    pub(crate) fn new(read: Arc<ReadFn>) -> Self {
        Self {
            read,
            gate: tokio::sync::Mutex::new(()),
            places: Arc::new(Semaphore::new(KEPT)),
            totals: Mutex::new(Totals::new()),
            published: Mutex::new(Published::default()),
        }
    }

    /// A read that ended after this call began (or the one running when it
    /// began), shared with every request that waited for it.
    pub(crate) async fn fresh(self: &Arc<Self>) -> Outcome {
        let seen = self.published().count;
        let this = Arc::clone(self);
        tokio::spawn(async move { this.read_after(seen).await })
            .await
            .unwrap_or_else(|e| Err(Arc::new(ReadError::failed(&e))))
    }

    /// Steps 1-4 of the module docs.
    async fn read_after(&self, seen: u64) -> Outcome {
        let _gate = self.gate.lock().await;
        {
            let published = self.published();
            if published.count != seen
                && let Some(latest) = &published.latest
            {
                return latest.clone();
            }
        }
        let place = Arc::clone(&self.places)
            .acquire_owned()
            .await
            .map_err(|e| Arc::new(ReadError::failed(&e)))?;
        let read = Arc::clone(&self.read);
        let result = tokio::task::spawn_blocking(move || read()).await;
        let at = SystemTime::now();
        let result = result.map(|read| {
            read.map(|records| {
                let mut totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
                let tally = totals.observe(&records);
                (records, tally)
            })
        });
        let mut published = self.published();
        published.count += 1;
        let outcome = match result {
            Ok(Ok((records, tally))) => {
                let reading = Arc::new(Reading {
                    records,
                    at,
                    tally,
                    _place: place,
                });
                Ok(Arc::new(Current {
                    reading,
                    bodies: Mutex::new(HashMap::new()),
                }))
            }
            Ok(Err(e)) => Err(Arc::new(ReadError::from_chain(&*e))),
            Err(e) => Err(Arc::new(ReadError::failed(&e))),
        };
        // The reading before is let go here, or when its clients are answered (step 4).
        published.latest = Some(outcome.clone());
        outcome
    }

    fn published(&self) -> MutexGuard<'_, Published> {
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Current {
    /// `which` rendering of this reading: made by `render` on a blocking
    /// thread by the first request that asks, shared by the others.
    pub(crate) async fn body(
        self: &Arc<Self>,
        which: Rendering,
        render: impl FnOnce(&Self) -> String + Send + 'static,
    ) -> Result<Bytes, ReadError> {
        let cell = {
            let mut bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
            match bodies.get(&which) {
                Some(cell) => Arc::clone(cell),
                None if bodies.len() < BODIES_KEPT => Arc::clone(bodies.entry(which).or_default()),
                None => Arc::new(OnceCell::new()),
            }
        };
        let this = Arc::clone(self);
        cell.get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || Bytes::from(render(&this)))
                .await
                .map_err(|e| ReadError::failed(&e))
        })
        .await
        .cloned()
    }
}

impl ReadError {
    fn failed(e: &dyn std::error::Error) -> Self {
        Self {
            unavailable: false,
            reason: one_line(&e.to_string()),
        }
    }

    /// The error and its sources on one line; unavailable when one of them
    /// is an [`ErrorKind::Missing`](parallel_scoreboard::ErrorKind::Missing) or an
    /// [`std::io::ErrorKind::NotFound`].
    pub(crate) fn from_chain(e: &(dyn std::error::Error + 'static)) -> Self {
        let mut reason = e.to_string();
        let mut unavailable = false;
        let mut next = Some(e);
        while let Some(e) = next {
            let missing = e
                .downcast_ref::<parallel_scoreboard::Error>()
                .is_some_and(|e| e.kind() == parallel_scoreboard::ErrorKind::Missing)
                || e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound);
            unavailable |= missing;
            next = e.source();
            if let Some(source) = next {
                let text = source.to_string();
                // Errors that repeat their source's message need it once.
                if !reason.ends_with(&text) {
                    reason.push_str(": ");
                    reason.push_str(&text);
                }
            }
        }
        Self {
            unavailable,
            reason: one_line(&reason),
        }
    }
}

fn one_line(text: &str) -> String {
    text.split(['\r', '\n']).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn concurrent_requests_share_one_read() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let read: Arc<ReadFn> = Arc::new(move || {
            // Relaxed: a plain counter, read after every task has joined.
            let number = counted.fetch_add(1, Ordering::Relaxed) + 1;
            std::thread::sleep(Duration::from_millis(200));
            // The read's number, 1 for the first, as the status.
            let status = number.to_string();
            Ok(vec![crate::record::tests::record("a", status.as_bytes())])
        });
        let reads = Arc::new(Reads::new(read));
        let number = |c: &Current| -> u64 {
            String::from_utf8_lossy(&c.reading.records[0].status)
                .parse()
                .unwrap()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let numbers = runtime.block_on(async {
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let reads = Arc::clone(&reads);
                    tokio::spawn(async move { number(&reads.fresh().await.unwrap()) })
                })
                .collect();
            let mut numbers = Vec::new();
            for t in tasks {
                numbers.push(t.await.unwrap());
            }
            numbers
        });
        // The first request reads; the other nine, which came while it ran,
        // share that read or, at most, the one after it.
        let reads_made = calls.load(Ordering::Relaxed);
        assert!((1..=2).contains(&reads_made), "{reads_made} reads");
        assert!(numbers.iter().all(|&n| n <= 2), "{numbers:?}");
        let again = runtime.block_on(async { reads.fresh().await.unwrap() });
        assert_eq!(number(&again), reads_made as u64 + 1, "a new read");
    }

    #[test]
    fn missing_directories_are_unavailable() {
        let e = std::io::Error::new(std::io::ErrorKind::NotFound, "gone\nreally");
        let r = ReadError::from_chain(&e);
        assert!(r.unavailable);
        assert_eq!(r.reason, "gone really");
        let e = std::io::Error::other("full");
        assert!(!ReadError::from_chain(&e).unavailable);
    }
}
