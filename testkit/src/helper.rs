//! Helper processes: the test binary re-executed in a helper role, driven
//! line by line over stdin/stdout. Each answer is one line starting with
//! `@@ ` (the test harness prints lines of its own too).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// The environment variable naming the role a helper plays.
pub const ROLE_VAR: &str = "PSB_TEST_ROLE";
/// The environment variable naming the board directory of a helper.
pub const DIR_VAR: &str = "PSB_TEST_DIR";

/// Defines the `#[ignore]`d test `helper_entry` that [`Helper`] runs: it
/// calls `$run(role)` when started as a helper and does nothing otherwise.
/// Place it at the root of the test crate.
#[macro_export]
macro_rules! helper_entry {
    ($run:path) => {
        /// The entry point of helper processes; does nothing in a normal test run.
        #[test]
        #[ignore = "entry point of helper processes, started by the other tests"]
        fn helper_entry() {
            if let Ok(role) = std::env::var($crate::ROLE_VAR) {
                $run(&role);
            }
        }
    };
}

/// A helper process: this test binary in a helper role, in a process group
/// of its own. Dropping it before [`kill`](Self::kill) or
/// [`finish`](Self::finish) (a test that failed) SIGKILLs the whole group,
/// the processes the helper forked included, and reaps the helper: a failed
/// test leaves no process behind.
#[derive(Debug)]
pub struct Helper {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// Reaped by `kill` or `finish`: its pid (and group id) may name
    /// another process now, so `Drop` sends nothing.
    reaped: bool,
}

impl Helper {
    /// Starts a helper in `role` on the board in `dir`.
    #[must_use]
    pub fn spawn(role: &str, dir: &Path) -> Self {
        Self::spawn_with(role, dir, &[])
    }

    /// [`spawn`](Self::spawn) with more environment variables.
    #[must_use]
    pub fn spawn_with(role: &str, dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::spawn_cmd(role, dir, env, |_| {})
    }

    /// Starts a helper running as user and group `id` (the test must be root).
    #[must_use]
    pub fn spawn_as(role: &str, dir: &Path, id: u32) -> Self {
        Self::spawn_cmd(role, dir, &[], |cmd| {
            cmd.uid(id).gid(id);
        })
    }

    /// Starts a helper as user `uid`, group `gid`, with the supplementary
    /// groups `groups` and no capabilities, through `setpriv` (the test must
    /// be root; the ids need not exist), with more environment variables.
    #[must_use]
    pub fn spawn_as_member(
        role: &str,
        dir: &Path,
        (uid, gid, groups): (u32, u32, &[u32]),
        env: &[(&str, &str)],
    ) -> Self {
        let groups: Vec<String> = groups.iter().map(u32::to_string).collect();
        let groups = if groups.is_empty() {
            "--clear-groups".to_owned()
        } else {
            format!("--groups={}", groups.join(","))
        };
        let wrap = [
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            groups,
            "--inh-caps=-all".to_owned(),
            "--".to_owned(),
        ];
        let mut wrapper = vec!["setpriv"];
        wrapper.extend(wrap.iter().map(String::as_str));
        Self::spawn_program(&wrapper, role, dir, env, |_| {})
    }

    /// Starts a helper through `wrapper`, a program and its arguments that
    /// run the command following them (`faketime -f +1h`, say).
    #[must_use]
    pub fn spawn_wrapped(wrapper: &[&str], role: &str, dir: &Path) -> Self {
        Self::spawn_program(wrapper, role, dir, &[], |_| {})
    }

    fn spawn_cmd(
        role: &str,
        dir: &Path,
        env: &[(&str, &str)],
        configure: impl FnOnce(&mut Command),
    ) -> Self {
        Self::spawn_program(&[], role, dir, env, configure)
    }

    /// The helper, run by `wrapper` when there is one.
    fn spawn_program(
        wrapper: &[&str],
        role: &str,
        dir: &Path,
        env: &[(&str, &str)],
        configure: impl FnOnce(&mut Command),
    ) -> Self {
        let exe = std::env::current_exe().expect("current_exe");
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(exe);
                cmd
            }
            None => Command::new(exe),
        };
        cmd.args([
            "--ignored",
            "--exact",
            "helper_entry",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(ROLE_VAR, role)
        .env(DIR_VAR, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        configure(&mut cmd);
        let mut child = cmd.spawn().expect("spawn helper");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
            reaped: false,
        }
    }

    /// The helper's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next protocol line (`@@ ...`), without the prefix. Panics at EOF.
    pub fn line(&mut self) -> String {
        loop {
            let mut s = String::new();
            let n = self.stdout.read_line(&mut s).expect("read helper");
            assert!(n > 0, "helper {} exited before answering", self.child.id());
            if let Some(rest) = s.strip_prefix("@@ ") {
                return rest.trim_end().to_owned();
            }
        }
    }

    /// Sends one line without waiting for an answer.
    pub fn tell(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write helper");
        stdin.flush().expect("flush");
    }

    /// Sends one command and returns its answer.
    pub fn send(&mut self, cmd: &str) -> String {
        self.tell(cmd);
        self.line()
    }

    /// Sends a command that must succeed; returns what follows `ok`.
    pub fn ok(&mut self, cmd: &str) -> String {
        let answer = self.send(cmd);
        match answer.strip_prefix("ok") {
            Some(rest) => rest.trim().to_owned(),
            None => panic!("{cmd:?} answered {answer:?}"),
        }
    }

    /// Sends signal `sig` (a `libc::SIG*` number) to the helper.
    pub fn signal(&self, sig: std::ffi::c_int) {
        let signal = Signal::try_from(sig).expect("a signal number");
        // Our unreaped child: the pid names no other process.
        kill(Pid::from_raw(self.child.id().cast_signed()), signal)
            .unwrap_or_else(|e| panic!("kill({}, {sig}): {e}", self.child.id()));
    }

    /// SIGKILLs the helper (alone: what it forked lives on) and reaps it:
    /// its locks are gone when this returns.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
        self.reaped = true;
    }

    /// Closes its stdin (it exits normally, dropping its handles) and reaps it.
    #[allow(
        clippy::must_use_candidate,
        reason = "a test may only wait for the exit"
    )]
    pub fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait");
        self.reaped = true;
        status
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // Not reaped yet, so the group id is still the helper's own; a group
        // already gone is ESRCH. No panic in a drop.
        let _ = killpg(
            Pid::from_raw(self.child.id().cast_signed()),
            Signal::SIGKILL,
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
