//! `mod_status`'s machine-readable `?auto` format, which collectors written
//! for Apache (`apache_exporter`, Datadog, collectd, Zabbix) parse.

use std::fmt::Write as _;

use super::Summary;

/// The summary as `mod_status`'s `?auto` text: one `Key: value` line each,
/// in `mod_status`'s order, and only the keys this board can fill truthfully:
///
/// | key | value | when |
/// |---|---|---|
/// | `ServerUptimeSeconds`, `Uptime` | whole seconds since the longest-running live worker started (with [`Summary::with_totals`], the earliest-started worker counted) | the summary has an uptime |
/// | `Total Accesses` | the sum of the request counters of the statuses (with [`Summary::with_totals`], departed workers' included, so it never goes down) | some status carries one |
/// | `ReqPerSec` | the summary's requests per second, to 6 decimals: `mod_status`'s `Total Accesses` over uptime with [`Summary::with_totals`], as the router serves it | the summary has rates with requests |
/// | `BusyWorkers`, `IdleWorkers` | workers whose state is `busy`, `idle` | always |
/// | `Scoreboard` | one character per live worker: `W` busy, `_` idle, `?` unknown | always |
///
/// `mod_status`'s first line, the server's name, is left out, as are the keys
/// of bytes, CPU and connections, which a board does not know. Served as
/// `text/plain`.
///
/// # Examples
/// ```
/// # use std::time::{Duration, UNIX_EPOCH};
/// use parallel_scoreboard_http::{Record, Summary, auto};
/// let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let record = |id: &str, status: &str| Record {
///     id: id.into(),
///     status: status.as_bytes().to_vec(),
///     pid: Some(7),
///     updates: Some(10),
///     updated_at: now,
///     started_at: now - Duration::from_secs(90),
/// };
/// let records = [record("a", r#"{"state":"busy","requests":5}"#), record("b", "idle")];
/// assert_eq!(
///     auto(&Summary::new(&records, now)),
///     "ServerUptimeSeconds: 90\nTotal Accesses: 5\nUptime: 90\n\
///      BusyWorkers: 1\nIdleWorkers: 1\nScoreboard: W_\n"
/// );
/// ```
#[must_use]
pub fn auto(summary: &Summary) -> String {
    let mut s = String::with_capacity(160 + summary.grid.len());
    let uptime = summary.uptime.map(|d| d.as_secs());
    if let Some(secs) = uptime {
        let _ = writeln!(s, "ServerUptimeSeconds: {secs}");
    }
    if let Some(n) = summary.requests {
        let _ = writeln!(s, "Total Accesses: {n}");
    }
    if let Some(secs) = uptime {
        let _ = writeln!(s, "Uptime: {secs}");
    }
    if let Some(x) = summary.rates.and_then(|r| r.requests_per_second) {
        let _ = writeln!(s, "ReqPerSec: {}", decimal(x));
    }
    let _ = writeln!(s, "BusyWorkers: {}", summary.busy());
    let _ = writeln!(s, "IdleWorkers: {}", summary.idle());
    let _ = writeln!(s, "Scoreboard: {}", summary.grid);
    s
}

/// `x` with at most 6 decimals, trailing zeros dropped (`2`, `0.333333`).
fn decimal(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::record;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn keys_only_when_known() {
        let empty = auto(&Summary::new(&[], UNIX_EPOCH));
        assert_eq!(empty, "BusyWorkers: 0\nIdleWorkers: 0\nScoreboard: \n");

        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        let before = [record("a", br#"{"state":"busy","requests":1}"#)];
        let after = [
            record("a", br#"{"state":"busy","requests":9}"#),
            record("b", b"hello"),
            record("c", b"IDLE"),
        ];
        let text = auto(&Summary::with_previous(&after, at(14), &before, at(10)));
        assert_eq!(
            text,
            "ServerUptimeSeconds: 14\nTotal Accesses: 9\nUptime: 14\nReqPerSec: 2\n\
             BusyWorkers: 1\nIdleWorkers: 1\nScoreboard: W?_\n"
        );
        let slow = auto(&Summary::with_previous(&after, at(13), &before, at(10)));
        assert!(slow.contains("\nReqPerSec: 2.666667\n"), "{slow}");
        assert_eq!(decimal(0.000_000_4), "0");
        assert_eq!(decimal(120.5), "120.5");
        let now = SystemTime::now();
        assert!(!auto(&Summary::new(&after, now)).contains("ReqPerSec"));
    }
}
