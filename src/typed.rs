//! Typed statuses (feature `serde`): update with any `impl Serialize`, stored
//! as JSON by default or in any [`Format`], and read statuses back as any
//! `Deserialize` type.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use parallel_scoreboard::Scoreboard;
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Progress { done: u64, total: u64 }
//!
//! # let tmp = tempfile::tempdir()?;
//! let board = Scoreboard::open(tmp.path())?;
//! let mut w = board.worker_with_id("job-1")?;
//! w.update_json(&Progress { done: 3, total: 10 })?;
//!
//! let all = board.read_all_json::<Progress>()?;
//! assert_eq!(all["job-1"].as_ref().unwrap(), &Progress { done: 3, total: 10 });
//! # Ok::<(), parallel_scoreboard::Error>(())
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::board::{Scoreboard, WorkerStatus};
use crate::error::{Error, Result};
use crate::worker::Worker;

thread_local! {
    /// The serialization buffer of this thread, kept between updates so an
    /// update allocates nothing once the buffer has grown.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The most buffer capacity a thread keeps between updates.
const KEEP: usize = 1 << 20;

/// How typed statuses are stored: [`Json`] for [`Worker::update_json`] and
/// [`Scoreboard::read_all_json`]; implement it to store statuses in another
/// serde format (CBOR, `MessagePack`, ...) with [`Worker::update_as`] and
/// [`Scoreboard::read_all_as`].
///
/// # Examples
/// ```
/// use parallel_scoreboard::{Format, Scoreboard};
///
/// /// Pretty-printed JSON, for people reading `scoreboard show`.
/// struct Pretty;
///
/// impl Format for Pretty {
///     type Error = serde_json::Error;
///     fn encode<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Self::Error> {
///         serde_json::to_writer_pretty(out, value)
///     }
///     fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Self::Error> {
///         serde_json::from_slice(bytes)
///     }
/// }
///
/// # let tmp = tempfile::tempdir()?;
/// let board = Scoreboard::open(tmp.path())?;
/// let mut w = board.worker_with_id("w")?;
/// w.update_as::<Pretty, _>(&[1, 2])?;
/// assert_eq!(board.read_all()?["w"], b"[\n  1,\n  2\n]");
/// assert_eq!(*board.read_all_as::<Pretty, Vec<u8>>()?["w"].as_ref().unwrap(), [1, 2]);
/// # Ok::<(), parallel_scoreboard::Error>(())
/// ```
pub trait Format {
    /// What `encode` and `decode` fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Appends `value`, encoded, to `out`.
    ///
    /// # Errors
    /// When `value` cannot be encoded in this format.
    fn encode<T: Serialize + ?Sized>(
        value: &T,
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), Self::Error>;

    /// Decodes a `T` from `bytes`.
    ///
    /// # Errors
    /// When `bytes` are not an encoded `T`.
    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, Self::Error>;
}

/// JSON, the default [`Format`] of typed statuses (compact, with `serde_json`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Json;

impl Format for Json {
    type Error = serde_json::Error;

    fn encode<T: Serialize + ?Sized>(
        value: &T,
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), Self::Error> {
        serde_json::to_writer(out, value)
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, Self::Error> {
        serde_json::from_slice(bytes)
    }
}

/// Encodes `value` in `F` into this thread's buffer and hands it to `f`.
fn with_encoded<F: Format, T: Serialize + ?Sized>(
    value: &T,
    f: impl FnOnce(&[u8]) -> Result<()>,
) -> Result<()> {
    BUFFER.with(|cell| {
        // A nested call (a `Serialize` impl that updates a board) gets its own buffer.
        let mut fresh = Vec::new();
        let mut borrowed = cell.try_borrow_mut();
        let buf = match borrowed.as_deref_mut() {
            Ok(buf) => buf,
            Err(_) => &mut fresh,
        };
        buf.clear();
        let result = F::encode(value, buf)
            .map_err(|e| {
                Error::io(io::Error::new(io::ErrorKind::InvalidData, e))
                    .with_detail("serializing a status")
            })
            .and_then(|()| f(buf));
        // One huge status does not pin its memory for the thread's lifetime.
        if buf.capacity() > KEEP {
            buf.clear();
            buf.shrink_to(KEEP);
        }
        result
    })
}

impl Worker {
    /// Publishes `value` serialized as JSON.
    ///
    /// # Errors
    /// As [`Worker::update`]; [`ErrorKind::Io`](crate::ErrorKind::Io) with an
    /// [`io::ErrorKind::InvalidData`] source when `value` cannot be serialized
    /// (a map with non-string keys, a failing `Serialize` impl), in which case
    /// the previous status stays published.
    pub fn update_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.update_as::<Json, T>(value)
    }

    /// Publishes `value` encoded in the format `F`.
    ///
    /// # Errors
    /// As [`update_json`](Self::update_json).
    pub fn update_as<F: Format, T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        with_encoded::<F, T>(value, |bytes| self.update(bytes))
    }
}

