//! The monitoring stack: `promtool` lints `/metrics` and unit-tests the
//! alert rules, and a real Prometheus server scrapes `serve` and answers
//! queries about what it scraped.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use parallel_scoreboard::Scoreboard;
use serde_json::Value;

use testkit::tools::{PROMETHEUS, PROMTOOL};

use crate::common::{Server, agent, get, repo_root, tempdir};

/// Runs `promtool ARGS` with `input` on stdin; returns (success, output).
fn run_promtool(bin: &Path, args: &[&str], input: &str) -> (bool, String) {
    let mut child = testkit::Reaped::new(
        Command::new(bin)
            .args(args)
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start promtool"),
    );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write promtool's stdin");
    let out = child.output();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A board with workers of every kind `/metrics` shows: JSON statuses with
/// counters and a busy request, text statuses, ids that need escaping, a
/// status that is not UTF-8.
fn varied_board(board: &Scoreboard) -> Vec<parallel_scoreboard::Worker> {
    let statuses: [(&str, &[u8]); 5] = [
        (
            "json-busy",
            br#"{"state":"busy","method":"GET","path":"/x","since":1700000000.5,"requests":3,"lat":{"p99":0.25}}"#,
        ),
        (
            "json-idle",
            br#"{"state":"idle","requests":41,"status":200,"duration_ms":1.5}"#,
        ),
        ("text-busy", b"busy GET /index.html"),
        ("we\"ird\\id\nx", b"idle"),
        ("binary", b"\xff\xfe\x00"),
    ];
    statuses
        .iter()
        .map(|(id, status)| {
            let mut w = board.worker_with_id(*id).unwrap();
            w.update(status).unwrap();
            w
        })
        .collect()
}

#[test]
#[cfg_attr(not(has_promtool), ignore = "promtool not found on PATH")]
fn promtool_finds_no_problem_in_the_metrics() {
    let bin = PROMTOOL.path();
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let _workers = varied_board(&board);
    let server = Server::start(dir.path(), &[]);
    let (code, _, metrics) = get(&agent(), &server.url("/metrics"));
    assert_eq!(code, 200);
    assert!(metrics.contains("scoreboard_worker_requests_total{id=\"json-idle\"} 41\n"));
    assert!(metrics.contains("scoreboard_worker_busy_seconds{id=\"json-busy\"} "));
    let (ok, out) = run_promtool(&bin, &["check", "metrics"], &metrics);
    assert!(ok && out.trim().is_empty(), "promtool: {out}\n{metrics}");

    // A scraper that prefers OpenMetrics gets it, with the same samples.
    let mut response = agent()
        .get(server.url("/metrics"))
        .header(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .call()
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert_eq!(header("vary").as_deref(), Some("accept"));
    let open = response.body_mut().read_to_string().unwrap();
    assert!(open.ends_with("\n# EOF\n"), "{open}");
    assert!(open.contains("\n# TYPE scoreboard_worker_requests counter\n"));
    assert!(open.contains("\nscoreboard_worker_requests_total{id=\"json-idle\"} 41\n"));

    // promtool does find problems: a counter without `_total` is one.
    let bad = metrics.replace(
        "scoreboard_worker_updates_total",
        "scoreboard_worker_updates",
    );
    let (ok, out) = run_promtool(&bin, &["check", "metrics"], &bad);
    assert!(!ok && out.contains("_total"), "{out}");
    assert!(server.stop());
}

#[test]
#[cfg_attr(not(has_promtool), ignore = "promtool not found on PATH")]
fn alert_rules_pass_their_unit_tests() {
    let bin = PROMTOOL.path();
    let (ok, out) = run_promtool(&bin, &["check", "rules", "docs/prometheus/rules.yml"], "");
    assert!(ok && out.contains("SUCCESS: 5 rules found"), "{out}");
    let (ok, out) = run_promtool(
        &bin,
        &["check", "config", "docs/prometheus/prometheus.yml"],
        "",
    );
    assert!(ok, "{out}");
    let (ok, out) = run_promtool(
        &bin,
        &["test", "rules", "docs/prometheus/rules_test.yml"],
        "",
    );
    assert!(ok && out.contains("SUCCESS"), "{out}");
}

/// A Prometheus server on 127.0.0.1 with its own configuration and data in
/// a temporary directory; killed on drop (`child` first, then `dir` goes).
struct Prometheus {
    child: testkit::Reaped,
    base: String,
    dir: testkit::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (HOST:PORT) every second, with
    /// the repository's alert rules.
    fn start(bin: &Path, target: &str) -> Self {
        Self::start_with(bin, target, "")
    }

    /// [`start`](Self::start) with more of the scrape job's configuration
    /// (YAML lines indented by 4).
    fn start_with(bin: &Path, target: &str, job: &str) -> Self {
        let dir = testkit::tempdir();
        let config = dir.path().join("prometheus.yml");
        let rules = repo_root().join("docs/prometheus/rules.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: scoreboard\n    static_configs:\n      - targets: ['{target}']\n{job}",
                rules.display()
            ),
        )
        .unwrap();
        // A free port: Prometheus cannot report one it picked itself.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        Self {
            child: testkit::Reaped::new(child),
            base: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    /// GET `path?query=...` of the HTTP API; the `data` of a success.
    fn api(&self, path: &str, query: Option<&str>) -> Option<Value> {
        let mut request = agent().get(format!("{}{path}", self.base));
        if let Some(q) = query {
            request = request.query("query", q);
        }
        let body = request.call().ok()?.body_mut().read_to_string().ok()?;
        let v: Value = serde_json::from_str(&body).ok()?;
        (v["status"] == "success").then(|| v["data"].clone())
    }

    /// The single value of an instant query, if it has exactly one.
    fn value(&self, query: &str) -> Option<f64> {
        let data = self.api("/api/v1/query", Some(query))?;
        match data["result"].as_array()?.as_slice() {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Waits up to 60 s for `check` to return true; fails with the log.
    fn wait_for(&mut self, what: &str, check: impl Fn(&Self) -> bool) {
        testkit::eventually(Duration::from_secs(60), Duration::from_millis(250), || {
            if check(self) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited ({status}):\n{}", self.log());
            }
            Err(format!("prometheus: no {what}; its log:\n{}", self.log()))
        });
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

#[test]
#[cfg_attr(not(has_prometheus), ignore = "prometheus not found on PATH")]
fn prometheus_scrapes_serve_and_evaluates_the_rules() {
    let bin = PROMETHEUS.path();
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w1 = board.worker_with_id("w1").unwrap();
    let mut w2 = board.worker_with_id("w2").unwrap();
    w1.update(br#"{"state":"busy","requests":3}"#).unwrap();
    w2.update(br#"{"state":"idle","requests":40}"#).unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut prometheus = Prometheus::start(&bin, &server.addr.to_string());

    prometheus.wait_for("scraped series", |p| {
        p.value(r#"scoreboard_workers_by_state{state="busy"}"#) == Some(1.0)
    });
    assert_eq!(prometheus.value(r#"up{job="scoreboard"}"#), Some(1.0));
    assert_eq!(prometheus.value("scoreboard_workers"), Some(2.0));
    assert_eq!(
        prometheus.value(r#"scoreboard_worker_requests_total{id="w2"}"#),
        Some(40.0)
    );
    let instance = server.addr.to_string();
    let labelled = format!(r#"scoreboard_worker_updates_total{{id="w1",instance="{instance}"}}"#);
    assert_eq!(prometheus.value(&labelled), Some(1.0));

    // Prometheus asked for OpenMetrics and parsed it: the metadata names
    // the counter's family without `_total`, as only OpenMetrics does.
    prometheus.wait_for("metadata", |p| {
        p.api("/api/v1/metadata", None).is_some_and(|data| {
            data["scoreboard_worker_updates"][0]["type"] == "counter"
                && data.get("scoreboard_worker_updates_total").is_none()
        })
    });

    // Later scrapes see the board change.
    w2.update(br#"{"state":"busy","requests":41}"#).unwrap();
    prometheus.wait_for("second busy worker", |p| {
        p.value(r#"scoreboard_workers_by_state{state="busy"}"#) == Some(2.0)
    });
    // Every rule loads and evaluates against the real series.
    prometheus.wait_for("rules evaluated", |p| {
        let Some(data) = p.api("/api/v1/rules", None) else {
            return false;
        };
        let rules: Vec<&Value> = data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        rules.len() == 5 && rules.iter().all(|r| r["health"] == "ok")
    });
    // Both workers busy: the all-busy alert is pending (it fires after 1m).
    prometheus.wait_for("a pending alert", |p| {
        p.api("/api/v1/alerts", None).is_some_and(|data| {
            data["alerts"].as_array().is_some_and(|alerts| {
                alerts.iter().any(|a| {
                    a["labels"]["alertname"] == "ScoreboardAllWorkersBusy"
                        && a["state"] == "pending"
                })
            })
        })
    });
    drop(prometheus);
    assert!(server.stop());
}

#[test]
#[cfg_attr(
    not(all(has_prometheus, has_openssl, has_htpasswd)),
    ignore = "prometheus, openssl or htpasswd not found on PATH"
)]
fn prometheus_scrapes_serve_over_tls_with_basic_auth() {
    let bin = PROMETHEUS.path();
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w1 = board.worker_with_id("w1").unwrap();
    w1.update(br#"{"state":"busy","requests":12}"#).unwrap();
    let conf = tempdir();
    let (web, cert) = crate::access::web_config(conf.path(), "scrape-me");
    let web = web.display().to_string();
    let server = Server::start(dir.path(), &["--web.config.file", &web]);
    assert_eq!(server.scheme, "https");
    let job = format!(
        "    scheme: https\n    tls_config:\n      ca_file: {}\n\
         \x20   basic_auth:\n      username: prometheus\n      password: scrape-me\n",
        cert.display()
    );
    let mut prometheus = Prometheus::start_with(&bin, &server.addr.to_string(), &job);
    prometheus.wait_for("series scraped over TLS", |p| {
        p.value("scoreboard_requests_total") == Some(12.0)
    });
    assert_eq!(prometheus.value(r#"up{job="scoreboard"}"#), Some(1.0));
    assert_eq!(
        prometheus.value(r#"scoreboard_workers_by_state{state="busy"}"#),
        Some(1.0)
    );
    w1.update(br#"{"state":"idle","requests":13}"#).unwrap();
    prometheus.wait_for("a later scrape", |p| {
        p.value("scoreboard_requests_total") == Some(13.0)
    });
    drop(prometheus);

    // The same scrape with a wrong password: the target is down, with 401.
    let wrong = job.replace("password: scrape-me", "password: guessed");
    let mut prometheus = Prometheus::start_with(&bin, &server.addr.to_string(), &wrong);
    prometheus.wait_for("the target down with 401", |p| {
        p.api("/api/v1/targets", None).is_some_and(|data| {
            data["activeTargets"].as_array().is_some_and(|targets| {
                targets.iter().any(|t| {
                    t["health"] == "down"
                        && t["lastError"].as_str().is_some_and(|e| e.contains("401"))
                })
            })
        })
    });
    assert_eq!(prometheus.value(r#"up{job="scoreboard"}"#), Some(0.0));
    drop(prometheus);
    assert!(server.stop());
}

#[test]
fn the_docs_quote_the_scrape_config_and_the_rules() {
    let root = repo_root();
    let page = std::fs::read_to_string(root.join("docs/monitoring.md")).unwrap();
    for file in [
        "docs/prometheus/prometheus.yml",
        "docs/prometheus/rules.yml",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        // The file without its opening comment, as the page quotes it.
        let body: Vec<&str> = text.lines().skip_while(|l| l.starts_with('#')).collect();
        let body = format!("```yaml\n{}\n```", body.join("\n").trim());
        assert!(
            page.contains(&body),
            "docs/monitoring.md does not quote {file} as it is"
        );
    }
}
