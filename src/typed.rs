//! Typed statuses (feature `serde`): a worker publishes any `impl Serialize`
//! as JSON with [`Worker::update_json`], and a reader decodes an entry of a
//! [`Snapshot`](crate::Snapshot) with [`WorkerStatus::status_json`].
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use parallel_scoreboard::{Scoreboard, Snapshot};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Progress { done: u64, total: u64 }
//!
//! # let tmp = tempfile::tempdir()?;
//! let board = Scoreboard::open(tmp.path())?;
//! let mut w = board.worker_with_id("job-1")?;
//! w.update_json(&Progress { done: 3, total: 10 })?;
//!
//! let mut snap = Snapshot::default();
//! board.read_into(&mut snap)?;
//! let progress: Progress = snap.workers[0].status_json().expect("a Progress");
//! assert_eq!(progress, Progress { done: 3, total: 10 });
//! # Ok::<(), parallel_scoreboard::Error>(())
//! ```

use std::cell::RefCell;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::board::WorkerStatus;
use crate::error::{Error, Result};
use crate::worker::Worker;

thread_local! {
    /// The serialization buffer of this thread, kept between updates so an
    /// update allocates nothing once the buffer has grown.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The most buffer capacity a thread keeps between updates.
const KEEP: usize = 1 << 20;

/// Serializes `value` as JSON into this thread's buffer and hands it to `f`.
fn with_encoded<T: Serialize + ?Sized>(
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
        let result = serde_json::to_writer(&mut *buf, value)
            .map_err(Error::serialize)
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
    /// Publishes `value` serialized as JSON (compact, with `serde_json`).
    ///
    /// # Errors
    /// As [`Worker::update`]; [`ErrorKind::Serialize`](crate::ErrorKind::Serialize),
    /// with the `serde_json` error as its
    /// [`source`](std::error::Error::source), when `value` cannot be
    /// serialized (a map with non-string keys, a failing `Serialize` impl),
    /// in which case the previous status stays published.
    pub fn update_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        with_encoded(value, |bytes| self.update(bytes))
    }
}

impl WorkerStatus {
    /// The status deserialized from JSON as a `T`.
    ///
    /// # Errors
    /// When the status is not the JSON of a `T`.
    pub fn status_json<T: DeserializeOwned>(&self) -> std::result::Result<T, serde_json::Error> {
        serde_json::from_slice(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::{Deserialize, Serialize};

    use crate::{ErrorKind, Scoreboard, Snapshot};

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
        let mut c = board.worker_with_id("c").unwrap();
        c.update_json(&[1, 2, 3]).unwrap();

        let mut snap = Snapshot::default();
        board.read_into(&mut snap).unwrap();
        let [a, b, c] = &snap.workers[..] else {
            panic!("three workers: {snap:?}")
        };
        assert_eq!(
            a.status_json::<Req>().unwrap(),
            Req {
                state: "busy".into(),
                n: 7
            }
        );
        assert!(b.status_json::<Req>().is_err());
        assert!(c.status_json::<Req>().is_err());
        assert_eq!(c.status_json::<Vec<u8>>().unwrap(), [1, 2, 3]);
        assert_eq!(board.read_all().unwrap()["a"], br#"{"state":"busy","n":7}"#);
    }

    #[test]
    fn huge_statuses_round_trip_and_free_the_buffer() {
        let tmp = tempfile::tempdir().unwrap();
        let board = Scoreboard::open(tmp.path()).unwrap();
        let mut w = board.worker_with_id("w").unwrap();
        let big = "x".repeat(3 << 20);
        w.update_json(&big).unwrap();
        let mut snap = Snapshot::default();
        board.read_into(&mut snap).unwrap();
        assert_eq!(snap.workers[0].status_json::<String>().unwrap(), big);
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
        assert_eq!(e.kind(), ErrorKind::Serialize);
        assert!(e.io_error().is_none());
        // The serializer's error is the cause, and only the cause says it.
        let cause = std::error::Error::source(&e).expect("a cause").to_string();
        assert!(cause.contains("key must be a string"), "{cause}");
        assert!(!e.to_string().contains(&cause), "{e}");
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::InvalidData
        );
        assert_eq!(board.read_all().unwrap()["w"], b"before");
    }
}
