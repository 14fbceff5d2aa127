//! [`Record`], one live worker as the renderers show it, and the state a
//! status carries ([`state`], [`count_states`]).

use std::collections::BTreeMap;
use std::time::SystemTime;

use parallel_scoreboard::WorkerStatus;

/// One live worker as the renderers show it.
///
/// The core's [`WorkerStatus`] always knows a worker's pid and update count;
/// other sources do not (a board written by the original Perl module keeps
/// neither), so the renderers take this record, in which both are optional.
/// A `WorkerStatus` becomes one by `From` (moving its id and status, no
/// copy):
///
/// ```
/// use parallel_scoreboard::Scoreboard;
/// use parallel_scoreboard_http::Record;
/// # let tmp = tempfile::tempdir()?;
/// let board = Scoreboard::open(tmp.path())?;
/// # let mut w = board.worker_with_id("w1")?;
/// # w.update(b"idle")?;
/// let mut snap = parallel_scoreboard::Snapshot::default();
/// board.read_into(&mut snap)?;
/// let records: Vec<Record> = snap.workers.into_iter().map(Record::from).collect();
/// # assert_eq!(records[0].pid, Some(std::process::id()));
/// # Ok::<(), parallel_scoreboard::Error>(())
/// ```
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

/// The state a status carries, if any: the string field `state` of a JSON
/// object, or a first word `busy` or `idle` (any case) of a text status.
///
/// ```
/// use parallel_scoreboard_http::state;
/// assert_eq!(state(b"busy GET /index.html").as_deref(), Some("busy"));
/// assert_eq!(state(br#"{"state":"idle"}"#).as_deref(), Some("idle"));
/// assert_eq!(state(b"working hard"), None);
/// ```
#[must_use]
pub fn state(status: &[u8]) -> Option<String> {
    // JSON statuses: only the fields the summaries use are kept; the rest
    // is checked, not built.
    crate::summary::Fields::of(status).state
}

/// The state of a text status: a first word `busy` or `idle` (any case).
pub(crate) fn text_state(status: &[u8]) -> Option<String> {
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
/// use parallel_scoreboard_http::{Record, count_states};
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

/// `text` with each character `escape` has a replacement for replaced: the
/// one loop of the renderers' escapes (HTML's, Prometheus labels').
pub(crate) fn escaped(text: &str, escape: impl Fn(char) -> Option<&'static str>) -> String {
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
