//! A scoreboard for monitoring the status of many workers.
//!
//! Every worker (a process, a thread, a task) publishes its current status, any
//! bytes of any length; a monitor reads the status of every live worker, like
//! Apache's server-status page. This is the model of Perl's
//! `Parallel::Scoreboard`, built on memory-mapped status files with a seqlock:
//! an update that fits is a few stores into shared memory, with no system call
//! and no lock, and readers copy consistent snapshots without ever waiting for
//! a writer.
//!
//! ```
//! use parallel_scoreboard::Scoreboard;
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path().join("my_board");
//! let board = Scoreboard::open(&dir)?;
//!
//! // In each worker:
//! let mut me = board.worker_with_id("acceptor-3")?;
//! me.update(b"busy GET /index.html")?;
//!
//! // In the monitor:
//! for (id, status) in board.read_all()? {
//!     println!("{id}: {}", String::from_utf8_lossy(&status));
//! }
//! # Ok::<(), parallel_scoreboard::Error>(())
//! ```
//!
//! # Overview
//! - [`Scoreboard::open`] opens (and creates, mode 0700) `base_dir`.
//! - [`Scoreboard::update`] publishes the calling worker's status, as the
//!   original's `update` does; the worker id is the process id unless
//!   [`Builder::worker_id`] says otherwise.
//! - [`Scoreboard::worker`] and [`Scoreboard::worker_with_id`] give an owned
//!   [`Worker`] whose [`Worker::update`] is the hot path.
//! - [`Scoreboard::read_all`] returns id → status of every live worker;
//!   [`Scoreboard::snapshot`] adds pid, update count and times, and says which
//!   entries were skipped and why.
//! - [`Scoreboard::cleanup`] removes dead workers' files (reads do it too).
//! - Reads follow `base_dir`'s path: while no directory is there they fail
//!   with [`ErrorKind::Missing`]; a directory made there again is read.
//!
//! Warm reads are cheap: a board keeps every live worker's file mapped (no
//! descriptor per worker) and watches `base_dir` with inotify, so a read while
//! nobody starts or exits makes one system call whatever the number of
//! workers ([`Builder::watch`] has the details and the fallback).
//!
//! A worker is live while its process holds its status file's `flock`: a
//! worker that exits, is dropped or is killed (even by SIGKILL) is absent from
//! every read that starts afterwards, and that read removes its file.
//!
//! # Features
//! All off by default; the library alone depends only on `memmap2`, `nix`,
//! `libc`, `bytemuck` and `crossbeam-utils`.
//! - `serde`: typed statuses. `Worker::update_json` and
//!   `Scoreboard::update_json` publish any `impl Serialize` as JSON;
//!   `Scoreboard::read_all_json::<T>()` and `WorkerStatus::status_json::<T>()`
//!   read statuses back as any `Deserialize` type. `update_as`,
//!   `read_all_as` and `status_as` do the same in any `Format`.
//! - `render`: the module `render`, pure functions turning a snapshot into an
//!   HTML page in the manner of Apache's `mod_status`, its `?auto` text, JSON
//!   (id → status, or the full list) and the Prometheus text format (or
//!   `OpenMetrics`), for any HTTP server.
//! - `axum`: `render::router(board)`, an `axum::Router` serving `/` and
//!   `/server-status` (with `?auto`), `/json` and `/metrics` (implies
//!   `render`).
//! - `tower`: `tower::ScoreboardLayer`, a tower layer giving every HTTP
//!   request in flight a slot of the board (busy with its method, path and
//!   client, idle with its status code and duration once its response has
//!   been sent), for axum, hyper or tonic servers.
//! - `fault-injection`: crash points for this crate's own test suite (a process
//!   told `PARALLEL_SCOREBOARD_FAULT=<point>` kills itself there); not for
//!   other builds.
//!
//! The `scoreboard` command (the workspace member `cli/`) lists, shows,
//! watches, serves and cleans up boards on top of these.
//!
//! # Protocol
//! Each status file holds two copies of the status; the writer only ever
//! writes the copy that is not published, then publishes it:
//! 1. mark the unpublished copy's sequence word odd, then `fence(Release)`;
//! 2. store its length, time, update count and payload words (Relaxed);
//! 3. mark its sequence word even (Release), then publish its index (Release).
//!
//! A reader loads the published index and that copy's sequence word (Relaxed,
//! each followed by `fence(Acquire)`), checks the length against what it has
//! mapped, copies the words (Relaxed), and after `fence(Acquire)` checks the
//! sequence word again, retrying if it changed. A writer stopped mid-update is
//! writing the *other* copy, so readers still get its last complete status at
//! once. A status that does not fit gets a larger region at the end of the
//! file (blocks allocated first, so a full disk is an error and never a
//! SIGBUS); readers remap when a copy lies beyond what they mapped. The
//! protocol is model-checked with loom (`RUSTFLAGS="--cfg loom"`).
//!
//! # On-disk format
//! One file per worker, `base_dir/sb-<escaped id>`, mode 0600; all fields are
//! little-endian 64-bit words:
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic `PSCOREBD` |
//! | 8 | format version (u32) = 1, header length (u32) = 512 |
//! | 16 | pid |
//! | 24 | start time, ns since the Unix epoch |
//! | 32 | id length, then 256 bytes of id |
//! | 320 | index of the published copy |
//! | 384, 448 | copy descriptors: seq, offset, capacity, length, update time, update count |
//! | 512 | payload regions (two of 1792 bytes in a new file; grown ones appended) |
//!
//! # Safety model
//! Shared memory is only ever touched as `AtomicU64` words, made in one module
//! from a `memmap2::MmapRaw`; no `&[u8]` is formed over memory another process
//! writes. Readers map files read-only and make only Relaxed loads there (the
//! one atomic access defined on read-only memory), with Acquire fences.
//! Readers check every length and offset against what they mapped before
//! copying, and check each file's type, owner, magic, version and id; a bad
//! entry is skipped and reported, never fatal. One case is not closed: a
//! process of the same user that truncates a live worker's file makes that
//! worker's process die of SIGBUS at its next update, and a reader copying
//! from the file at that moment too. Readers that learn of the truncation
//! first (the watch's `IN_MODIFY`, a listing's `fstat`) remap the file and
//! skip it (the README's trust model has the details).
//!
//! # Platform support
//! Linux (`renameat2`, OFD locks, `mremap`, `posix_fallocate`), 64-bit. The
//! Linux calls live in one module so other Unixes can follow.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod board;
mod cleanup;
mod dir;
mod error;
mod fault;
mod fork;
mod id;
#[cfg(not(loom))]
#[doc(hidden)]
pub mod inspect;
mod layout;
mod protocol;
mod reader;
#[cfg(not(loom))]
#[doc(hidden)]
pub mod reference;
#[cfg(feature = "render")]
#[cfg_attr(docsrs, doc(cfg(feature = "render")))]
pub mod render;
mod shm;
mod slots;
mod sync;
mod sys;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
#[cfg(feature = "serde")]
mod typed;
mod worker;

pub use board::{Builder, Scoreboard, Snapshot, WorkerStatus};
pub use cleanup::Cleanup;
pub use error::{Error, ErrorKind, Result};
#[cfg(feature = "serde")]
pub use typed::{Format, Json};
pub use worker::Worker;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
