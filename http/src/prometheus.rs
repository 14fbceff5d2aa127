//! The Prometheus text exposition format (version 0.0.4), and `OpenMetrics`
//! 1.0 for scrapers that ask for it.

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use serde_json::Value;

use super::summary::Fields;
use super::{Record, Tally, count_states, escaped, seconds_since};

/// The content type of [`prometheus`]'s text.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The content type of [`openmetrics`]'s text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Metrics of the records in the Prometheus text format:
///
/// | metric | type | labels |
/// |---|---|---|
/// | `scoreboard_workers` | gauge | |
/// | `scoreboard_workers_by_state` | gauge | `state` (statuses that carry one, see [`state`](super::state)) |
/// | `scoreboard_worker_updates_total` | counter | `id` (when the count is known) |
/// | `scoreboard_worker_requests_total` | counter | `id` (JSON statuses with a request counter, see [`Summary`](super::Summary)) |
/// | `scoreboard_worker_busy_seconds` | gauge | `id`: how long each busy worker's request has run |
/// | `scoreboard_worker_seconds_since_update` | gauge | `id` |
/// | `scoreboard_worker_status_bytes` | gauge | `id` |
/// | `scoreboard_worker_status_field` | gauge | `id`, `field`: every number in a JSON status, nested keys joined with `.` |
///
/// Served with the content type [`PROMETHEUS_CONTENT_TYPE`].
///
/// # Examples
/// ```
/// # use std::time::{Duration, UNIX_EPOCH};
/// # use parallel_scoreboard_http::Record;
/// let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let records = [Record {
///     id: "w1".into(),
///     status: br#"{"state":"busy","queue":3}"#.to_vec(),
///     pid: Some(42),
///     updates: Some(7),
///     updated_at: at,
///     started_at: at - Duration::from_secs(60),
/// }];
/// let text = parallel_scoreboard_http::prometheus(&records, at + Duration::from_millis(1500), None);
/// assert!(text.contains("\nscoreboard_workers 1\n"));
/// assert!(text.contains("\nscoreboard_worker_seconds_since_update{id=\"w1\"} 1.500000\n"));
/// assert!(text.contains("\nscoreboard_worker_busy_seconds{id=\"w1\"} 1.500000\n"));
/// assert!(text.contains("\nscoreboard_worker_status_field{id=\"w1\",field=\"queue\"} 3\n"));
/// ```
///
/// With `totals`, the board-wide totals kept across reads by a
/// [`Totals`](super::Totals), which never go down while it keeps reading
/// (departed workers' counts stay in them), are added:
///
/// | metric | type | |
/// |---|---|---|
/// | `scoreboard_requests_total` | counter | when a status ever carried a request counter |
/// | `scoreboard_updates_total` | counter | when an update count was ever known |
///
/// ```
/// # use std::time::{Duration, UNIX_EPOCH};
/// use parallel_scoreboard_http::{Record, Totals, prometheus};
/// let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let worker = |pid: u32, requests: u64| Record {
///     id: "w1".into(),
///     status: format!(r#"{{"requests":{requests}}}"#).into_bytes(),
///     pid: Some(pid),
///     updates: Some(requests),
///     updated_at: at,
///     started_at: at,
/// };
/// let mut totals = Totals::new();
/// totals.observe(&[worker(1, 1000)]);
/// let now = [worker(2, 3)];
/// let text = prometheus(&now, at, Some(&totals.observe(&now)));
/// assert!(text.contains("\nscoreboard_requests_total 1003\n"));
/// assert!(text.contains("\nscoreboard_worker_requests_total{id=\"w1\"} 3\n"));
/// ```
#[must_use]
pub fn prometheus(records: &[Record], now: SystemTime, totals: Option<&Tally>) -> String {
    metrics(records, now, totals, false)
}

