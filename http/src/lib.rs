#![doc = include_str!("../README.md")]
//!
//! ## Rendering a board yourself
//!
//! The renderers take [`Record`]s (one per live worker, made from the core's
//! [`WorkerStatus`](parallel_scoreboard::WorkerStatus)es by `From`) and the
//! time, and return text; a [`Summary`] of the records is what the page and
//! `?auto` show of the board as a whole.
//!
//! ```
//! use parallel_scoreboard::{Scoreboard, Snapshot};
//! use parallel_scoreboard_http::{HtmlOptions, Record, Summary, auto, html, json_map, prometheus};
//! # let tmp = tempfile::tempdir()?;
//! let board = Scoreboard::open(tmp.path())?;
//! let mut w = board.worker_with_id("w1")?;
//! w.update(br#"{"state":"busy","requests":12}"#)?;
//!
//! let mut snap = Snapshot::default();
//! board.read_into(&mut snap)?;
//! let records: Vec<Record> = snap.workers.into_iter().map(Record::from).collect();
//! let now = std::time::SystemTime::now();
//! let summary = Summary::new(&records, now);
//! let page = html(&records, &summary, &HtmlOptions::builder().title("my server").build());
//! assert!(page.contains("<td class=\"id\">w1</td>"));
//! assert!(auto(&summary).ends_with("BusyWorkers: 1\nIdleWorkers: 0\nScoreboard: W\n"));
//! assert_eq!(json_map(&records), r#"{"w1":{"requests":12,"state":"busy"}}"#);
//! assert!(prometheus(&records, now, None)
//!     .contains("scoreboard_worker_status_field{id=\"w1\",field=\"requests\"} 12\n"));
//! # Ok::<(), parallel_scoreboard::Error>(())
//! ```
//!
//! Across reads, [`Totals`] keeps the counts of workers that left, so that
//! request totals never go down ([`Summary::with_totals`], and the
//! `totals` of [`prometheus`]); the router does this for you.
//!
//! ## The tower layer
//!
//! [`ScoreboardLayer`] wraps any service taking an `http::Request<B>` and
//! answering an `http::Response<B2>`: an axum 0.8 `Router`, a service served
//! by hyper through hyper-util's `TowerToHyperService` (put the peer's
//! `SocketAddr` in the request's extensions for `client`), a tonic 0.14
//! server (`Server::builder().layer(...)`). All three run with real servers
//! and clients on 127.0.0.1 in this crate's tests.
//!
//! **Slots.** Each request in flight holds a slot: a
//! [`Worker`](parallel_scoreboard::Worker) of the board named with a prefix
//! and a number (`http-1`, `http-2`, ...) taken from a pool. A slot is
//! reused by the next request once its request has ended; the pool grows to
//! the peak number of concurrent requests, and idle slots stay on the board
//! (a monitor sees them idle, as `mod_status` shows idle workers) up to
//! [`max_idle`](ScoreboardLayerBuilder::max_idle) (32 by default); slots
//! beyond it are released and their files removed.
//!
//! **Descriptors and mappings.** Each slot holds one descriptor (its status
//! file, open and locked: the lock is how readers know it is live) and one
//! mapping (its 4 KiB file, more if a status outgrows it), and the layer
//! holds nothing else. Those are the application's to use first: the slots
//! are at most an eighth of the process's soft `RLIMIT_NOFILE`
//! ([`max_slots`](ScoreboardLayerBuilder::max_slots) sets another cap), and
//! no slot is made that would leave the process less than a quarter of that
//! limit free (the open descriptors are counted from `/proc/self/fd` when a
//! slot is to be made, never when a request reuses one); after such a
//! refusal none is made for 100 ms, and slots given back are released
//! rather than kept idle until one can be made again. A request that finds
//! no slot it may use, or whose slot cannot be made (`EMFILE`, `ENFILE`, a
//! full disk), is served all the same, without a slot, and counted
//! ([`ScoreboardLayer::unrecorded`], and `"unrecorded"` in the idle
//! statuses once not 0).
//!
//! **Statuses.** While a request runs its slot's status is
//! ```text
//! {"state":"busy","method":"GET","path":"/a","client":"127.0.0.1:50114","requests":3}
//! ```
//! The request started when this status was published: a reader's age of
//! the update ([`WorkerStatus::updated_at`](parallel_scoreboard::WorkerStatus::updated_at))
//! is how long it has run, on the monotonic clock, right whatever the
//! server's or the reader's wall clock says (the renderers' busy times are
//! this age); `client` is the peer address when the server provides one
//! (see [`client_addr`](ScoreboardLayerBuilder::client_addr)), `null`
//! otherwise; `requests` counts the slot's requests, this one included.
//! `path` is the URI's path without the query (which may carry secrets),
//! cut at 1024 bytes.
//!
//! Once the response body has been sent to its end (a streamed body: once
//! its last frame has been polled), or the request or its response was
//! dropped, the slot shows
//! ```text
//! {"state":"idle","requests":3,"last_code":200,"last_ms":1.204,"last_outcome":"complete"}
//! ```
//! with the last request's status code (`null` if it made no response), its
//! duration in milliseconds (to a kernel tick unless
//! [`precise_times`](ScoreboardLayerBuilder::precise_times)) and how it
//! ended: `complete`, `cancelled` (dropped before a response was made: the
//! client hung up, a timeout), `aborted` (the body was dropped before its
//! end) or `error` (the service or the body failed). A gRPC call adds
//! `"last_grpc_status"`, the status of its trailers.
//!
//! **Cost.** Per request: two atomic swaps of the slot given back last (the
//! pool's lock is taken only when requests overlap, and never held across
//! an await), an atomic reference count taken and dropped, two
//! reads of the coarse monotonic clock, two statuses written by hand into
//! the slot's own buffer and two updates of its worker (no system call).
//! Nothing is allocated once the pool has its slots (`tests/tower_alloc.rs`
//! counts). A new slot (a request beyond the peak so far) counts the
//! process's descriptors and creates a status file: a few system calls, made
//! on the calling task. `benches/tower.rs` measures the cost against the
//! same service without the layer (BENCHMARKS.md, section on the layer).
//!
//! Any tower service; here one called by hand:
//! ```
//! # #[cfg(feature = "tower")]
//! # {
//! use std::sync::Arc;
//! use parallel_scoreboard::Scoreboard;
//! use parallel_scoreboard_http::ScoreboardLayer;
//! use tower::{Layer, Service};
//! # use std::convert::Infallible;
//! # use std::future::Future;
//! # use std::task::{Context, Poll, Waker};
//! # struct Hello;
//! # impl Service<http::Request<()>> for Hello {
//! #     type Response = http::Response<String>;
//! #     type Error = Infallible;
//! #     type Future = std::future::Ready<Result<Self::Response, Infallible>>;
//! #     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
//! #         Poll::Ready(Ok(()))
//! #     }
//! #     fn call(&mut self, _: http::Request<()>) -> Self::Future {
//! #         std::future::ready(Ok(http::Response::new("hello".to_owned())))
//! #     }
//! # }
//! # let tmp = tempfile::tempdir()?;
//! let board = Arc::new(Scoreboard::open(tmp.path())?);
//! let mut service = ScoreboardLayer::new(Arc::clone(&board)).layer(Hello);
//!
//! let request = http::Request::get("/index.html").body(())?;
//! let response = std::pin::pin!(service.call(request));
//! assert!(String::from_utf8(board.read_all()?["http-1"].clone())?
//!     .starts_with(r#"{"state":"busy","method":"GET","path":"/index.html","#));
//! # let Poll::Ready(response) = response.poll(&mut Context::from_waker(Waker::noop())) else { panic!() };
//! let body = response?.into_body(); // ... sent, then dropped:
//! drop(body);
//! assert!(String::from_utf8(board.read_all()?["http-1"].clone())?
//!     .starts_with(r#"{"state":"idle","requests":1,"last_code":200,"#));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Reference
//!
//! - Records and states: [`Record`], [`state`], [`count_states`],
//!   [`seconds_since`].
//! - The page: [`html`] with [`HtmlOptions`] (from
//!   [`HtmlOptions::builder`]); the board as a whole: [`Summary`] (with
//!   [`Rates`] over a [`RatesOver`] span, the grid of [`grid_char`]s and its
//!   [`GRID_KEY`]); totals across reads: [`Totals`] and its [`Tally`].
//! - `mod_status`'s `?auto`: [`auto`].
//! - JSON: [`json_map`] (id → status), [`json_list`] (everything known).
//! - Prometheus: [`prometheus`] and [`openmetrics`], each with the
//!   board-wide totals of a [`Tally`] or without;
//!   [`wants_openmetrics`] reads an `Accept` header; the content types
//!   [`PROMETHEUS_CONTENT_TYPE`] and [`OPENMETRICS_CONTENT_TYPE`].
//! - Time: [`rfc3339`], [`parse_rfc3339`].
//! - Feature `axum`: `RouterBuilder`.
//! - Feature `tower`: `ScoreboardLayer` (from `ScoreboardLayer::builder`,
//!   a `ScoreboardLayerBuilder`), the `ScoreboardService` it makes, its
//!   `ResponseFuture` and `ScoreboardBody`; `DEFAULT_PREFIX`,
//!   `DEFAULT_MAX_IDLE`.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod auto;
mod html;
mod json;
#[cfg(feature = "tower")]
mod layer;
mod prometheus;
mod record;
#[cfg(feature = "axum")]
mod router;
mod summary;
#[cfg(feature = "tower")]
mod sys;
mod time;
mod totals;

pub use auto::auto;
pub use html::{HtmlOptions, HtmlOptionsBuilder, html};
pub use json::{json_list, json_map};
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use layer::{
    DEFAULT_MAX_IDLE, DEFAULT_PREFIX, ResponseFuture, ScoreboardBody, ScoreboardLayer,
    ScoreboardLayerBuilder, ScoreboardService,
};
pub use prometheus::{
    OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, openmetrics, prometheus, wants_openmetrics,
};
pub use record::{Record, count_states, seconds_since, state};
use record::{escaped, text_state};
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use router::RouterBuilder;
pub use summary::{GRID_KEY, Rates, RatesOver, Summary, grid_char};
pub use time::{parse_rfc3339, rfc3339};
pub use totals::{Tally, Totals};
