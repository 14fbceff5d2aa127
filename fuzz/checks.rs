//! The checks of the fuzz targets, shared by the targets (`fuzz/fuzz_targets/`)
//! and by the replay of their corpora in `cargo test` (`tests/fuzz_corpus.rs`).
//! Both include this file with `#[path]`, so a corpus file is decoded and
//! checked the same way in both places.
//!
//! - [`check_status_file`]: one byte choosing a file name, then a status file's
//!   bytes. `inspect::parse` must not panic and what it returns must hold
//!   together; the real reader, given the same bytes as a file, must agree with
//!   it while the file is locked (a live worker), and must remove it or leave it
//!   alone by the trust model's rules once it is unlocked (a dead worker).
//! - [`check_ops`]: a sequence of operations (decoded with `arbitrary`) run
//!   against a watching and a listing board and a model of what they must read.
//!
//! One job per file: `scratch` (directories and boards), `status_file` and
//! `ops` (the two targets), `oracle` (the model `ops` checks against).

#[path = "checks/ops.rs"]
mod ops;
#[path = "checks/oracle.rs"]
mod oracle;
#[path = "checks/scratch.rs"]
mod scratch;
#[path = "checks/status_file.rs"]
mod status_file;

// Each includer uses its own part: the targets one check each, the seeds
// `decode_ops` too, the corpus replay the scratch helpers.
#[allow(unused_imports)]
pub(crate) use ops::{check_ops, decode_ops};
#[allow(unused_imports)]
pub(crate) use scratch::remove_scratch;
#[allow(unused_imports)]
pub(crate) use status_file::check_status_file;

/// `"PSCOREBD"`: the first word of every status file.
const MAGIC: &[u8; 8] = b"PSCOREBD";
/// Status file header length; payload regions start here.
const HEADER_LEN: usize = 512;
/// Longest worker id, in bytes.
const MAX_ID_LEN: usize = 255;
/// Longest status `check_ops` writes: past the first page, so files grow.
pub(crate) const MAX_STATUS_LEN: usize = 70_000;
/// Most operations `check_ops` runs from one input.
const MAX_OPS: usize = 64;
