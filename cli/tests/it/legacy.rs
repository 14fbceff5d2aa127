//! `--legacy`: directories written by Perl's `Parallel::Scoreboard`.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::common::{
    Helper, Server, agent, get, hex, legacy_file, scoreboard, scoreboard_ok, tempdir,
};

#[test]
fn list_show_watch_and_serve_read_the_perl_format() {
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    let mut perl = Helper::spawn("legacy", dir.path());
    let pid = perl.ok("pid");
    // A live worker whose status shrank: the file keeps the longer one's tail.
    perl.ok(&format!(
        "create 1234 {}",
        hex(b"a much longer first status")
    ));
    perl.ok(&format!(
        "update 1234 {}",
        hex(br#"{"state":"busy","n":3}"#)
    ));
    perl.ok(&format!("create worker-b {}", hex(b"\xffbinary")));
    // A dead worker: nobody holds its lock.
    drop(legacy_file(dir.path(), "999", b"dead"));
    // A live worker whose digest does not match (a torn or corrupt record).
    perl.ok(&format!("create torn {}", hex(b"torn")));
    let path = dir.path().join("status_torn");
    let mut bytes = std::fs::read(&path).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&path, bytes).unwrap();
    // The Perl module's temporary and unrelated files are ignored.
    drop(legacy_file(dir.path(), "77.tmp", b"tmp"));
    std::fs::write(dir.path().join("README"), b"hello").unwrap();

    // Without --legacy: no workers, and a hint.
    let out = scoreboard(&["list", d]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("entries skipped") && err.contains("try --legacy"),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let frame = scoreboard_ok(&["watch", d, "--frames", "1"]);
    assert!(frame.contains("try --legacy"), "{frame}");
    assert!(dir.path().join("status_1234").exists());

    let out = scoreboard_ok(&["list", d, "--legacy", "--json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{out}");
    let w = &list[0];
    assert_eq!(w["id"], "1234");
    assert_eq!(w["pid"].to_string(), pid);
    assert_eq!(w["status"], r#"{"state":"busy","n":3}"#);
    assert_eq!(w["bytes"], 22);
    assert_eq!(w["updates"], Value::Null);
    let mtime = std::fs::metadata(dir.path().join("status_1234"))
        .unwrap()
        .modified()
        .unwrap();
    let shown = parallel_scoreboard_http::rfc3339(mtime);
    assert_eq!(w["updated_at"], shown);
    assert!(w["started_at"].as_str().unwrap() <= shown.as_str());
    assert_eq!(list[1]["id"], "worker-b");
    assert_eq!(list[1]["status"], Value::Null);
    assert_eq!(list[1]["status_base64"], "/2JpbmFyeQ==");
    // Reading never removes anything: the Perl side cleans up its own files.
    assert!(dir.path().join("status_999").exists());

    let table = scoreboard_ok(&["list", d, "--legacy"]);
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(table.lines().nth(1).unwrap().starts_with("1234 "));
    assert!(table.contains(&pid));

    let out = scoreboard(&["show", d, "1234", "--legacy"]);
    assert_eq!(out.stdout, br#"{"state":"busy","n":3}"#);
    let out = scoreboard(&["show", d, "999", "--legacy"]);
    assert_eq!(out.status.code(), Some(1));

    let frame = scoreboard_ok(&["watch", d, "--legacy", "--frames", "1"]);
    assert!(frame.contains("(legacy)"), "{frame}");
    assert!(frame.contains("2 live workers (1 busy)"), "{frame}");
    assert!(
        frame
            .lines()
            .any(|l| l.starts_with("1234 ") && l.contains("busy"))
    );
    assert!(!frame.contains("999"));

    let server = Server::start(dir.path(), &["--legacy"]);
    let (code, _, body) = get(&agent(), &server.url("/json"));
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        json!({"1234": {"state": "busy", "n": 3}, "worker-b": "\u{fffd}binary"})
    );
    let (_, _, metrics) = get(&agent(), &server.url("/metrics"));
    assert!(metrics.contains("scoreboard_workers 2\n"));
    assert!(metrics.contains("scoreboard_worker_status_field{id=\"1234\",field=\"n\"} 3\n"));
    assert!(!metrics.contains("scoreboard_worker_updates_total{"));
    let (_, _, page) = get(&agent(), &server.url("/"));
    assert_eq!(page.matches("<tr class=\"worker\"").count(), 2);

    // When the Perl worker dies, its workers are gone.
    perl.kill();
    let out = scoreboard_ok(&["list", d, "--legacy", "--json"]);
    assert_eq!(out.trim(), "[]");
    let (_, _, body) = get(&agent(), &server.url("/json"));
    assert_eq!(body, "{}");
    assert!(server.stop());
    let age = SystemTime::now().duration_since(mtime).unwrap();
    assert!(age < Duration::from_secs(60));
}

/// A worker of the Perl module, in Perl: it creates its file the way
/// `Parallel::Scoreboard::update` does (a `.tmp` name, an exclusive `flock`,
/// a rename), writes each status in turn over the previous one (MD5 digest,
/// `pack("N", length)`, status), says `ready`, and holds its lock until its
/// stdin closes.
const PERL_WORKER: &str = r#"
use strict;
use warnings;
use Digest::MD5 qw(md5);
use Fcntl qw(:flock SEEK_SET);
use IO::Handle;
my ($dir, $id, @statuses) = @ARGV;
my $fn = "$dir/status_$id";
open my $fh, '>', "$fn.tmp" or die "open: $!";
$fh->autoflush(1);
flock $fh, LOCK_EX or die "flock: $!";
rename "$fn.tmp", $fn or die "rename: $!";
for my $status (@statuses) {
    seek $fh, 0, SEEK_SET or die "seek: $!";
    print {$fh} md5($status), pack("N", length $status), $status;
}
print "ready\n";
STDOUT->flush;
my $rest = <STDIN>;
close $fh;
unlink $fn;
"#;

struct PerlWorker {
    child: testkit::Reaped,
}

impl PerlWorker {
    fn start(dir: &std::path::Path, id: &str, statuses: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(testkit::tools::PERL.path())
            .args(["-e", PERL_WORKER])
            .arg(dir)
            .arg(id)
            .args(statuses)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start perl");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        Self {
            child: testkit::Reaped::new(child),
        }
    }

    /// Closes its stdin: it closes and unlinks its file, as `DESTROY` does.
    fn finish(mut self) {
        drop(self.child.stdin.take());
        assert!(self.child.wait().unwrap().success());
    }
}

#[test]
#[cfg_attr(not(has_perl), ignore = "perl with Digest::MD5 not found on PATH")]
fn a_board_written_by_perl_is_read() {
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    let long = "a much longer first status, then a short one";
    let a = PerlWorker::start(dir.path(), "4242", &[long, r#"{"state":"busy","n":7}"#]);
    let mut b = PerlWorker::start(dir.path(), "worker-b", &["idle"]);

    let out = scoreboard_ok(&["list", d, "--legacy", "--json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{out}");
    assert_eq!(list[0]["id"], "4242");
    assert_eq!(list[0]["pid"], a.child.id());
    assert_eq!(list[0]["status"], r#"{"state":"busy","n":7}"#);
    assert_eq!(list[1]["id"], "worker-b");
    assert_eq!(list[1]["pid"], b.child.id());
    assert_eq!(list[1]["status"], "idle");
    let frame = scoreboard_ok(&["watch", d, "--legacy", "--frames", "1"]);
    assert!(frame.contains("2 live workers (1 busy, 1 idle)"), "{frame}");

    // A worker that exits removes its file; one that is killed leaves a dead
    // file, which is skipped (and left for the Perl side to remove).
    a.finish();
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    assert_eq!(
        scoreboard_ok(&["list", d, "--legacy", "--json"]).trim(),
        "[]"
    );
    assert_eq!(crate::common::entries(dir.path()), ["status_worker-b"]);
}