impl Scoreboard {
    /// [`update`](Self::update) with `value` serialized as JSON.
    ///
    /// # Errors
    /// As [`update`](Self::update) and [`Worker::update_json`].
    pub fn update_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        self.update_as::<Json, T>(value)
    }

    /// [`update`](Self::update) with `value` encoded in the format `F`.
    ///
    /// # Errors
    /// As [`update`](Self::update) and [`Worker::update_json`].
    pub fn update_as<F: Format, T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        with_encoded::<F, T>(value, |bytes| self.update(bytes))
    }

    /// [`read_all`](Self::read_all) with each status deserialized from JSON
    /// as a `T`; a status that is not a `T` is an `Err` in its entry, so one
    /// bad status never hides the others.
    ///
    /// # Errors
    /// As [`read_all`](Self::read_all).
    pub fn read_all_json<T: DeserializeOwned>(
        &self,
    ) -> Result<BTreeMap<String, std::result::Result<T, serde_json::Error>>> {
        self.read_all_as::<Json, T>()
    }

    /// [`read_all`](Self::read_all) with each status decoded from the format
    /// `F` as a `T`; a status that is not a `T` is an `Err` in its entry.
    ///
    /// # Errors
    /// As [`read_all`](Self::read_all).
    pub fn read_all_as<F: Format, T: DeserializeOwned>(
        &self,
    ) -> Result<BTreeMap<String, std::result::Result<T, F::Error>>> {
        Ok(self
            .read_all()?
            .into_iter()
            .map(|(id, status)| (id, F::decode(&status)))
            .collect())
    }
}

impl WorkerStatus {
    /// The status deserialized from JSON as a `T`.
    ///
    /// # Errors
    /// When the status is not the JSON of a `T`.
    pub fn status_json<T: DeserializeOwned>(&self) -> std::result::Result<T, serde_json::Error> {
        Json::decode(&self.status)
    }

    /// The status decoded from the format `F` as a `T`.
    ///
    /// # Errors
    /// When the status is not a `T` encoded in `F`.
    pub fn status_as<F: Format, T: DeserializeOwned>(&self) -> std::result::Result<T, F::Error> {
        F::decode(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::{Deserialize, Serialize};

    use crate::{ErrorKind, Scoreboard};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Req {
        state: String,
        n: u64,
    }

    #[test]
    fn round_trip_and_bad_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let board = Scoreboard::open(tmp.path()).unwrap();
        let mut a = board.worker_with_id("a").unwrap();
        let mut b = board.worker_with_id("b").unwrap();
        a.update_json(&Req {
            state: "busy".into(),
            n: 7,
        })
        .unwrap();
        b.update(b"not json").unwrap();
        board.update_json(&[1, 2, 3]).unwrap();

        let all = board.read_all_json::<Req>().unwrap();
        assert_eq!(
            all["a"].as_ref().unwrap(),
            &Req {
                state: "busy".into(),
                n: 7
            }
        );
        assert!(all["b"].is_err());
        assert!(all[&std::process::id().to_string()].is_err());
        assert_eq!(board.read_all().unwrap()["a"], br#"{"state":"busy","n":7}"#);

        let snap = board.snapshot().unwrap();
        let mine = snap
            .workers
            .iter()
            .find(|w| w.id != "a" && w.id != "b")
            .unwrap();
        assert_eq!(mine.status_json::<Vec<u8>>().unwrap(), [1, 2, 3]);
    }

    #[test]
    fn huge_statuses_round_trip_and_free_the_buffer() {
        let tmp = tempfile::tempdir().unwrap();
        let board = Scoreboard::open(tmp.path()).unwrap();
        let mut w = board.worker_with_id("w").unwrap();
        let big = "x".repeat(3 << 20);
        w.update_json(&big).unwrap();
        assert_eq!(
            board.read_all_json::<String>().unwrap()["w"]
                .as_ref()
                .unwrap(),
            &big
        );
        assert!(super::BUFFER.with(|b| b.borrow().capacity()) <= super::KEEP);
        w.update_json("small").unwrap();
        assert_eq!(board.read_all().unwrap()["w"], b"\"small\"");
    }

    #[test]
    fn unserializable_values_keep_the_previous_status() {
        let tmp = tempfile::tempdir().unwrap();
        let board = Scoreboard::open(tmp.path()).unwrap();
        let mut w = board.worker_with_id("w").unwrap();
        w.update(b"before").unwrap();
        let bad: HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let e = w.update_json(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::InvalidData
        );
        assert_eq!(board.read_all().unwrap()["w"], b"before");
    }
}
