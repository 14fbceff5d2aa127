//! What a status page shows above its table, as `mod_status` does: counts by
//! state, the total of the workers' request counters, rates (since the
//! previous read, or `mod_status`'s accesses over uptime), the age of the
//! oldest busy request, and the grid of one character per worker.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::{Record, Tally, count_states, parse_rfc3339, text_state};

/// The characters of [`Summary::grid`] and what they mean, in the order the
/// page's key lists them. `W` and `_` are `mod_status`'s own.
pub const GRID_KEY: [(char, &str); 3] = [('W', "busy"), ('_', "idle"), ('?', "state unknown")];

/// The grid character of a worker in `state` (see [`state`](super::state)): `W` busy,
/// `_` idle, `?` for any other state or none.
///
/// ```
/// use parallel_scoreboard_http::grid_char;
/// assert_eq!(grid_char(Some("busy")), 'W');
/// assert_eq!(grid_char(Some("idle")), '_');
/// assert_eq!(grid_char(Some("reading")), '?');
/// assert_eq!(grid_char(None), '?');
/// ```
#[must_use]
pub fn grid_char(state: Option<&str>) -> char {
    match state {
        Some("busy") => 'W',
        Some("idle") => '_',
        _ => '?',
    }
}

/// The board as a whole at one read: what the status page, `?auto` and the
/// rates show.
///
/// Request counters are the numeric field `requests` (or else `count`) of
/// a JSON status, as the tower layer and the examples write them. A busy
/// worker's request started at its status's `since` field (Unix seconds, or
/// an RFC 3339 string), or else when it last updated its status.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// When the read was taken.
    pub at: SystemTime,
    /// Live workers.
    pub workers: usize,
    /// Live workers by state, from [`count_states`].
    pub states: BTreeMap<String, usize>,
    /// The sum of the request counters of the statuses that carry one
    /// (with [`Summary::with_totals`], of departed workers' too); `None`
    /// when none does.
    pub requests: Option<u64>,
    /// The sum of the workers' update counts, where known (with
    /// [`Summary::with_totals`], of departed workers' too).
    pub updates: Option<u64>,
    /// How long the oldest request of a busy worker has run.
    pub oldest_busy: Option<Duration>,
    /// How long the longest-running live worker has run (with
    /// [`Summary::with_totals`], the earliest-started worker counted).
    pub uptime: Option<Duration>,
    /// One character per worker, in the records' order (see [`GRID_KEY`]).
    pub grid: String,
    /// Requests and updates per second: since the previous read (see
    /// [`Summary::with_previous`]) or over the uptime (see
    /// [`Summary::with_totals`]).
    pub rates: Option<Rates>,
}

/// Requests and updates per second over some time.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Rates {
    /// The time the rates are over.
    pub interval: Duration,
    /// What that time is.
    pub over: RatesOver,
    /// Requests per second; `None` when no status carries a counter.
    pub requests_per_second: Option<f64>,
    /// Updates per second; `None` when no update count is known.
    pub updates_per_second: Option<f64>,
}

/// What the time of [`Rates`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RatesOver {
    /// Between two reads ([`Summary::with_previous`]).
    PreviousRead,
    /// Since the earliest-started worker counted: `mod_status`'s accesses
    /// over uptime ([`Summary::with_totals`]).
    Uptime,
}

/// What one status says, parsed once.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) state: Option<String>,
    pub(crate) requests: Option<u64>,
    pub(crate) since: Option<SystemTime>,
}

impl Fields {
    /// The fields of a status: a JSON object's `state`, `requests` (or
    /// `count`) and `since`, or a text status's first word; nothing from a
    /// status that starts with `{` but is not a JSON object.
    pub(crate) fn of(status: &[u8]) -> Self {
        if status.first() == Some(&b'{') {
            serde_json::from_slice(status).unwrap_or_default()
        } else {
            Self {
                state: text_state(status),
                ..Self::default()
            }
        }
    }

    /// When the request of a busy worker started.
    pub(crate) fn busy_since(&self, record: &Record) -> Option<SystemTime> {
        (self.state.as_deref() == Some("busy")).then(|| self.since.unwrap_or(record.updated_at))
    }
}

