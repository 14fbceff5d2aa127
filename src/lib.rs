#![doc = include_str!("../README.md")]
//!
//! # API at a glance
//!
//! - [`Scoreboard::open`] opens (and creates, mode 0700) `base_dir`;
//!   [`Scoreboard::builder`] gives the [`Builder`] of every option.
//! - [`Scoreboard::update`] publishes the calling worker's status, as the
//!   original's `update` does; [`Scoreboard::worker`] and
//!   [`Scoreboard::worker_with_id`] give an owned [`Worker`], whose
//!   [`Worker::update`] is the hot path.
//! - [`Scoreboard::read_all`] returns id → status of every live worker;
//!   [`Scoreboard::read_into`] refills a
//!   [`Snapshot`] of [`WorkerStatus`]es with pid, update count and times, and
//!   what was skipped and why.
//! - [`Scoreboard::cleanup`] removes dead workers' files ([`Cleanup`]).
//! - Every error is an [`Error`] with an [`ErrorKind`]; an entry a read
//!   skipped also has a [`Reason`] ([`Error::reason`]) to match.

#![cfg_attr(docsrs, feature(doc_cfg))]

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
