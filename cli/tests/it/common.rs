//! Test plumbing of the CLI's own: the binary, legacy files, `serve`, HTTP.
//! Board directories and helper processes are the `testkit` crate's.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use md5::{Digest, Md5};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
pub use testkit::{DIR_VAR, Helper, entries, tempdir};

/// The `scoreboard` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_scoreboard");

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_path_buf()
}

/// Runs `scoreboard ARGS` to completion.
pub fn scoreboard(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run scoreboard")
}

/// Runs `scoreboard ARGS`, which must succeed; returns its stdout.
pub fn scoreboard_ok(args: &[&str]) -> String {
    let out = scoreboard(args);
    assert!(
        out.status.success(),
        "scoreboard {args:?}: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Asserts a failure with exactly one line on stderr, no panic; returns it.
pub fn one_line_error(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(
        err.starts_with("scoreboard: ") || err.starts_with("error: "),
        "{err:?}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err:?}"
    );
    err
}

/// `bytes` as lowercase hex, for statuses sent to helpers.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Writes `status` into `dir/status_<id>` as Perl's `Parallel::Scoreboard`
/// does: MD5 digest, 4-byte big-endian length, payload, in place over
/// whatever the file held (it never shrinks).
pub fn write_legacy(file: &mut File, status: &[u8]) {
    use std::io::Seek;
    let mut record = Md5::digest(status).to_vec();
    record.extend_from_slice(&u32::try_from(status.len()).unwrap().to_be_bytes());
    record.extend_from_slice(status);
    file.seek(std::io::SeekFrom::Start(0)).expect("seek");
    file.write_all(&record).expect("write");
}

/// Creates `dir/status_<id>` holding `status`, as the Perl module does.
pub fn legacy_file(dir: &Path, id: &str, status: &[u8]) -> File {
    let path = dir.join(format!("status_{id}"));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .expect("create legacy file");
    write_legacy(&mut file, status);
    file
}

/// `scoreboard serve` running on a free port of 127.0.0.1.
pub struct Server {
    child: testkit::Reaped,
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
}

/// What a process writes on stderr, gathered line by line by a thread.
#[derive(Clone, Default)]
pub struct Log(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Log {
    /// Gathers the lines of `stream` until it ends.
    pub fn gather(stream: impl Read + Send + 'static) -> Self {
        let log = Self::default();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                eprintln!("{line}");
                lines.0.lock().unwrap().push(line);
            }
        });
        log
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The first line that `matches`, waiting up to 20 s for it.
    pub fn wait_for(&self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        testkit::eventually(Duration::from_secs(20), Duration::from_millis(20), || {
            self.lines()
                .into_iter()
                .find(|l| matches(l))
                .ok_or_else(|| format!("no line {what} on stderr: {:#?}", self.lines()))
        })
    }
}

impl Server {
    pub fn start(dir: &Path, extra: &[&str]) -> Self {
        Self::start_with(dir, extra, |_| {})
    }

    /// [`start`](Self::start) with its stderr gathered (and still shown).
    pub fn start_logged(dir: &Path, extra: &[&str]) -> (Self, Log) {
        let mut server = Self::start_with(dir, extra, |c| {
            c.stderr(Stdio::piped());
        });
        let log = Log::gather(server.child.stderr.take().expect("stderr"));
        (server, log)
    }

    /// [`start`](Self::start) with the command adjusted by `configure`
    /// first (a `pre_exec`, say).
    pub fn start_with(dir: &Path, extra: &[&str], configure: impl FnOnce(&mut Command)) -> Self {
        Self::launch(Command::new(BIN), dir, extra, configure)
    }

    /// [`start`](Self::start) as user `uid`, group `gid`, with the
    /// supplementary groups `groups` (through `setpriv`; the test must be
    /// root).
    pub fn start_as(dir: &Path, extra: &[&str], ids: (u32, u32, &[u32])) -> Self {
        Self::launch(as_user(BIN, ids), dir, extra, |_| {})
    }

    fn launch(
        mut command: Command,
        dir: &Path,
        extra: &[&str],
        configure: impl FnOnce(&mut Command),
    ) -> Self {
        command
            .arg("serve")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        configure(&mut command);
        let mut child = command.spawn().expect("start scoreboard serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the bound address");
        let (scheme, rest) = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|s| s.split_once("://"))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let scheme = if scheme == "https" { "https" } else { "http" };
        let addr = rest
            .strip_suffix('/')
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        Self {
            child: testkit::Reaped::new(child),
            addr,
            scheme,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// Stops the server with SIGTERM; returns whether it exited successfully.
    pub fn stop(self) -> bool {
        self.stop_within(Duration::from_secs(10))
    }

    /// Stops the server with SIGTERM, which must end it within `limit`;
    /// returns whether it exited successfully.
    pub fn stop_within(mut self, limit: Duration) -> bool {
        let pid = Pid::from_raw(self.child.id().cast_signed());
        // Our unreaped child: the pid names no other process.
        kill(pid, Signal::SIGTERM).expect("SIGTERM the server");
        testkit::eventually(limit, Duration::from_millis(20), || {
            let status = self.child.try_wait().expect("wait");
            status
                .map(|s| s.success())
                .ok_or("the server did not stop on SIGTERM".to_owned())
        })
    }
}

/// A command running `program` as user `uid`, group `gid`, with the
/// supplementary groups `groups` and no capabilities (through `setpriv`; the
/// test must be root; the ids need not exist).
pub fn as_user(program: &str, (uid, gid, groups): (u32, u32, &[u32])) -> Command {
    let mut command = Command::new("setpriv");
    command.args([format!("--reuid={uid}"), format!("--regid={gid}")]);
    if groups.is_empty() {
        command.arg("--clear-groups");
    } else {
        let list: Vec<String> = groups.iter().map(u32::to_string).collect();
        command.arg(format!("--groups={}", list.join(",")));
    }
    command.args(["--inh-caps=-all", "--", program]);
    command
}

pub use testkit::http_client::agent;

/// GET `url`: (status code, content type, body). Every 200 must forbid caching.
pub fn get(agent: &ureq::Agent, url: &str) -> (u16, String, String) {
    let mut response = agent.get(url).call().expect("GET");
    let status = response.status().as_u16();
    if status == 200 {
        let cache = response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap());
        assert_eq!(cache, Some("no-store"), "{url}");
    }
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.body_mut().read_to_string().expect("body");
    (status, content_type, body)
}

/// Reads everything from `r` (for raw sockets).
pub fn read_all(mut r: impl Read) -> String {
    let mut s = String::new();
    r.read_to_string(&mut s).expect("read");
    s
}