/// A JSON object read for its fields only: the others are checked, not
/// built. Where a key repeats, the last one counts, as in a map.
impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = Fields;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let (mut fields, mut count) = (Fields::default(), None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "state" => {
                            fields.state = map.next_value::<Value>()?.as_str().map(str::to_owned);
                        }
                        "requests" => fields.requests = map.next_value::<Value>()?.as_u64(),
                        "count" => count = map.next_value::<Value>()?.as_u64(),
                        "since" => fields.since = time_of(&map.next_value::<Value>()?),
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                fields.requests = fields.requests.or(count);
                Ok(fields)
            }
        }
        d.deserialize_map(Keys)
    }
}

/// A time as Unix seconds or an RFC 3339 string.
fn time_of(value: &Value) -> Option<SystemTime> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .map(|d| UNIX_EPOCH + d),
        Value::String(s) => parse_rfc3339(s),
        _ => None,
    }
}

impl Summary {
    /// The summary of `records`, read at `now`, without rates.
    ///
    /// # Examples
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// use parallel_scoreboard_http::{Record, Summary};
    /// let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// let record = |id: &str, status: &str| Record {
    ///     id: id.into(),
    ///     status: status.as_bytes().to_vec(),
    ///     pid: Some(7),
    ///     updates: Some(10),
    ///     updated_at: now - Duration::from_secs(2),
    ///     started_at: now - Duration::from_secs(60),
    /// };
    /// let records = [
    ///     record("a", r#"{"state":"busy","requests":5,"since":1799999990}"#),
    ///     record("b", r#"{"state":"idle","requests":7}"#),
    ///     record("c", "starting"),
    /// ];
    /// let s = Summary::new(&records, now);
    /// assert_eq!(s.grid, "W_?");
    /// assert_eq!(s.requests, Some(12));
    /// assert_eq!(s.updates, Some(30));
    /// assert_eq!(s.oldest_busy, Some(Duration::from_secs(10)));
    /// assert_eq!(s.uptime, Some(Duration::from_secs(60)));
    /// assert_eq!((s.busy(), s.idle()), (1, 1));
    /// ```
    #[must_use]
    pub fn new(records: &[Record], now: SystemTime) -> Self {
        let fields: Vec<Fields> = records.iter().map(|r| Fields::of(&r.status)).collect();
        let age = |t: SystemTime| now.duration_since(t).unwrap_or_default();
        let sum = |values: &mut dyn Iterator<Item = Option<u64>>| {
            values.flatten().fold(None, |total: Option<u64>, n| {
                Some(total.unwrap_or(0).saturating_add(n))
            })
        };
        Self {
            at: now,
            workers: records.len(),
            states: count_states(records),
            requests: sum(&mut fields.iter().map(|f| f.requests)),
            updates: sum(&mut records.iter().map(|r| r.updates)),
            oldest_busy: records
                .iter()
                .zip(&fields)
                .filter_map(|(r, f)| f.busy_since(r))
                .map(age)
                .max(),
            uptime: records.iter().map(|r| age(r.started_at)).max(),
            grid: fields
                .iter()
                .map(|f| grid_char(f.state.as_deref()))
                .collect(),
            rates: None,
        }
    }

