//! The state of the live view and its text: rates, states, sort, filter,
//! keys, and the lines of the screen.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use parallel_scoreboard::render::{Record, count_states, seconds_since, state};

use crate::text::{self, group, left, maybe, printable, right};

/// What the view starts with.
#[derive(Clone, Debug)]
pub(crate) struct WatchOptions {
    pub(crate) interval: Duration,
    pub(crate) sort: Sort,
    pub(crate) filter: String,
    pub(crate) frames: Option<u64>,
}

/// The columns the view can be sorted by, in the order the `s` key cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Sort {
    /// Worker id, ascending.
    Id,
    /// Process id, ascending.
    Pid,
    /// Updates per second, highest first.
    Rate,
    /// Update count, highest first.
    Updates,
    /// Time since the last update, longest first.
    Age,
    /// Status text, ascending.
    Status,
}

impl Sort {
    const ALL: [Self; 6] = [
        Self::Id,
        Self::Pid,
        Self::Rate,
        Self::Updates,
        Self::Age,
        Self::Status,
    ];

    fn next(self) -> Self {
        let i = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Pid => "pid",
            Self::Rate => "updates/s",
            Self::Updates => "updates",
            Self::Age => "age",
            Self::Status => "status",
        }
    }
}

/// One worker on screen.
#[derive(Debug)]
struct Row {
    record: Record,
    /// Updates per second since the previous read (since the worker started
    /// at the first sight of it); `None` when the count is unknown.
    rate: Option<f64>,
}

impl Row {
    /// The row as one line of the table.
    fn line(&self, id_width: usize, status_width: usize, now: SystemTime) -> String {
        let r = &self.record;
        format!(
            "{} {:>8} {} {:>14} {:>12} {:>8.3} {:>7}  {}",
            left(&printable(r.id.as_bytes(), 32), id_width),
            r.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            right(
                &printable(state(&r.status).unwrap_or_default().as_bytes(), 6),
                6
            ),
            maybe(r.updates),
            self.rate
                .map_or_else(|| "-".to_owned(), |x| group(whole(x))),
            seconds_since(r.updated_at, now),
            r.status.len(),
            printable(&r.status, status_width),
        )
    }
}

/// The state of the view: the latest read, rates, sort and filter.
#[derive(Debug)]
pub(crate) struct View {
    title: String,
    pub(crate) interval: Duration,
    sort: Sort,
    reverse: bool,
    filter: String,
    /// The filter being typed after `/`.
    editing: Option<String>,
    rows: Vec<Row>,
    /// Worker id → (pid, update count) at the previous read.
    previous: HashMap<String, (Option<u32>, u64)>,
    last_read: Option<Instant>,
    events: Vec<String>,
    /// What the latest read skipped, if anything.
    note: Option<String>,
    /// Why the latest read found no board (its directory is missing), if so.
    missing: Option<String>,
    started: Instant,
}

/// What a key press asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Quit,
    Redraw,
    Nothing,
}

impl View {
    pub(crate) fn new(title: String, options: &WatchOptions) -> Self {
        Self {
            title,
            interval: options.interval,
            sort: options.sort,
            reverse: false,
            filter: options.filter.clone(),
            editing: None,
            rows: Vec::new(),
            previous: HashMap::new(),
            last_read: None,
            events: Vec::new(),
            note: None,
            missing: None,
            started: Instant::now(),
        }
    }

    /// Adds a line to the events shown under the table.
    pub(crate) fn event(&mut self, text: impl std::fmt::Display) {
        let t = self.started.elapsed().as_secs_f64();
        self.events.push(format!("{t:6.1}s  {text}"));
    }

    /// Takes a read that found no board: `reason` says why; the view shows
    /// it in its header, with no workers, until a read finds the board again.
    pub(crate) fn missing(&mut self, reason: String) {
        self.missing = Some(reason);
        self.note = None;
        self.rows.clear();
        self.previous.clear();
        self.last_read = None;
    }

    /// Takes a new read and works out each worker's rate.
    pub(crate) fn update(&mut self, records: Vec<Record>, note: Option<String>) {
        self.note = note;
        self.missing = None;
        let now = Instant::now();
        let wall = SystemTime::now();
        let elapsed = self.last_read.map(|t| now.duration_since(t).as_secs_f64());
        self.last_read = Some(now);
        let mut next = HashMap::with_capacity(records.len());
        self.rows = records
            .into_iter()
            .map(|record| {
                let rate = record.updates.map(|updates| {
                    next.insert(record.id.clone(), (record.pid, updates));
                    match (self.previous.get(&record.id), elapsed) {
                        (Some(&(pid, before)), Some(secs)) if pid == record.pid && secs > 0.0 => {
                            per_second(updates.saturating_sub(before), secs)
                        }
                        _ => {
                            let secs = seconds_since(record.started_at, wall);
                            if secs > 0.0 {
                                per_second(updates, secs)
                            } else {
                                0.0
                            }
                        }
                    }
                });
                Row { record, rate }
            })
            .collect();
        self.previous = next;
    }

