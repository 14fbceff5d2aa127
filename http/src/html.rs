//! The HTML status page: a table of workers, like the original's PSGI app.

use std::fmt::Write as _;

use super::{GRID_KEY, RatesOver, Record, Summary, escaped, rfc3339, seconds_since, state};

/// Options of [`html`], from [`HtmlOptions::builder`]; the default has no
/// title of its own (`scoreboard`), no refresh, and links cut statuses to
/// `worker/ID`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HtmlOptions {
    title: Option<String>,
    refresh: Option<u32>,
    worker_link: Option<String>,
}

/// The settings of an [`HtmlOptions`], from [`HtmlOptions::builder`];
/// [`build`](Self::build) makes it.
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until `build` makes the options"]
pub struct HtmlOptionsBuilder {
    options: HtmlOptions,
}

impl HtmlOptions {
    /// The settings of options for [`html`], each at its default.
    pub fn builder() -> HtmlOptionsBuilder {
        HtmlOptionsBuilder::default()
    }
}

impl HtmlOptionsBuilder {
    /// The page's title and heading (default `scoreboard`).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.options.title = Some(title.into());
        self
    }

    /// Reloads the page every this many seconds (a
    /// `<meta http-equiv="refresh">`); `None` (the default) never.
    pub fn refresh(mut self, seconds: Option<u32>) -> Self {
        self.options.refresh = seconds;
        self
    }

    /// Where a status cut on the page links to: this followed by the
    /// worker's id, percent-encoded (default `worker/`, relative to the page;
    /// the router gives the absolute path of its own `/worker/`).
    pub fn worker_link(mut self, prefix: impl Into<String>) -> Self {
        self.options.worker_link = Some(prefix.into());
        self
    }

    /// The options.
    #[must_use]
    pub fn build(self) -> HtmlOptions {
        self.options
    }
}

/// A complete HTML page in the manner of `mod_status`'s: the counts by state
/// (`<p id="summary">`); the totals (`<dl id="totals">`: the sum of the
/// request counters, requests and updates per second since the previous
/// read, the age of the oldest busy request, each `-` when unknown); the
/// grid of one character per worker (`<pre id="scoreboard">`, 64 to a line)
/// with its key (`<p id="key">`); then a table with one row per record: id,
/// pid, state, updates, seconds since the last update, status bytes and the
/// status (cut after 1 KiB, with a link to the whole at `worker/ID`).
/// `summary` is of `records`, read at `summary.at`: [`Summary::new`] for one
/// read (no rates), [`Summary::with_previous`] or [`Summary::with_totals`]
/// for rates.
///
/// Everything from the records is HTML-escaped; statuses that are not UTF-8
/// are shown lossily. Rows are `<tr class="worker" data-id="ID">` with cells
/// of classes `id`, `pid`, `state`, `updates`, `age`, `bytes` and `status`.
///
/// # Examples
/// ```
/// # use std::time::{Duration, UNIX_EPOCH};
/// use parallel_scoreboard_http::{HtmlOptions, Record, Summary, html};
/// let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let record = |requests: u64| Record {
///     id: "w1".into(),
///     status: format!(r#"{{"state":"idle","requests":{requests}}}"#).into_bytes(),
///     pid: Some(42),
///     updates: Some(requests * 2),
///     updated_at: at,
///     started_at: at - Duration::from_secs(60),
/// };
/// let (before, after) = ([record(10)], [record(15)]);
/// let later = at + Duration::from_secs(2);
/// let summary = Summary::with_previous(&after, later, &before, at);
/// let page = html(&after, &summary, &HtmlOptions::default());
/// assert!(page.contains("<dd id=\"requests\">15</dd>"));
/// assert!(page.contains("<dd id=\"requests-per-second\">2.50</dd>"));
/// assert!(page.contains("<dd id=\"updates-per-second\">5.00</dd>"));
/// assert!(page.contains("<pre id=\"scoreboard\">_</pre>"));
///
/// let options = HtmlOptions::builder().title("my server").refresh(Some(5)).build();
/// let page = html(&after, &Summary::new(&after, later), &options);
/// assert!(page.contains("<title>my server</title>"));
/// assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
/// ```
#[must_use]
pub fn html(records: &[Record], summary: &Summary, options: &HtmlOptions) -> String {
    let now = summary.at;
    let title = escape(options.title.as_deref().unwrap_or("scoreboard"));
    let mut s = String::with_capacity(2048 + records.len() * 256);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    if let Some(n) = options.refresh {
        let _ = writeln!(s, "<meta http-equiv=\"refresh\" content=\"{n}\">");
    }
    let _ = writeln!(
        s,
        "<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>"
    );
    let _ = writeln!(s, "<h1>{title}</h1>");
    let _ = write!(
        s,
        "<p id=\"summary\">{} live {}",
        records.len(),
        if records.len() == 1 {
            "worker"
        } else {
            "workers"
        }
    );
    for (st, n) in &summary.states {
        let _ = write!(s, ", {n} {}", escape(st));
    }
    let _ = writeln!(s, " &middot; {}</p>", rfc3339(now));
    // Relative links keep the page's own path, wherever it is mounted.
    let current = options
        .refresh
        .map_or_else(|| "off".to_owned(), |n| format!("every {n} s"));
    let _ = writeln!(
        s,
        "<p id=\"refresh\">auto-refresh: {current} &middot; <a href=\"?\">off</a> \
         <a href=\"?refresh=1\">1 s</a> <a href=\"?refresh=5\">5 s</a> \
         <a href=\"?refresh=30\">30 s</a></p>"
    );
    totals(&mut s, summary);
    grid(&mut s, summary);
    s.push_str(
        "<table id=\"workers\">\n<thead><tr><th>id</th><th>pid</th><th>state</th>\
         <th>updates</th><th>last update (s ago)</th><th>bytes</th><th>status</th></tr></thead>\n<tbody>\n",
    );
    for r in records {
        let id = escape(&r.id);
        let st = state(&r.status).unwrap_or_default();
        let _ = writeln!(
            s,
            "<tr class=\"worker\" data-id=\"{id}\"><td class=\"id\">{id}</td><td class=\"pid\">{}</td>\
             <td class=\"state\">{}</td><td class=\"updates\">{}</td><td class=\"age\">{:.3}</td>\
             <td class=\"bytes\">{}</td><td class=\"status\">{}</td></tr>",
            r.pid.map(|p| p.to_string()).unwrap_or_default(),
            escape(&st),
            r.updates.map(|u| u.to_string()).unwrap_or_default(),
            seconds_since(r.updated_at, now),
            r.status.len(),
            status_cell(r, options.worker_link.as_deref().unwrap_or("worker/")),
        );
    }
    s.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    s
}