    /// The summary of `records` read at `now`, with the rates since the
    /// read of `previous` at `previous_at`.
    ///
    /// A worker's requests and updates since then are the growth of its
    /// counters when the previous read saw the same worker (same id, pid
    /// and start), all of them when it started after that read, and are
    /// left out otherwise. Reads less than a millisecond apart give no rates.
    ///
    /// # Examples
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// use parallel_scoreboard_http::{Record, Summary};
    /// let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// let record = |requests: u64, updates: u64| Record {
    ///     id: "w1".into(),
    ///     status: format!(r#"{{"state":"idle","requests":{requests}}}"#).into_bytes(),
    ///     pid: Some(7),
    ///     updates: Some(updates),
    ///     updated_at: t0,
    ///     started_at: t0 - Duration::from_secs(60),
    /// };
    /// let before = [record(100, 200)];
    /// let after = [record(110, 240)];
    /// let s = Summary::with_previous(&after, t0 + Duration::from_secs(2), &before, t0);
    /// let rates = s.rates.unwrap();
    /// assert_eq!(rates.requests_per_second, Some(5.0));
    /// assert_eq!(rates.updates_per_second, Some(20.0));
    /// ```
    #[must_use]
    pub fn with_previous(
        records: &[Record],
        now: SystemTime,
        previous: &[Record],
        previous_at: SystemTime,
    ) -> Self {
        let mut summary = Self::new(records, now);
        let interval = now.duration_since(previous_at).unwrap_or_default();
        if interval >= Duration::from_millis(1) {
            summary.rates = Some(rates(records, previous, previous_at, interval));
        }
        summary
    }

    /// The summary of `records` read at `now`, with the totals `tally`
    /// (from a [`Totals`](super::Totals) that has seen them): `requests`
    /// and `updates` count departed workers too, `uptime` runs from
    /// `tally.since`, and the rates are `mod_status`'s: the totals over the
    /// uptime, the same for every reader whoever read before.
    ///
    /// # Examples
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// use parallel_scoreboard_http::{Record, Summary, Totals};
    /// let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// let records = [Record {
    ///     id: "w1".into(),
    ///     status: br#"{"state":"idle","requests":120}"#.to_vec(),
    ///     pid: Some(7),
    ///     updates: Some(240),
    ///     updated_at: t0,
    ///     started_at: t0 - Duration::from_secs(60),
    /// }];
    /// let tally = Totals::new().observe(&records);
    /// let s = Summary::with_totals(&records, t0, &tally);
    /// assert_eq!(s.requests, Some(120));
    /// assert_eq!(s.uptime, Some(Duration::from_secs(60)));
    /// let rates = s.rates.unwrap();
    /// assert_eq!(rates.requests_per_second, Some(2.0));
    /// assert_eq!(rates.updates_per_second, Some(4.0));
    /// ```
    #[must_use]
    pub fn with_totals(records: &[Record], now: SystemTime, tally: &Tally) -> Self {
        let mut summary = Self::new(records, now);
        summary.requests = tally.requests;
        summary.updates = tally.updates;
        if let Some(since) = tally.since {
            let uptime = now.duration_since(since).unwrap_or_default();
            summary.uptime = Some(uptime);
            if uptime >= Duration::from_millis(1) {
                let per_second = |n: u64| per_second(n, uptime);
                summary.rates = Some(Rates {
                    interval: uptime,
                    over: RatesOver::Uptime,
                    requests_per_second: tally.requests.map(per_second),
                    updates_per_second: tally.updates.map(per_second),
                });
            }
        }
        summary
    }

    /// Workers whose state is `busy`.
    #[must_use]
    pub fn busy(&self) -> usize {
        self.states.get("busy").copied().unwrap_or(0)
    }

    /// Workers whose state is `idle`.
    #[must_use]
    pub fn idle(&self) -> usize {
        self.states.get("idle").copied().unwrap_or(0)
    }
}

/// The rates of [`Summary::with_previous`].
fn rates(
    records: &[Record],
    previous: &[Record],
    previous_at: SystemTime,
    interval: Duration,
) -> Rates {
    let before: HashMap<&str, (&Record, Option<u64>)> = previous
        .iter()
        .map(|r| (r.id.as_str(), (r, Fields::of(&r.status).requests)))
        .collect();
    let (mut requests, mut updates) = (None::<u64>, None::<u64>);
    let add = |total: &mut Option<u64>, n: u64| *total = Some(total.unwrap_or(0) + n);
    for r in records {
        let now_requests = Fields::of(&r.status).requests;
        let (d_requests, d_updates) = match before.get(r.id.as_str()) {
            Some((p, p_requests)) if p.pid == r.pid && p.started_at == r.started_at => (
                now_requests
                    .zip(*p_requests)
                    .map(|(n, b)| n.saturating_sub(b)),
                r.updates.zip(p.updates).map(|(n, b)| n.saturating_sub(b)),
            ),
            _ if r.started_at >= previous_at => (now_requests, r.updates),
            _ => (None, None),
        };
        if let Some(n) = d_requests {
            add(&mut requests, n);
        }
        if let Some(n) = d_updates {
            add(&mut updates, n);
        }
    }
    let per_second = |n: u64| per_second(n, interval);
    Rates {
        interval,
        over: RatesOver::PreviousRead,
        requests_per_second: requests.map(per_second),
        updates_per_second: updates.map(per_second),
    }
}

