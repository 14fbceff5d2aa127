//! Renderers of a snapshot for monitoring pages: an HTML table, JSON and the
//! Prometheus text exposition format (feature `render`).
//!
//! Each renderer is a pure function of a list of [`Record`]s (one per live
//! worker, as [`records`] makes from a [`Snapshot`]) and the current time, so
//! it can serve any HTTP stack. With the `axum` feature, [`router`] serves all
//! three.
//!
//! ```
//! use parallel_scoreboard::{render, Scoreboard};
//! # let tmp = tempfile::tempdir()?;
//! let board = Scoreboard::open(tmp.path())?;
//! let mut w = board.worker_with_id("w1")?;
//! w.update(br#"{"state":"busy","requests":12}"#)?;
//!
//! let records = render::records(&board.snapshot()?);
//! let now = std::time::SystemTime::now();
//! assert!(render::html(&records, now, &render::HtmlOptions::default()).contains("<td class=\"id\">w1</td>"));
//! assert_eq!(render::json_map(&records), r#"{"w1":{"requests":12,"state":"busy"}}"#);
//! assert!(render::prometheus(&records, now).contains("scoreboard_worker_status_field{id=\"w1\",field=\"requests\"} 12\n"));
//! # Ok::<(), parallel_scoreboard::Error>(())
//! ```

mod html;
mod json;
mod prometheus;
mod time;

#[cfg(feature = "axum")]
mod router;

use std::time::SystemTime;

use crate::board::{Snapshot, WorkerStatus};

pub use html::{HtmlOptions, html};
pub use json::{json_list, json_map};
pub use prometheus::prometheus;
#[cfg(feature = "axum")]
pub use router::{ReadFn, router, router_with};
pub use time::rfc3339;

/// One live worker as the renderers show it.
///
/// Made from a [`WorkerStatus`] by [`records`] or `From`; other sources (a
/// board written by the original Perl module, say) fill in what they know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The worker's id.
    pub id: String,
    /// Its latest status.
    pub status: Vec<u8>,
    /// The process that owns it, when known.
    pub pid: Option<u32>,
    /// How many updates it has made, when known.
    pub updates: Option<u64>,
    /// When it made the latest one.
    pub updated_at: SystemTime,
    /// When it started.
    pub started_at: SystemTime,
}

impl From<&WorkerStatus> for Record {
    fn from(w: &WorkerStatus) -> Self {
        Self {
            id: w.id.clone(),
            status: w.status.clone(),
            pid: Some(w.pid),
            updates: Some(w.updates),
            updated_at: w.updated_at,
            started_at: w.started_at,
        }
    }
}

impl From<WorkerStatus> for Record {
    fn from(w: WorkerStatus) -> Self {
        Self {
            id: w.id,
            status: w.status,
            pid: Some(w.pid),
            updates: Some(w.updates),
            updated_at: w.updated_at,
            started_at: w.started_at,
        }
    }
}

/// The records of every worker in `snapshot`, sorted by id as it is.
#[must_use]
pub fn records(snapshot: &Snapshot) -> Vec<Record> {
    snapshot.workers.iter().map(Record::from).collect()
}

/// The state a status carries, if any: the string field `state` of a JSON
/// object, or a first word `busy` or `idle` (any case) of a text status.
///
/// ```
/// use parallel_scoreboard::render::state;
/// assert_eq!(state(b"busy GET /index.html").as_deref(), Some("busy"));
/// assert_eq!(state(br#"{"state":"idle"}"#).as_deref(), Some("idle"));
/// assert_eq!(state(b"working hard"), None);
/// ```
#[must_use]
pub fn state(status: &[u8]) -> Option<String> {
    if status.first() == Some(&b'{') {
        // Only the field `state` is kept: the rest is checked, not built.
        return serde_json::from_slice::<StateField>(status).ok()?.0;
    }
    let text = std::str::from_utf8(status).ok()?;
    let word = text.split_whitespace().next()?;
    ["busy", "idle"]
        .into_iter()
        .find(|s| word.eq_ignore_ascii_case(s))
        .map(str::to_owned)
}

/// The string field `state` of a JSON object (the last one, as a map keeps),
/// if it has one; any other JSON is an error.
struct StateField(Option<String>);

impl<'de> serde::Deserialize<'de> for StateField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = StateField;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<StateField, A::Error> {
                let mut state = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "state" {
                        let value: serde_json::Value = map.next_value()?;
                        state = value.as_str().map(str::to_owned);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(StateField(state))
            }
        }
        d.deserialize_map(Fields)
    }
}

/// How many seconds lie between `then` and `now` (0 when `then` is later).
#[must_use]
pub fn seconds_since(then: SystemTime, now: SystemTime) -> f64 {
    now.duration_since(then).unwrap_or_default().as_secs_f64()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record for the renderers' tests: pid 9, 3 updates, updated 1 s
    /// after the epoch, started at it.
    pub(crate) fn record(id: &str, status: &[u8]) -> Record {
        Record {
            id: id.to_owned(),
            status: status.to_vec(),
            pid: Some(9),
            updates: Some(3),
            updated_at: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1),
            started_at: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn states_come_from_json_or_the_first_word() {
        assert_eq!(state(b"IDLE").as_deref(), Some("idle"));
        assert_eq!(state(b"  busy\tPOST /x").as_deref(), Some("busy"));
        assert_eq!(state(br#"{"state":"reading"}"#).as_deref(), Some("reading"));
        assert_eq!(state(br#"{"state":3}"#), None);
        assert_eq!(state(b"{not json"), None);
        assert_eq!(state(b"busybody"), None);
        assert_eq!(state(b"\xff busy"), None);
        assert_eq!(state(br#"{"state":"a","x":[1,{"state":"b"}],"state":"c"}"#).as_deref(), Some("c"));
        assert_eq!(state(br#"{"state":"busy"} trailing"#), None);
        assert_eq!(state(br#"{"x":1}"#), None);
        assert_eq!(state(b""), None);
    }
}