/// The totals: request counters, rates, the oldest busy request.
fn totals(s: &mut String, summary: &Summary) {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let rates = summary.rates.as_ref();
    let rows = [
        (
            "requests",
            "total requests",
            summary.requests.map(|n| n.to_string()),
        ),
        (
            "requests-per-second",
            "requests/s",
            rates
                .and_then(|r| r.requests_per_second)
                .map(|x| format!("{x:.2}")),
        ),
        (
            "updates-per-second",
            "updates/s",
            rates
                .and_then(|r| r.updates_per_second)
                .map(|x| format!("{x:.2}")),
        ),
        (
            "oldest-busy",
            "oldest busy request (s)",
            summary
                .oldest_busy
                .map(|d| format!("{:.3}", d.as_secs_f64())),
        ),
    ];
    s.push_str("<dl id=\"totals\">\n");
    for (id, name, value) in rows {
        let _ = writeln!(s, "<dt>{name}</dt><dd id=\"{id}\">{}</dd>", or_dash(value));
    }
    let since = rates.map_or_else(
        || "no previous read".to_owned(),
        |r| {
            let what = match r.over {
                RatesOver::Uptime => {
                    "since the earliest-started worker counted (total over uptime)"
                }
                RatesOver::PreviousRead => "since the previous read",
            };
            format!("over the {:.1} s {what}", r.interval.as_secs_f64())
        },
    );
    let _ = writeln!(s, "</dl>\n<p id=\"rates\">rates: {since}</p>");
}

/// The grid of one character per worker, 64 to a line, and its key.
fn grid(s: &mut String, summary: &Summary) {
    s.push_str("<pre id=\"scoreboard\">");
    let chars: Vec<char> = summary.grid.chars().collect();
    for (i, line) in chars.chunks(64).enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.extend(line);
    }
    s.push_str("</pre>\n<p id=\"key\">key:");
    for (i, (c, meaning)) in GRID_KEY.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(s, "{sep} <code>{c}</code> {meaning}");
    }
    s.push_str("; one character per live worker, in the table's order</p>\n");
}