/// `n` per `interval` (counts stay far below 2^52, where `f64` is exact).
#[allow(clippy::cast_precision_loss)]
fn per_second(n: u64, interval: Duration) -> f64 {
    n as f64 / interval.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::record;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn counts_totals_grid_and_ages() {
        let mut old = record("old", br#"{"state":"busy","since":"1970-01-01T00:00:02Z"}"#);
        old.started_at = at(1);
        let r = [
            record("a", b"busy GET /"),
            record("b", br#"{"state":"idle","count":4}"#),
            record("c", br#"{"state":"busy","requests":3,"since":5.5}"#),
            record("d", b"\xff\xfe"),
            record("e", br#"{"requests":"many"}"#),
            old,
        ];
        let s = Summary::new(&r, at(10));
        assert_eq!(s.grid, "W_W??W");
        assert_eq!(s.workers, 6);
        assert_eq!((s.busy(), s.idle()), (3, 1));
        assert_eq!(s.requests, Some(7));
        assert_eq!(s.updates, Some(18));
        // `old` started its request at 2 s, `c` at 5.5 s, `a` updated at 1 s.
        assert_eq!(s.oldest_busy, Some(Duration::from_secs(9)));
        assert_eq!(s.uptime, Some(Duration::from_secs(10)));
        assert_eq!(s.rates, None);

        let none = Summary::new(&[record("x", b"idle")], at(0));
        assert_eq!((none.requests, none.oldest_busy), (None, None));
        let empty = Summary::new(&[], at(0));
        assert_eq!(
            (empty.grid.as_str(), empty.uptime, empty.updates),
            ("", None, None)
        );
    }

    #[test]
    fn rates_count_only_what_happened_between_the_reads() {
        let with = |id: &str, requests: u64, updates: u64, started: u64| {
            let mut r = record(id, format!(r#"{{"requests":{requests}}}"#).as_bytes());
            r.updates = Some(updates);
            r.started_at = at(started);
            r
        };
        let before = [
            with("same", 10, 100, 0),
            with("restarted", 50, 500, 0),
            with("gone", 1, 1, 0),
        ];
        let after = [
            with("same", 14, 120, 0),      // +4 requests, +20 updates
            with("restarted", 2, 8, 12),   // a new worker under an old id: all of it
            with("new", 1, 2, 11),         // started after the previous read
            with("unseen", 1000, 1000, 0), // the previous read missed it: left out
        ];
        let s = Summary::with_previous(&after, at(14), &before, at(10));
        let rates = s.rates.unwrap();
        assert_eq!(rates.interval, Duration::from_secs(4));
        assert_eq!(rates.requests_per_second, Some(7.0 / 4.0));
        assert_eq!(rates.updates_per_second, Some(30.0 / 4.0));

        // Counters that went down (a reset) count as no growth.
        let s = Summary::with_previous(&[with("same", 1, 1, 0)], at(12), &before, at(10));
        assert_eq!(s.rates.unwrap().requests_per_second, Some(0.0));
        // No time between the reads, no rates; none known, none shown.
        assert_eq!(
            Summary::with_previous(&after, at(10), &before, at(10)).rates,
            None
        );
        let plain = [record("p", b"idle")];
        let rates = Summary::with_previous(&plain, at(12), &plain, at(10))
            .rates
            .unwrap();
        assert_eq!(rates.requests_per_second, None);
        assert_eq!(rates.updates_per_second, Some(0.0));
    }
}