/// The metrics of [`prometheus`] (with `totals` as there) in the
/// `OpenMetrics` 1.0 text format: the
/// same samples, counters' families named without `_total`, and `# EOF` at
/// the end. Served with the content type [`OPENMETRICS_CONTENT_TYPE`].
///
/// # Examples
/// ```
/// # use std::time::{Duration, UNIX_EPOCH};
/// # use parallel_scoreboard_http::Record;
/// let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let records = [Record {
///     id: "w1".into(),
///     status: b"idle".to_vec(),
///     pid: Some(42),
///     updates: Some(7),
///     updated_at: at,
///     started_at: at,
/// }];
/// let text = parallel_scoreboard_http::openmetrics(&records, at, None);
/// assert!(text.contains("\n# TYPE scoreboard_worker_updates counter\n"));
/// assert!(text.contains("\nscoreboard_worker_updates_total{id=\"w1\"} 7\n"));
/// assert!(text.ends_with("\n# EOF\n"));
/// ```
#[must_use]
pub fn openmetrics(records: &[Record], now: SystemTime, totals: Option<&Tally>) -> String {
    metrics(records, now, totals, true)
}

/// Whether an HTTP `Accept` header prefers `OpenMetrics`
/// (`application/openmetrics-text`, any version) to the Prometheus text
/// format: it lists `OpenMetrics` with a quality above 0 and no other type
/// with a higher one.
///
/// ```
/// use parallel_scoreboard_http::wants_openmetrics;
/// // What Prometheus sends.
/// assert!(wants_openmetrics(
///     "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
///      text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
/// ));
/// assert!(!wants_openmetrics("text/plain;version=0.0.4"));
/// assert!(!wants_openmetrics("*/*"));
/// assert!(!wants_openmetrics("text/plain, application/openmetrics-text;q=0.5"));
/// assert!(!wants_openmetrics("application/openmetrics-text;q=0"));
/// ```
#[must_use]
pub fn wants_openmetrics(accept: &str) -> bool {
    let (mut open, mut other) = (0.0f64, 0.0f64);
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let kind = parts.next().unwrap_or("");
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f64>().ok())
            .unwrap_or(1.0);
        if kind.eq_ignore_ascii_case("application/openmetrics-text") {
            open = open.max(q);
        } else {
            other = other.max(q);
        }
    }
    open > 0.0 && open >= other
}

/// The metrics of [`prometheus`], with `tally`'s totals when given (`open`:
/// in `OpenMetrics`).
fn metrics(records: &[Record], now: SystemTime, tally: Option<&Tally>, open: bool) -> String {
    let mut s = String::with_capacity(512 + records.len() * 320);
    let family = Family { open };
    family.header(
        &mut s,
        "scoreboard_workers",
        "gauge",
        "Live workers on the board.",
    );
    let _ = writeln!(s, "scoreboard_workers {}", records.len());
    family.header(
        &mut s,
        "scoreboard_workers_by_state",
        "gauge",
        "Live workers whose status carries each state.",
    );
    for (st, n) in &count_states(records) {
        let _ = writeln!(
            s,
            "scoreboard_workers_by_state{{state=\"{}\"}} {n}",
            label(st)
        );
    }
    if let Some(tally) = tally {
        totals(&mut s, family, tally);
    }
    per_worker(&mut s, family, records, now);
    status_fields(&mut s, family, records);
    if open {
        s.push_str("# EOF\n");
    }
    s
}

/// The board-wide counters of `tally`.
fn totals(s: &mut String, family: Family, tally: &Tally) {
    let counters = [
        (
            "scoreboard_requests_total",
            "Requests counted by every worker seen, departed ones included.",
            tally.requests,
        ),
        (
            "scoreboard_updates_total",
            "Status updates made by every worker seen, departed ones included.",
            tally.updates,
        ),
    ];
    for (name, help, value) in counters {
        if let Some(n) = value {
            family.header(s, name, "counter", help);
            let _ = writeln!(s, "{name} {n}");
        }
    }
}

