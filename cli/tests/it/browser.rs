//! The HTML page in headless Chromium: the browser's DOM has the table.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use parallel_scoreboard::Scoreboard;

use testkit::eventually;
use testkit::tools::CHROMIUM;

use crate::common::{Server, tempdir};

/// Runs Chromium headless with `args`; returns stdout.
fn run_chromium(bin: &PathBuf, args: &[&str]) -> String {
    let profile = testkit::tempdir();
    let mut child = testkit::Reaped::new(
        Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium"),
    );
    eventually(Duration::from_secs(90), Duration::from_millis(50), || {
        let exited = child.try_wait().unwrap().is_some();
        exited
            .then_some(())
            .ok_or("chromium did not finish".to_owned())
    });
    let out = child.output();
    assert!(out.status.success(), "chromium {args:?}: {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[cfg_attr(not(has_chromium), ignore = "chromium not found on PATH")]
fn chromium_shows_one_table_row_per_worker() {
    let bin = CHROMIUM.path();
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut workers = Vec::new();
    for (id, status) in [
        ("worker-1", "busy GET /index.html"),
        ("worker-2", "idle"),
        (
            "<img src=x onerror=alert(1)>",
            "<script>document.body.innerHTML='owned'</script>",
        ),
    ] {
        let mut w = board.worker_with_id(id).unwrap();
        w.update(status.as_bytes()).unwrap();
        workers.push(w);
    }
    let server = Server::start(dir.path(), &[]);
    let dom = run_chromium(&bin, &["--dump-dom", &server.url("/")]);

    // The DOM after parsing and running scripts: three rows, all text intact.
    assert!(dom.contains("<table id=\"workers\">"), "{dom}");
    let rows: Vec<&str> = dom.split("<tr class=\"worker\"").skip(1).collect();
    assert_eq!(rows.len(), 3, "{dom}");
    let cell = |row: &str, class: &str| -> String {
        let start = row.find(&format!("<td class=\"{class}\">")).unwrap() + class.len() + 13;
        row[start..start + row[start..].find("</td>").unwrap()].to_owned()
    };
    assert_eq!(cell(rows[0], "id"), "&lt;img src=x onerror=alert(1)&gt;");
    assert_eq!(
        cell(rows[0], "status"),
        "&lt;script&gt;document.body.innerHTML='owned'&lt;/script&gt;"
    );
    assert_eq!(cell(rows[1], "id"), "worker-1");
    assert_eq!(cell(rows[1], "state"), "busy");
    assert_eq!(cell(rows[1], "status"), "busy GET /index.html");
    assert_eq!(cell(rows[1], "updates"), "1");
    assert_eq!(cell(rows[1], "pid"), std::process::id().to_string());
    assert_eq!(cell(rows[2], "id"), "worker-2");
    assert_eq!(cell(rows[2], "state"), "idle");
    assert!(!dom.contains("owned</body>"));
    assert!(dom.contains("3 live workers, 1 busy, 1 idle"));
    // mod_status's grid, one character per row in the table's order, its key
    // and the totals (no status here carries a request counter).
    assert!(dom.contains("<pre id=\"scoreboard\">?W_</pre>"), "{dom}");
    assert!(dom.contains("<code>W</code> busy, <code>_</code> idle, <code>?</code> state unknown"));
    let dd = |id: &str| -> String {
        let start = dom.find(&format!("<dd id=\"{id}\">")).unwrap() + id.len() + 10;
        dom[start..start + dom[start..].find("</dd>").unwrap()].to_owned()
    };
    assert_eq!(dd("requests"), "-");
    let oldest: f64 = dd("oldest-busy").parse().unwrap();
    assert!((0.0..600.0).contains(&oldest), "{oldest}");

    // A screenshot of the page is a PNG image.
    let png = dir.path().join("page.png");
    run_chromium(
        &bin,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1000,400",
            &server.url("/?refresh=5"),
        ],
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 5000);
    assert!(server.stop());
}
