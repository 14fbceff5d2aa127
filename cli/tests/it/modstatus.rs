//! `serve` as `mod_status`: `/server-status`, and `?auto` read by a parser
//! written from `mod_status`'s documented format, not from the renderer.

use std::collections::BTreeMap;
use std::time::Duration;

use parallel_scoreboard::{Scoreboard, Worker};

use crate::common::{Server, agent, get};

/// `mod_status`'s `?auto` text, parsed as its documentation describes it:
/// lines of `Key: value` (a first line without a colon, the server's name,
/// is allowed), and `Scoreboard` one character per slot.
#[derive(Debug)]
struct Auto {
    keys: BTreeMap<String, String>,
}

/// The scoreboard characters `mod_status` documents, and `?`, this board's
/// "state unknown".
const SLOT_CHARS: &str = "_SRWKDCLGI.?";

impl Auto {
    fn parse(text: &str) -> Self {
        assert!(text.ends_with('\n'), "{text:?}");
        let mut keys = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let Some((key, value)) = line.split_once(": ") else {
                assert!(i == 0 && !line.contains(':'), "not `Key: value`: {line:?}");
                continue;
            };
            assert!(
                !key.is_empty()
                    && key.starts_with(|c: char| c.is_ascii_alphabetic())
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == ' '),
                "bad key {key:?}"
            );
            assert_eq!(value.trim(), value, "{line:?}");
            assert!(
                keys.insert(key.to_owned(), value.to_owned()).is_none(),
                "{key} twice"
            );
        }
        let auto = Self { keys };
        for key in [
            "Total Accesses",
            "Uptime",
            "ServerUptimeSeconds",
            "BusyWorkers",
            "IdleWorkers",
        ] {
            if auto.keys.contains_key(key) {
                auto.integer(key);
            }
        }
        if auto.keys.contains_key("ReqPerSec") {
            assert!(auto.float("ReqPerSec") >= 0.0);
        }
        let board = auto.scoreboard();
        assert!(board.chars().all(|c| SLOT_CHARS.contains(c)), "{board:?}");
        // Apache counts busy and idle slots from the same scoreboard.
        let count = |c: char| board.chars().filter(|&x| x == c).count();
        assert_eq!(count('W') as u64, auto.integer("BusyWorkers"));
        assert_eq!(count('_') as u64, auto.integer("IdleWorkers"));
        auto
    }

    fn integer(&self, key: &str) -> u64 {
        let v = &self.keys[key];
        v.parse()
            .unwrap_or_else(|_| panic!("{key}: {v:?} is not a whole number"))
    }

    fn float(&self, key: &str) -> f64 {
        let v = &self.keys[key];
        v.parse()
            .unwrap_or_else(|_| panic!("{key}: {v:?} is not a number"))
    }

    fn scoreboard(&self) -> &str {
        self.keys.get("Scoreboard").map_or("", String::as_str)
    }
}

fn update(w: &mut Worker, status: &str) {
    w.update(status.as_bytes()).unwrap();
}

#[test]
fn auto_is_what_apache_collectors_parse() {
    let dir = crate::common::tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut busy_json = board.worker_with_id("a").unwrap();
    let mut idle_json = board.worker_with_id("b").unwrap();
    let mut busy_text = board.worker_with_id("c").unwrap();
    let mut idle_text = board.worker_with_id("d").unwrap();
    let mut starting = board.worker_with_id("e").unwrap();
    update(
        &mut busy_json,
        r#"{"state":"busy","method":"GET","path":"/x","requests":5}"#,
    );
    update(
        &mut idle_json,
        r#"{"state":"idle","requests":7,"status":200}"#,
    );
    update(&mut busy_text, "busy GET /index.html");
    update(&mut idle_text, "idle");
    update(&mut starting, "starting up");
    let server = Server::start(dir.path(), &[]);
    let agent = agent();

    let (code, ctype, text) = get(&agent, &server.url("/server-status?auto"));
    assert_eq!(code, 200);
    assert_eq!(ctype, "text/plain; charset=utf-8");
    let first = Auto::parse(&text);
    assert_eq!(first.integer("Total Accesses"), 12, "{text}");
    assert_eq!(first.integer("BusyWorkers"), 2);
    assert_eq!(first.integer("IdleWorkers"), 2);
    assert_eq!(first.scoreboard(), "W_W_?");
    assert!(first.integer("Uptime") < 600);
    assert_eq!(first.keys["Uptime"], first.keys["ServerUptimeSeconds"]);

    // Requests between two reads give ReqPerSec; `/?auto` is the same text.
    std::thread::sleep(Duration::from_millis(300));
    update(&mut busy_json, r#"{"state":"idle","requests":6}"#);
    update(&mut idle_json, r#"{"state":"busy","requests":9}"#);
    drop(starting);
    let (code, ctype, text) = get(&agent, &server.url("/?auto"));
    assert_eq!((code, ctype.as_str()), (200, "text/plain; charset=utf-8"));
    let second = Auto::parse(&text);
    assert_eq!(second.integer("Total Accesses"), 15);
    assert_eq!(second.scoreboard(), "_WW_");
    // mod_status's ReqPerSec: Total Accesses over the uptime (its whole
    // seconds bound it), whoever read before.
    let rate = second.float("ReqPerSec");
    let uptime = f64::from(u32::try_from(second.integer("Uptime")).unwrap());
    assert!(rate > 0.0, "{text}");
    assert!(rate >= 15.0 / (uptime + 1.0), "{text}");
    assert!(uptime == 0.0 || rate <= 15.0 / uptime, "{text}");

    // Other query keys do not hide `auto`; the page without it is HTML.
    let (_, ctype, _) = get(&agent, &server.url("/server-status?refresh=5&auto"));
    assert_eq!(ctype, "text/plain; charset=utf-8");
    let (code, ctype, page) = get(&agent, &server.url("/server-status"));
    assert_eq!((code, ctype.as_str()), (200, "text/html; charset=utf-8"));
    assert!(page.contains("<pre id=\"scoreboard\">_WW_</pre>"), "{page}");
    assert!(page.contains("<dd id=\"requests\">15</dd>"));
    let (_, _, page) = get(&agent, &server.url("/server-status?refresh=2"));
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"2\">"));
    assert!(server.stop());
}

#[test]
fn an_empty_board_in_auto() {
    let dir = crate::common::tempdir();
    let server = Server::start(dir.path(), &[]);
    let (code, _, text) = get(&agent(), &server.url("/server-status?auto"));
    assert_eq!(code, 200);
    let auto = Auto::parse(&text);
    assert_eq!(auto.integer("BusyWorkers"), 0);
    assert_eq!(auto.scoreboard(), "");
    assert!(!auto.keys.contains_key("Total Accesses"));
    assert!(!auto.keys.contains_key("Uptime"));
    assert!(server.stop());
}