/// The metrics with one sample per worker.
fn per_worker(s: &mut String, family: Family, records: &[Record], now: SystemTime) {
    let fields: Vec<Fields> = records.iter().map(|r| Fields::of(&r.status)).collect();
    let with_fields = || records.iter().zip(&fields);
    per_id(
        s,
        family,
        ("scoreboard_worker_updates_total", "counter"),
        "Status updates each worker has made.",
        records.iter().filter_map(|r| Some((&*r.id, r.updates?))),
    );
    per_id(
        s,
        family,
        ("scoreboard_worker_requests_total", "counter"),
        "Requests each worker has counted in its status.",
        with_fields().filter_map(|(r, f)| Some((&*r.id, f.requests?))),
    );
    per_id(
        s,
        family,
        ("scoreboard_worker_busy_seconds", "gauge"),
        "Seconds each busy worker's current request has run.",
        with_fields()
            .filter_map(|(r, f)| Some((&*r.id, Seconds(seconds_since(f.busy_since(r)?, now))))),
    );
    per_id(
        s,
        family,
        ("scoreboard_worker_seconds_since_update", "gauge"),
        "Seconds since each worker's latest update.",
        records
            .iter()
            .map(|r| (&*r.id, Seconds(seconds_since(r.updated_at, now)))),
    );
    per_id(
        s,
        family,
        ("scoreboard_worker_status_bytes", "gauge"),
        "Length of each worker's status in bytes.",
        records.iter().map(|r| (&*r.id, r.status.len())),
    );
}

/// The family `name` of kind `kind` described by `help`, with a sample
/// `name{id="…"} value` for each worker id and value of `samples`.
fn per_id<'a, V: fmt::Display>(
    s: &mut String,
    family: Family,
    (name, kind): (&str, &str),
    help: &str,
    samples: impl Iterator<Item = (&'a str, V)>,
) {
    family.header(s, name, kind, help);
    for (id, value) in samples {
        let _ = writeln!(s, "{name}{{id=\"{}\"}} {value}", label(id));
    }
}

/// Seconds as samples give them: to the microsecond.
struct Seconds(f64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}", self.0)
    }
}

/// `scoreboard_worker_status_field`: the numbers in JSON statuses.
fn status_fields(s: &mut String, family: Family, records: &[Record]) {
    family.header(
        s,
        "scoreboard_worker_status_field",
        "gauge",
        "Numeric fields of JSON statuses.",
    );
    let mut fields = Vec::new();
    for r in records {
        let Ok(value) = serde_json::from_slice::<Value>(&r.status) else {
            continue;
        };
        fields.clear();
        numbers(&value, &mut String::new(), &mut fields);
        // `{"a.b": 1, "a": {"b": 2}}` gives the path `a.b` twice, and one
        // exposition must not hold two samples of a series (OpenMetrics says
        // so; Prometheus drops the second as an error): keep the one met
        // first (keys are visited in sorted order: here `a`'s `b`).
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        fields.dedup_by(|later, first| later.0 == first.0);
        for (field, n) in &fields {
            let _ = writeln!(
                s,
                "scoreboard_worker_status_field{{id=\"{}\",field=\"{}\"}} {n}",
                label(&r.id),
                label(field)
            );
        }
    }
}

/// How metric families are introduced: `OpenMetrics` names a counter's family
/// without the `_total` of its samples.
#[derive(Clone, Copy)]
struct Family {
    open: bool,
}