/// How much of a status the page shows: at most this many bytes of it.
pub(crate) const DISPLAY_BYTES: usize = 1024;

/// The status as the page shows it, escaped: whole up to [`DISPLAY_BYTES`],
/// else cut there (at a character boundary) and followed by a link to the
/// whole status at `link` followed by the id, with its size.
fn status_cell(r: &Record, link: &str) -> String {
    if r.status.len() <= DISPLAY_BYTES {
        return escape(&String::from_utf8_lossy(&r.status));
    }
    let text = String::from_utf8_lossy(&r.status[..DISPLAY_BYTES]);
    // A character cut in two at the limit is dropped rather than shown as U+FFFD.
    let text = match std::str::from_utf8(&r.status[..DISPLAY_BYTES]) {
        Err(e) if e.error_len().is_none() => String::from_utf8_lossy(&r.status[..e.valid_up_to()]),
        _ => text,
    };
    format!(
        "{}<span class=\"cut\">\u{2026} <a href=\"{}{}\">all {} bytes</a></span>",
        escape(&text),
        escape(link),
        url_escape(&r.id),
        r.status.len()
    )
}

/// `text` percent-encoded for a path segment (only unreserved characters stay).
fn url_escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em}\
table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}\
th{background:#eee}td.status{font-family:monospace;white-space:pre-wrap;word-break:break-all}\
td.pid,td.updates,td.age,td.bytes{text-align:right}\
dl{display:grid;grid-template-columns:max-content auto;gap:.15em 1em;margin:0 0 1em}\
dt{color:#555}dd{margin:0;font-family:monospace}\
pre#scoreboard{font-size:1.4em;letter-spacing:.2em;margin:0 0 .3em}\
p#key{color:#555;margin-top:0}p#key code{font-size:1.2em;font-weight:bold;color:#000}\
td.id{white-space:nowrap}";

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, and the characters
/// that reorder the text around them shown as `\u{…}` (see [`bidi`]).
fn escape(text: &str) -> String {
    escaped(text, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        _ => bidi(c),
    })
}

/// The bidirectional formatting characters, written out: the explicit
/// embeddings and overrides (U+202A–U+202E), the isolates (U+2066–U+2069)
/// and the marks (U+200E, U+200F, U+061C). Left as they are (a character
/// reference would be decoded back into them), a worker's id or status could
/// make itself, or the rest of the row, read backwards (`exe.txt` for
/// `txt.exe`).
fn bidi(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{202A}' => "\\u{202a}",
        '\u{202B}' => "\\u{202b}",
        '\u{202C}' => "\\u{202c}",
        '\u{202D}' => "\\u{202d}",
        '\u{202E}' => "\\u{202e}",
        '\u{2066}' => "\\u{2066}",
        '\u{2067}' => "\\u{2067}",
        '\u{2068}' => "\\u{2068}",
        '\u{2069}' => "\\u{2069}",
        '\u{200E}' => "\\u{200e}",
        '\u{200F}' => "\\u{200f}",
        '\u{061C}' => "\\u{61c}",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page of `records` read at `now`, with the summary of that one read.
    fn page_at(records: &[Record], now: SystemTime, options: &HtmlOptions) -> String {
        html(records, &Summary::new(records, now), options)
    }
    use crate::record::tests::record;
    use std::time::{Duration, SystemTime};

    #[test]
    fn everything_is_escaped() {
        let r = [record("<b>\"id\"&'", b"<script>alert('x')</script>")];
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(2500);
        let page = page_at(&r, now, &HtmlOptions::builder().title("<t>").build());
        assert!(!page.contains("<script>"));
        assert!(!page.contains("<b>"));
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(page.contains("data-id=\"&lt;b&gt;&quot;id&quot;&amp;&#39;\""));
        assert!(page.contains("<title>&lt;t&gt;</title>"));
        assert!(page.contains("<td class=\"age\">1.500</td>"));
        assert!(!page.contains("http-equiv"));
        assert!(page.contains("auto-refresh: off"));
    }

    #[test]
    fn bidi_controls_are_written_out() {
        let controls = "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{061C}";
        let r = [record(
            "w\u{202E}txt.exe",
            format!("busy {controls} GET /").as_bytes(),
        )];
        let page = page_at(&r, SystemTime::UNIX_EPOCH, &HtmlOptions::default());
        for c in controls.chars() {
            assert!(!page.contains(c), "U+{:04X} left on the page", u32::from(c));
        }
        assert!(
            page.contains("<td class=\"id\">w\\u{202e}txt.exe</td>"),
            "{page}"
        );
        assert!(page.contains(
            "busy \\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{202e}\\u{2066}\\u{2067}\\u{2068}\\u{2069}\\u{200e}\\u{200f}\\u{61c} GET /"
        ));
        // One worker, in the singular.
        assert!(
            page.contains("<p id=\"summary\">1 live worker, 1 busy"),
            "{page}"
        );
    }

    #[test]
    fn refresh_and_state_counts() {
        let r = [
            record("a", b"busy GET /"),
            record("b", b"idle"),
            record("c", b"busy"),
        ];
        let now = SystemTime::UNIX_EPOCH;
        let page = page_at(&r, now, &HtmlOptions::builder().refresh(Some(2)).build());
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"2\">"));
        assert!(page.contains("auto-refresh: every 2 s"));
        assert!(page.contains("<a href=\"?refresh=5\">5 s</a>"));
        assert!(page.contains("3 live workers, 2 busy, 1 idle"));
        assert_eq!(page.matches("<tr class=\"worker\"").count(), 3);
    }

    #[test]
    fn totals_grid_and_key() {
        let mut r: Vec<Record> = (0..70)
            .map(|i| record(&format!("w{i:02}"), b"idle"))
            .collect();
        r[0].status = br#"{"state":"busy","requests":5,"since":0.5}"#.to_vec();
        r[69].status = b"<starting>".to_vec();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(3);
        let page = page_at(&r, now, &HtmlOptions::default());
        let grid = format!("W{}\n{}?", "_".repeat(63), "_".repeat(5));
        assert!(
            page.contains(&format!("<pre id=\"scoreboard\">{grid}</pre>")),
            "{page}"
        );
        assert!(page.contains("<p id=\"key\">key: <code>W</code> busy, <code>_</code> idle, <code>?</code> state unknown;"));
        assert!(page.contains("<dd id=\"requests\">5</dd>"));
        assert!(page.contains("<dd id=\"oldest-busy\">2.500</dd>"));
        assert!(page.contains("<dd id=\"requests-per-second\">-</dd>"));
        assert!(page.contains("<dd id=\"updates-per-second\">-</dd>"));
        assert!(page.contains("rates: no previous read"));
        assert!(page.contains("70 live workers, 1 busy, 68 idle"));

        let later = now + Duration::from_millis(500);
        let summary = Summary::with_previous(&r, later, &r, now);
        let page = html(&r, &summary, &HtmlOptions::default());
        assert!(page.contains("<dd id=\"requests-per-second\">0.00</dd>"));
        assert!(page.contains("rates: over the 0.5 s since the previous read"));
        assert!(page.contains("<dd id=\"oldest-busy\">3.000</dd>"));
    }

    #[test]
    fn long_statuses_are_cut_with_a_link_to_the_whole() {
        let mut long = "é".repeat(DISPLAY_BYTES); // 2 bytes each: cut mid-way
        long.push_str("<end>");
        let r = [record("a b/é", long.as_bytes()), record("short", b"idle")];
        let page = page_at(&r, SystemTime::UNIX_EPOCH, &HtmlOptions::default());
        let shown = "é".repeat(DISPLAY_BYTES / 2);
        let cell = format!(
            "<td class=\"status\">{shown}<span class=\"cut\">\u{2026} \
             <a href=\"worker/a%20b%2F%C3%A9\">all {} bytes</a></span></td>",
            long.len()
        );
        assert!(page.contains(&cell), "{page}");
        assert!(!page.contains("&lt;end&gt;"));
        assert!(page.contains(&format!("<td class=\"bytes\">{}</td>", long.len())));
        assert!(page.contains("<td class=\"status\">idle</td>"));
        let options = HtmlOptions::builder()
            .worker_link("/status/worker/")
            .build();
        let page = page_at(&r, SystemTime::UNIX_EPOCH, &options);
        assert!(
            page.contains("<a href=\"/status/worker/a%20b%2F%C3%A9\">"),
            "{page}"
        );
        // Cut in the middle of a character: the half is dropped.
        let odd = format!("x{}", "é".repeat(DISPLAY_BYTES));
        let page = page_at(
            &[record("o", odd.as_bytes())],
            SystemTime::UNIX_EPOCH,
            &HtmlOptions::default(),
        );
        assert!(!page.contains('\u{fffd}'));
    }
}
