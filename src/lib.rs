//! A scoreboard for monitoring the status of many workers, like Apache's
//! server-status page: the model of Perl's [Parallel::Scoreboard], on
//! memory-mapped status files.
//!
//! Every worker (a process of a prefork server, a thread, a task) publishes
//! its current status, any bytes of any length; a monitor, in any process of
//! the same user, reads the latest complete status of every live worker.
//!
//! - An update that fits is a few stores into shared memory: no system call,
//!   no lock, never waiting for readers.
//! - A read copies consistent statuses (a torn status is impossible) and,
//!   once warm, makes one system call whatever the number of workers.
//! - A worker that dies, even by `SIGKILL`, is gone from the next read,
//!   which removes its file; nothing removes a live worker's file.
//! - Statuses have no size limit: files grow, readers follow.
//!
//! Linux, 64-bit.
//!
//! ```
//! use parallel_scoreboard::Scoreboard;
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path().join("board");
//!
//! // A worker: opening creates the directory (mode 0700) if it is missing.
//! let board = Scoreboard::open(&dir)?;
//! board.update(b"busy GET /index.html")?;
//!
//! // A monitor, in this process or any other of the same user.
//! let monitor = Scoreboard::open(&dir)?;
//! for (id, status) in monitor.read_all()? {
//!     println!("{id}: {}", String::from_utf8_lossy(&status));
//! }
//! # assert_eq!(monitor.read_all()?.len(), 1);
//! # Ok::<(), parallel_scoreboard::Error>(())
//! ```
//!
//! # Recipes
//!
//! ## The original's model: `Scoreboard::update`
//!
//! [`Scoreboard::update`] publishes the status of the calling worker, whose
//! id a closure gives (by default the process id), as the original's
//! `update` does. The slot belongs to the board and is removed when the
//! board is dropped (or, with a custom id, when the threads that updated
//! through it have exited).
//!
//! ```
//! use parallel_scoreboard::Scoreboard;
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path().join("board");
//!
//! let board = Scoreboard::builder(&dir)
//!     .worker_id(|| format!("thread-{:?}", std::thread::current().id()))
//!     .open()?;
//! board.update(b"idle")?;
//! # assert_eq!(board.read_all()?.len(), 1);
//! # Ok::<(), parallel_scoreboard::Error>(())
//! ```
//!
//! ## The hot path: `Worker`
//!
//! A [`Worker`] is an owned handle on one slot ([`Scoreboard::worker`] for
//! the calling worker's id, [`Scoreboard::worker_with_id`] for any id):
//! [`Worker::update`] takes `&mut self`, looks nothing up and makes no
//! system call when the status fits. A `Worker` is `Send`, so it moves with
//! a task between threads; dropping it removes its file. A second live
//! worker with an id a live worker holds is refused
//! ([`ErrorKind::DuplicateId`]); a dead worker's id is taken over.
//!
//! ```
//! # let tmp = tempfile::tempdir()?;
//! # let board = parallel_scoreboard::Scoreboard::open(tmp.path().join("board"))?;
//! let mut me = board.worker_with_id("acceptor-3")?;
//! for request in ["GET /", "GET /about"] {
//!     me.update(format!("busy {request}").as_bytes())?;
//!     // ... serve it ...
//!     me.update(b"idle")?;
//! }
//! # Ok::<(), parallel_scoreboard::Error>(())
//! ```
//!
//! ## Reading: `read_all` and `read_into`
//!
//! [`Scoreboard::read_all`] gives id → status, as the original's `read_all`
//! does. [`Scoreboard::read_into`] refills a [`Snapshot`]: each
//! [`WorkerStatus`] with its pid, update count and times, and the entries
//! the read skipped, each with why (an [`Error`] whose [`Reason`] you can
//! match). A monitor that polls keeps one `Snapshot`: once its buffers are
//! large enough, a read allocates nothing.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//!
//! use parallel_scoreboard::{Scoreboard, Snapshot};
//! # let tmp = tempfile::tempdir()?;
//! # let board = Scoreboard::open(tmp.path().join("board"))?;
//! # let mut w = board.worker_with_id("acceptor-1")?;
//! # w.update(b"busy GET /")?;
//!
//! let mut snap = Snapshot::default();
//! board.read_into(&mut snap)?;
//! for w in &snap.workers {
//!     let age = SystemTime::now().duration_since(w.updated_at).unwrap_or_default();
//!     if age > Duration::from_secs(300) {
//!         println!("{} (pid {}) stuck for {age:?}", w.id, w.pid);
//!     }
//! }
//! for skipped in &snap.skipped {
//!     eprintln!("skipped: {skipped}");
//! }
//! # assert_eq!(snap.workers.len(), 1);
//! # Ok::<(), parallel_scoreboard::Error>(())
//! ```
//!
//! Update times come from the monotonic clock, which never steps, and a read
//! turns them into its own wall-clock time: `SystemTime::now() - updated_at`
//! is the true age of an update whatever either clock was set to.
//!
//! ## Typed statuses (feature `serde`)
//!
//! [`Worker::update_json`] publishes any `impl Serialize` as JSON, and
//! [`WorkerStatus::status_json`] reads one entry back as a `T:
//! Deserialize`. JSON statuses with a `"state"` of `busy` or `idle` are what
//! the `scoreboard` command's page and metrics count.
//!
//! ```
//! # #[cfg(feature = "serde")]
//! # {
//! # use parallel_scoreboard::{Scoreboard, Snapshot};
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Request { state: String, path: String }
//!
//! # let tmp = tempfile::tempdir()?;
//! # let board = Scoreboard::open(tmp.path().join("board"))?;
//! let mut me = board.worker_with_id("acceptor-1")?;
//! me.update_json(&Request { state: "busy".into(), path: "/".into() })?;
//!
//! let mut snap = Snapshot::default();
//! board.read_into(&mut snap)?;
//! let request: Request = snap.workers[0].status_json().expect("a Request");
//! assert_eq!(request.path, "/");
//! # }
//! # Ok::<(), parallel_scoreboard::Error>(())
//! ```
//!
//! ## Sharing a board with a group
//!
//! A board is private to its user (directory 0700, files 0600). Opened with
//! [`Builder::group`], it is shared for reading with a group: the directory
//! gets the group and mode 2750, status files 0640. The group's members,
//! and root, then read it, read-only: they never map, lock for writing or
//! remove the owner's files.
//!
//! ```
//! use std::os::unix::fs::MetadataExt;
//!
//! use parallel_scoreboard::Scoreboard;
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path().join("board");
//! // A group this process is a member of: here its own primary group.
//! let gid = std::fs::metadata(tmp.path())?.gid();
//! let board = Scoreboard::builder(&dir).group(gid).open()?;
//! board.update(b"up")?;
//! assert_eq!(std::fs::metadata(&dir)?.mode() & 0o7777, 0o2750);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Forks
//!
//! Open the board, then fork. In a child, handles inherited from the parent
//! refuse to update ([`ErrorKind::Forked`]), never remove the parent's files
//! and never keep them alive; [`Scoreboard::update`] in the child makes the
//! child's own slot (its pid), as in the original, and so does
//! [`Scoreboard::worker`].
//!
//! ```no_run
//! use parallel_scoreboard::Scoreboard;
//!
//! let board = Scoreboard::open("/dev/shm/my-server")?;
//! for _ in 0..4 {
//!     // SAFETY: no other thread runs in this process yet.
//!     if let nix::unistd::ForkResult::Child = unsafe { nix::unistd::fork() }? {
//!         let mut me = board.worker()?; // this child's slot, named by its pid
//!         me.update(b"idle")?;
//!         // ... accept and serve, updating `me` around each request ...
//!         std::process::exit(0);
//!     }
//! }
//! // The parent: the server-status view of its children.
//! for (pid, status) in board.read_all()? {
//!     println!("{pid}: {}", String::from_utf8_lossy(&status));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Reference
//!
//! The items below, from [`Scoreboard`]. Every error is an [`Error`] with an
//! [`ErrorKind`]; an entry a read skipped also has a [`Reason`].
//!
//! The repository's `docs/` pages go further: `library.md` (every call,
//! semantics, more recipes), `protocol.md` (the status file format, the
//! seqlock protocol, growth, liveness, reads), `trust.md` (the trust model)
//! and `deployment.md` (sharing, systemd, root). Figures are in
//! `BENCHMARKS.md`. Pages, JSON and Prometheus metrics of a board, an axum
//! router and a tower layer are in the crate `parallel-scoreboard-http`; the
//! `scoreboard` command in `scoreboard-cli`.
//!
//! [Parallel::Scoreboard]: https://metacpan.org/pod/Parallel::Scoreboard

