//! The Prometheus text exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use serde_json::Value;

use super::{Record, seconds_since, state};

/// Metrics of the records in the Prometheus text format:
///
/// | metric | type | labels |
/// |---|---|---|
/// | `scoreboard_workers` | gauge | |
/// | `scoreboard_workers_by_state` | gauge | `state` (statuses that carry one, see [`state`]) |
/// | `scoreboard_worker_updates_total` | counter | `id` (when the count is known) |
/// | `scoreboard_worker_seconds_since_update` | gauge | `id` |
/// | `scoreboard_worker_status_bytes` | gauge | `id` |
/// | `scoreboard_worker_status_field` | gauge | `id`, `field`: every number in a JSON status, nested keys joined with `.` |
///
/// # Examples
/// ```
/// # use std::time::{Duration, UNIX_EPOCH};
/// # use parallel_scoreboard::render::Record;
/// let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let records = [Record {
///     id: "w1".into(),
///     status: br#"{"state":"busy","queue":3}"#.to_vec(),
///     pid: Some(42),
///     updates: Some(7),
///     updated_at: at,
///     started_at: at - Duration::from_secs(60),
/// }];
/// let text = parallel_scoreboard::render::prometheus(&records, at + Duration::from_millis(1500));
/// assert!(text.contains("\nscoreboard_workers 1\n"));
/// assert!(text.contains("\nscoreboard_worker_seconds_since_update{id=\"w1\"} 1.500000\n"));
/// assert!(text.contains("\nscoreboard_worker_status_field{id=\"w1\",field=\"queue\"} 3\n"));
/// ```
#[must_use]
pub fn prometheus(records: &[Record], now: SystemTime) -> String {
    let mut s = String::with_capacity(512 + records.len() * 256);
    header(
        &mut s,
        "scoreboard_workers",
        "gauge",
        "Live workers on the board.",
    );
    let _ = writeln!(s, "scoreboard_workers {}", records.len());

    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for r in records {
        if let Some(st) = state(&r.status) {
            *states.entry(st).or_default() += 1;
        }
    }
    header(
        &mut s,
        "scoreboard_workers_by_state",
        "gauge",
        "Live workers whose status carries each state.",
    );
    for (st, n) in &states {
        let _ = writeln!(
            s,
            "scoreboard_workers_by_state{{state=\"{}\"}} {n}",
            label(st)
        );
    }

    header(
        &mut s,
        "scoreboard_worker_updates_total",
        "counter",
        "Status updates each worker has made.",
    );
    for r in records {
        if let Some(n) = r.updates {
            let _ = writeln!(
                s,
                "scoreboard_worker_updates_total{{id=\"{}\"}} {n}",
                label(&r.id)
            );
        }
    }
    header(
        &mut s,
        "scoreboard_worker_seconds_since_update",
        "gauge",
        "Seconds since each worker's latest update.",
    );
    for r in records {
        let age = seconds_since(r.updated_at, now);
        let _ = writeln!(
            s,
            "scoreboard_worker_seconds_since_update{{id=\"{}\"}} {age:.6}",
            label(&r.id)
        );
    }
    header(
        &mut s,
        "scoreboard_worker_status_bytes",
        "gauge",
        "Length of each worker's status in bytes.",
    );
    for r in records {
        let n = r.status.len();
        let _ = writeln!(
            s,
            "scoreboard_worker_status_bytes{{id=\"{}\"}} {n}",
            label(&r.id)
        );
    }
    header(
        &mut s,
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
        for (field, n) in &fields {
            let _ = writeln!(
                s,
                "scoreboard_worker_status_field{{id=\"{}\",field=\"{}\"}} {n}",
                label(&r.id),
                label(field)
            );
        }
    }
    s
}

fn header(s: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
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
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::record;
    use std::time::Duration;

    #[test]
    fn all_metrics_with_escaped_labels() {
        let r = [
            record("a\"b\\c\nd", b"idle"),
            record(
                "j",
                br#"{"state":"busy","n":5,"lat":{"p99":0.25},"s":"x","l":[1]}"#,
            ),
        ];
        let text = prometheus(&r, SystemTime::UNIX_EPOCH + Duration::from_millis(3500));
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
        assert!(!text.contains("field=\"l\""));
        // Every sample line is `name{labels} value` or `name value`.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = l.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap();
        }
    }
}
