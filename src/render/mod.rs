//! Renderers of a snapshot for monitoring pages: an HTML status page in the
//! manner of `mod_status`, JSON, the Prometheus text exposition format (and
//! `OpenMetrics`), and `mod_status`'s machine-readable `?auto` text (feature
//! `render`).
//!
//! Each renderer is a pure function of a list of [`Record`]s (one per live
//! worker, as [`records`] makes from a [`Snapshot`]) and the current time, so
//! it can serve any HTTP stack. A [`Summary`] of the records is what the
//! page and `?auto` show of the board as a whole: counts by state (from
//! [`count_states`], the one count every view uses), request totals, the
//! grid of one character per worker and rates: given the previous read, or
//! with [`Totals`] kept across reads (departed workers' counts kept),
//! `mod_status`'s totals over the uptime.
//! With the `axum` feature, [`router`] serves them all.
//!
//! ```
//! use parallel_scoreboard::{render, Scoreboard};
//! # let tmp = tempfile::tempdir()?;
//! let board = Scoreboard::open(tmp.path())?;
//! let mut w = board.worker_with_id("w1")?;
//! w.update(br#"{"state":"busy","requests":12}"#)?;
//!
//! let mut snap = parallel_scoreboard::Snapshot::default();
//! board.read_into(&mut snap)?;
//! let records = render::records(&snap);
//! let now = std::time::SystemTime::now();
//! assert!(render::html(&records, now, &render::HtmlOptions::default()).contains("<td class=\"id\">w1</td>"));
//! assert_eq!(render::json_map(&records), r#"{"w1":{"requests":12,"state":"busy"}}"#);
//! assert!(render::prometheus(&records, now).contains("scoreboard_worker_status_field{id=\"w1\",field=\"requests\"} 12\n"));
//! let summary = render::Summary::new(&records, now);
//! assert!(render::auto(&summary).ends_with("BusyWorkers: 1\nIdleWorkers: 0\nScoreboard: W\n"));
//! # Ok::<(), parallel_scoreboard::Error>(())
//! ```

mod auto;
mod html;
mod json;
mod prometheus;
mod summary;
mod time;
mod totals;

#[cfg(feature = "axum")]
mod router;

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::board::{Snapshot, WorkerStatus};

pub use auto::auto;
pub use html::{HtmlOptions, html, html_with_summary};
pub use json::{json_list, json_map};
pub use prometheus::{
    OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, openmetrics, openmetrics_with_totals,
    prometheus, prometheus_with_totals, wants_openmetrics,
};
#[cfg(feature = "axum")]
pub use router::{ReadFn, router, router_with};
pub use summary::{GRID_KEY, Rates, RatesOver, Summary, grid_char};
pub use time::{parse_rfc3339, rfc3339};
pub use totals::{Tally, Totals};

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
    // JSON statuses: only the fields the summaries use are kept; the rest
    // is checked, not built.
    summary::Fields::of(status).state
}

/// The state of a text status: a first word `busy` or `idle` (any case).
fn text_state(status: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(status).ok()?;
    let word = text.split_whitespace().next()?;
    ["busy", "idle"]
        .into_iter()
        .find(|s| word.eq_ignore_ascii_case(s))
        .map(str::to_owned)
}

/// How many live workers carry each state (see [`state`]): the one count
/// behind the HTML page, the Prometheus metrics, the `?auto` text and the
/// `scoreboard watch` summary. Workers whose status carries no state are not
/// counted.
///
/// ```
/// # use std::time::UNIX_EPOCH;
/// use parallel_scoreboard::render::{Record, count_states};
/// let record = |status: &str| Record {
///     id: status.into(),
///     status: status.as_bytes().to_vec(),
///     pid: None,
///     updates: None,
///     updated_at: UNIX_EPOCH,
///     started_at: UNIX_EPOCH,
/// };
/// let records = [record("busy GET /"), record("idle"), record("busy"), record("hello")];
/// let counts = count_states(&records);
/// assert_eq!(counts.get("busy"), Some(&2));
/// assert_eq!(counts.get("idle"), Some(&1));
/// assert_eq!(counts.len(), 2);
/// ```
#[must_use]
pub fn count_states<'a>(records: impl IntoIterator<Item = &'a Record>) -> BTreeMap<String, usize> {
    let mut states = BTreeMap::new();
    for r in records {
        if let Some(st) = state(&r.status) {
            *states.entry(st).or_default() += 1;
        }
    }
    states
}

/// The string field `state` of a JSON object (the last one, as a map keeps),
/// if it has one; any other JSON is an error.
/// `text` with each character `escape` has a replacement for replaced: the
/// one loop of the renderers' escapes (HTML's, Prometheus labels').
fn escaped(text: &str, escape: impl Fn(char) -> Option<&'static str>) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match escape(c) {
            Some(replacement) => s.push_str(replacement),
            None => s.push(c),
        }
    }
    s
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
        assert_eq!(
            state(br#"{"state":"a","x":[1,{"state":"b"}],"state":"c"}"#).as_deref(),
            Some("c")
        );
        assert_eq!(state(br#"{"state":"busy"} trailing"#), None);
        assert_eq!(state(br#"{"x":1}"#), None);
        assert_eq!(state(b""), None);
    }
}