impl Family {
    fn header(self, s: &mut String, name: &str, kind: &str, help: &str) {
        let name = match name.strip_suffix("_total") {
            Some(family) if self.open && kind == "counter" => family,
            _ => name,
        };
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
}

/// Every number inside `value` (objects only, not arrays) with its key path.
fn numbers(value: &Value, path: &mut String, out: &mut Vec<(String, serde_json::Number)>) {
    match value {
        Value::Number(n) if !path.is_empty() => out.push((path.clone(), n.clone())),
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                if len > 0 {
                    path.push('.');
                }
                path.push_str(k);
                numbers(v, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(text: &str) -> String {
    escaped(text, |c| match c {
        '\\' => Some("\\\\"),
        '"' => Some("\\\""),
        '\n' => Some("\\n"),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::record;
    use std::time::Duration;

    #[test]
    fn a_key_path_given_twice_is_one_series() {
        let r = [record("j", br#"{"a.b":1,"a":{"b":2},"c":3}"#)];
        let text = prometheus(&r, SystemTime::UNIX_EPOCH, None);
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("scoreboard_worker_status_field{"))
            .collect();
        assert_eq!(
            series,
            [
                "scoreboard_worker_status_field{id=\"j\",field=\"a.b\"} 2",
                "scoreboard_worker_status_field{id=\"j\",field=\"c\"} 3",
            ],
            "{text}"
        );
    }

    #[test]
    fn all_metrics_with_escaped_labels() {
        let r = [
            record("a\"b\\c\nd", b"idle"),
            record(
                "j",
                br#"{"state":"busy","n":5,"lat":{"p99":0.25},"s":"x","l":[1]}"#,
            ),
        ];
        let text = prometheus(
            &r,
            SystemTime::UNIX_EPOCH + Duration::from_millis(3500),
            None,
        );
        let expected = [
            "scoreboard_workers 2",
            "scoreboard_workers_by_state{state=\"busy\"} 1",
            "scoreboard_workers_by_state{state=\"idle\"} 1",
            "scoreboard_worker_updates_total{id=\"a\\\"b\\\\c\\nd\"} 3",
            "scoreboard_worker_seconds_since_update{id=\"j\"} 2.500000",
            "scoreboard_worker_status_bytes{id=\"a\\\"b\\\\c\\nd\"} 4",
            "scoreboard_worker_status_field{id=\"j\",field=\"n\"} 5",
            "scoreboard_worker_status_field{id=\"j\",field=\"lat.p99\"} 0.25",
            "# TYPE scoreboard_worker_updates_total counter",
        ];
        for line in expected {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in\n{text}"
            );
        }
        assert!(!text.contains("field=\"s\""));
        assert!(!text.contains("# EOF"));
        // Only `j` carries a request counter, and only busy workers have a
        // busy time (`j` has no `since`: since its last update, at 1 s).
        assert!(text.contains("\n# TYPE scoreboard_worker_requests_total counter\n"));
        assert_eq!(text.matches("scoreboard_worker_requests_total{").count(), 0);
        assert_eq!(text.matches("scoreboard_worker_busy_seconds{").count(), 1);
        assert!(text.contains("\nscoreboard_worker_busy_seconds{id=\"j\"} 2.500000\n"));
        let counted = [record("c", br#"{"state":"idle","requests":12}"#)];
        let text = prometheus(&counted, SystemTime::UNIX_EPOCH, None);
        assert!(text.contains("\nscoreboard_worker_requests_total{id=\"c\"} 12\n"));
        assert!(!text.contains("field=\"l\""));
        // Every sample line is `name{labels} value` or `name value`.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = l.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap();
        }
    }

    /// The `OpenMetrics` text, checked against the rules of its ABNF that
    /// the Prometheus text does not share: `# EOF` last and once; each
    /// family's `# TYPE` (and `# HELP`) once, before its samples, which are
    /// contiguous; a counter's family named without `_total` and its samples
    /// with it; a gauge's samples named as their family.
    #[test]
    fn openmetrics_shape() {
        let r = [
            record("a", br#"{"state":"busy","requests":3,"x":{"y":1.5}}"#),
            record("b", b"idle"),
        ];
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(5);
        let text = openmetrics(&r, now, None);
        let body = text.strip_suffix("# EOF\n").expect("ends with # EOF");
        assert!(!body.contains("# EOF"));
        let mut families: Vec<(String, String)> = Vec::new();
        let mut done = std::collections::HashSet::new();
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["gauge", "counter"].contains(&kind), "{line}");
                if kind == "counter" {
                    assert!(!name.ends_with("_total"), "{line}");
                }
                if let Some((prev, _)) = families.last() {
                    done.insert(prev.clone());
                }
                assert!(!done.contains(name), "{name} declared twice");
                families.push((name.to_owned(), kind.to_owned()));
                continue;
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(
                    !families.iter().any(|(f, _)| f == name),
                    "HELP after TYPE: {line}"
                );
                continue;
            }
            assert!(!line.starts_with('#'), "{line}");
            let (name, kind) = families.last().expect("a sample before any TYPE");
            let sample = line.split(['{', ' ']).next().unwrap();
            let expected = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.clone()
            };
            assert_eq!(sample, expected, "{line}");
            let (_, value) = line.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap();
        }
        assert_eq!(families.len(), 8);
        // The same samples as the Prometheus text.
        let samples = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(samples(&text), samples(&prometheus(&r, now, None)));
        assert!(text.contains("\nscoreboard_worker_requests_total{id=\"a\"} 3\n"));
    }
}