    pub(crate) fn key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::Nothing;
        }
        let ctrl_c =
            key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
        if ctrl_c {
            return Action::Quit;
        }
        if let Some(text) = &mut self.editing {
            match key.code {
                KeyCode::Enter => self.editing = None,
                KeyCode::Esc => {
                    self.editing = None;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    text.pop();
                    self.filter.clone_from(text);
                }
                KeyCode::Char(c) => {
                    text.push(c);
                    self.filter.clone_from(text);
                }
                _ => return Action::Nothing,
            }
            return Action::Redraw;
        }
        match key.code {
            KeyCode::Char('q' | 'Q') | KeyCode::Esc => return Action::Quit,
            KeyCode::Char('s') => self.sort = self.sort.next(),
            KeyCode::Char('r') => self.reverse = !self.reverse,
            KeyCode::Char('/') => self.editing = Some(self.filter.clone()),
            KeyCode::Char('+') => self.interval = (self.interval * 2).min(Duration::from_secs(60)),
            KeyCode::Char('-') => {
                self.interval = (self.interval / 2).max(Duration::from_millis(100));
            }
            _ => return Action::Nothing,
        }
        Action::Redraw
    }

    /// The screen as lines of at most `width` columns, at most `height`
    /// of them; the second value is the index of the column header line.
    pub(crate) fn lines(&self, width: usize, height: usize) -> (Vec<String>, usize) {
        let now = SystemTime::now();
        let shown = self.shown(now);
        let mut out = self.summary(now, shown.len());
        let id_width = shown
            .iter()
            .map(|r| text::width(&printable(r.record.id.as_bytes(), 32)))
            .max()
            .unwrap_or(0)
            .max(2);
        let header = out.len();
        out.push(format!(
            "{} {:>8} {:>6} {:>14} {:>12} {:>8} {:>7}  STATUS",
            left("ID", id_width),
            "PID",
            "STATE",
            "UPDATES",
            "UPDATES/S",
            "AGE(s)",
            "BYTES"
        ));
        let events = self.events.len().min(4);
        let room = height.saturating_sub(out.len() + events + 2).max(1);
        // The columns before the status take `id_width` + 63 columns, and a
        // cut status ends with one more, `…`.
        let status_width = width.saturating_sub(id_width + 64).max(10);
        for (i, row) in shown.iter().enumerate() {
            if i + 1 == room && shown.len() > room {
                out.push(format!("… {} more", shown.len() - i));
                break;
            }
            out.push(row.line(id_width, status_width, now));
        }
        out.push(String::new());
        out.extend_from_slice(&self.events[self.events.len() - events..]);
        out.push("q quit   s sort   r reverse   / filter   +/- interval".to_owned());
        for line in &mut out {
            let cut = text::fit(line, width).len();
            line.truncate(cut);
        }
        out.truncate(height.max(1));
        (out, header)
    }

    /// The rows that pass the filter, sorted.
    fn shown(&self, now: SystemTime) -> Vec<&Row> {
        let needle = self.filter.to_lowercase();
        let mut shown: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| {
                needle.is_empty()
                    || r.record.id.to_lowercase().contains(&needle)
                    || String::from_utf8_lossy(&r.record.status)
                        .to_lowercase()
                        .contains(&needle)
            })
            .collect();
        self.sort_rows(&mut shown, now);
        shown
    }

    /// The lines above the table: title and clock; workers, states and the
    /// total rate; sort and filter; what was skipped, if anything; a blank
    /// line.
    fn summary(&self, now: SystemTime, shown: usize) -> Vec<String> {
        let clock = parallel_scoreboard::render::rfc3339(now);
        let title = format!(
            "{}   {}   every {:.1} s",
            self.title,
            &clock[11..19],
            self.interval.as_secs_f64()
        );
        let states = count_states(self.rows.iter().map(|row| &row.record));
        let mut summary = match &self.missing {
            Some(reason) => format!("board missing, waiting for it: {reason}"),
            None => match self.rows.len() {
                1 => "1 live worker".to_owned(),
                n => format!("{n} live workers"),
            },
        };
        if !states.is_empty() {
            let counts: Vec<String> = states
                .iter()
                .map(|(s, n)| format!("{n} {}", printable(s.as_bytes(), 20)))
                .collect();
            let _ = write!(summary, " ({})", counts.join(", "));
        }
        let rates: Vec<f64> = self.rows.iter().filter_map(|r| r.rate).collect();
        if !rates.is_empty() {
            let total: f64 = rates.iter().sum();
            let _ = write!(summary, "   {} updates/s in total", group(whole(total)));
        }
        let direction = if self.reverse { ", reversed" } else { "" };
        let filter = match &self.editing {
            Some(text) => format!("filter: {text}_  (Enter keeps, Esc clears)"),
            None if self.filter.is_empty() => "filter: none".to_owned(),
            None => format!("filter: {:?}  showing {shown}", self.filter),
        };
        let sort = format!("sort: {}{direction}   {filter}", self.sort.name());
        let mut lines = vec![title, summary, sort];
        lines.extend(self.note.clone());
        lines.push(String::new());
        lines
    }

    fn sort_rows(&self, rows: &mut [&Row], now: SystemTime) {
        rows.sort_by(|a, b| {
            let (x, y) = (&a.record, &b.record);
            let order = match self.sort {
                Sort::Id => x.id.cmp(&y.id),
                Sort::Pid => x.pid.cmp(&y.pid),
                Sort::Rate => b.rate.unwrap_or(-1.0).total_cmp(&a.rate.unwrap_or(-1.0)),
                Sort::Updates => y.updates.cmp(&x.updates),
                Sort::Age => {
                    seconds_since(y.updated_at, now).total_cmp(&seconds_since(x.updated_at, now))
                }
                Sort::Status => x.status.cmp(&y.status),
            };
            order.then_with(|| x.id.cmp(&y.id))
        });
        if self.reverse {
            rows.reverse();
        }
    }
}