#![cfg_attr(docsrs, feature(doc_cfg))]

// The Rust code of README.md and of the pages of docs/ runs as doctests
// (cli/tests/it/docs.rs checks that every page is listed here).
#[cfg(doctest)]
mod guide_doctests {
    #[doc = include_str!("../README.md")]
    struct Readme;
    #[doc = include_str!("../docs/library.md")]
    struct Library;
    #[doc = include_str!("../docs/protocol.md")]
    struct Protocol;
    #[doc = include_str!("../docs/trust.md")]
    struct Trust;
    #[doc = include_str!("../docs/deployment.md")]
    struct Deployment;
    #[doc = include_str!("../docs/cli.md")]
    struct Cli;
    #[doc = include_str!("../docs/monitoring.md")]
    struct Monitoring;
    #[doc = include_str!("../docs/http.md")]
    struct Http;
    #[doc = include_str!("../docs/testing.md")]
    struct Testing;
    #[doc = include_str!("../docs/c.md")]
    struct C;
    #[doc = include_str!("../docs/perl.md")]
    struct Perl;
    #[doc = include_str!("../docs/python.md")]
    struct Python;
}

mod board;
mod cleanup;
mod clock;
mod dir;
mod error;
mod fault;
mod fork;
mod id;
#[cfg(all(feature = "unstable-internals", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "unstable-internals")))]
pub mod inspect;
mod layout;
#[cfg(all(feature = "unstable-internals", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "unstable-internals")))]
pub mod local;
mod protocol;
mod reader;
mod shm;
mod slots;
mod sync;
mod sys;
#[cfg(feature = "serde")]
mod typed;
mod worker;

pub use board::{Builder, Scoreboard, Snapshot, WorkerStatus};
pub use cleanup::Cleanup;
pub use clock::Stamp;
pub use error::{Error, ErrorKind, Reason, Result};
pub use worker::Worker;