/// `n` per `secs` seconds (counts stay far below 2^52, where `f64` is exact).
#[allow(clippy::cast_precision_loss)]
fn per_second(n: u64, secs: f64) -> f64 {
    n as f64 / secs
}

/// A rate rounded down to a whole number (negative and NaN rates are 0).
#[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
fn whole(x: f64) -> u128 {
    x.max(0.0) as u128
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, status: &str, updates: u64) -> Record {
        let now = SystemTime::now();
        Record {
            id: id.to_owned(),
            status: status.as_bytes().to_vec(),
            pid: Some(100),
            updates: Some(updates),
            updated_at: now,
            started_at: now - Duration::from_secs(10),
        }
    }

    fn view() -> View {
        let options = WatchOptions {
            interval: Duration::from_secs(1),
            sort: Sort::Id,
            filter: String::new(),
            frames: None,
        };
        View::new("board".to_owned(), &options)
    }

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn rates_states_sort_and_filter() {
        let mut v = view();
        v.update(
            vec![record("a", "idle", 100), record("b", "busy GET /x", 1000)],
            None,
        );
        // First sight: the average since the worker started.
        assert!((v.rows[1].rate.unwrap() - 100.0).abs() < 5.0);
        std::thread::sleep(Duration::from_millis(100));
        v.update(
            vec![record("a", "idle", 100), record("b", "busy GET /x", 1100)],
            Some("1 entry skipped (x)".to_owned()),
        );
        assert_eq!(v.rows[0].rate, Some(0.0));
        let (lines, header) = v.lines(120, 40);
        assert!(
            lines[1].starts_with("2 live workers (1 busy, 1 idle)"),
            "{lines:?}"
        );
        assert_eq!(lines[3], "1 entry skipped (x)");
        assert!(lines[header].starts_with("ID"));
        assert!(lines[header + 1].starts_with("a "));

        assert_eq!(v.key(key('s')), Action::Redraw); // pid
        assert_eq!(v.key(key('s')), Action::Redraw); // rate
        let (lines, header) = v.lines(120, 40);
        assert!(lines[header + 1].starts_with("b "), "{lines:?}");
        v.key(key('r'));
        let (lines, header) = v.lines(120, 40);
        assert!(lines[header + 1].starts_with("a "), "{lines:?}");

        v.key(key('/'));
        v.key(key('G'));
        v.key(key('e'));
        let (lines, header) = v.lines(120, 40);
        assert!(lines[header + 1].starts_with("b "));
        assert_eq!(lines[header + 2], "");
        v.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert_eq!(v.filter, "Ge");
        assert_eq!(v.key(key('q')), Action::Quit);
        assert_eq!(
            v.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Action::Quit
        );
    }

    #[test]
    fn a_missing_board_shows_in_the_header_until_it_is_back() {
        let mut v = view();
        v.update(vec![record("a", "idle", 1)], None);
        v.missing("no directory at base_dir's path: /x".to_owned());
        let (lines, header) = v.lines(120, 40);
        assert_eq!(
            lines[1],
            "board missing, waiting for it: no directory at base_dir's path: /x"
        );
        assert_eq!(lines[header + 1], "", "no rows: {lines:?}");
        v.update(vec![record("a", "idle", 2)], None);
        let (lines, header) = v.lines(120, 40);
        assert!(lines[1].starts_with("1 live worker "), "{lines:?}");
        assert!(lines[header + 1].starts_with("a "));
    }

    #[test]
    fn long_boards_fit_the_screen() {
        let mut v = view();
        v.update(
            (0..50)
                .map(|i| record(&format!("w{i:02}"), "idle", 1))
                .collect(),
            None,
        );
        let (lines, _) = v.lines(80, 20);
        assert_eq!(lines.len(), 20);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("… ") && l.ends_with(" more"))
        );
        assert!(lines.iter().all(|l| text::width(l) <= 80));

        v.update(vec![record("long", &"x".repeat(500), 1)], None);
        let (lines, header) = v.lines(100, 20);
        let row = &lines[header + 1];
        assert_eq!(row.chars().count(), 100, "{row}");
        assert!(row.ends_with("xx…"), "a cut status ends with …: {row}");
    }
}
