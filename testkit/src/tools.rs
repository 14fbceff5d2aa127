//! The external programs some tests drive, and how to find them.
//!
//! This file uses std alone: the CLI's build script compiles it too
//! (`#[path]` in `cli/build.rs`) to set `has_<cfg>` for each program found
//! on `PATH`, so that a test needing a missing one is reported *ignored*
//! with the reason, and the tests themselves find the programs with it.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A program some tests need.
#[derive(Debug)]
pub struct Tool {
    /// What the build script's cfg is named after: `has_<cfg>`.
    pub cfg: &'static str,
    /// The names it goes by, the usual first.
    pub names: &'static [&'static str],
    /// Arguments of a run that must succeed for it to count; with none,
    /// being on `PATH` is enough.
    pub check: &'static [&'static str],
    /// The Debian package that installs it.
    pub package: &'static str,
}

/// Headless Chromium (the status page in a browser).
pub const CHROMIUM: Tool = Tool {
    cfg: "chromium",
    names: &["chromium", "chromium-browser", "google-chrome"],
    check: &[],
    package: "chromium",
};

/// tmux (the `watch` screen in a terminal).
pub const TMUX: Tool = Tool {
    cfg: "tmux",
    names: &["tmux"],
    check: &["-V"],
    package: "tmux",
};

/// Perl with `Digest::MD5` (boards written by the Perl module).
pub const PERL: Tool = Tool {
    cfg: "perl",
    names: &["perl"],
    check: &["-MDigest::MD5", "-e", "1"],
    package: "perl",
};

/// The Prometheus server (scraping `serve`).
pub const PROMETHEUS: Tool = Tool {
    cfg: "prometheus",
    names: &["prometheus"],
    check: &[],
    package: "prometheus",
};

/// promtool (linting the metrics, testing the alert rules).
pub const PROMTOOL: Tool = Tool {
    cfg: "promtool",
    names: &["promtool"],
    check: &[],
    package: "prometheus",
};

/// curl (HTTPS requests with basic authentication to `serve`).
pub const CURL: Tool = Tool {
    cfg: "curl",
    names: &["curl"],
    check: &["--version"],
    package: "curl",
};

/// The openssl command (a self-signed certificate for `serve`'s TLS).
pub const OPENSSL: Tool = Tool {
    cfg: "openssl",
    names: &["openssl"],
    check: &["version"],
    package: "openssl",
};

/// htpasswd (bcrypt password hashes, as Prometheus exporters' docs make them).
pub const HTPASSWD: Tool = Tool {
    cfg: "htpasswd",
    names: &["htpasswd"],
    check: &[],
    package: "apache2-utils",
};

/// systemd-analyze (verifying the systemd unit of `serve`).
pub const SYSTEMD_ANALYZE: Tool = Tool {
    cfg: "systemd_analyze",
    names: &["systemd-analyze"],
    check: &["--version"],
    package: "systemd",
};

/// faketime (libfaketime's wrapper: a worker whose wall clock is set off,
/// its monotonic clock left true).
pub const FAKETIME: Tool = Tool {
    cfg: "faketime",
    names: &["faketime"],
    check: &["-f", "--exclude-monotonic", "+1h", "true"],
    package: "faketime",
};

/// `ab`, Apache's HTTP benchmarking tool (a burst of concurrent clients).
pub const AB: Tool = Tool {
    cfg: "ab",
    names: &["ab"],
    check: &["-V"],
    package: "apache2-utils",
};

/// Every program the tests use.
pub const ALL: [&Tool; 11] = [
    &CHROMIUM,
    &TMUX,
    &PERL,
    &PROMETHEUS,
    &PROMTOOL,
    &CURL,
    &OPENSSL,
    &HTPASSWD,
    &SYSTEMD_ANALYZE,
    &FAKETIME,
    &AB,
];

/// For a crate's build script: sets `cfg(has_<name>)` for every program on
/// `PATH` and declares the cfg of every one, so that a test needing a
/// missing program is `#[cfg_attr(not(has_<name>), ignore = "...")]`.
pub fn emit_cargo_cfgs() {
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-changed=../testkit/src/tools.rs");
    for tool in ALL {
        println!("cargo::rustc-check-cfg=cfg(has_{})", tool.cfg);
        if tool.find().is_some() {
            println!("cargo::rustc-cfg=has_{}", tool.cfg);
        }
    }
}

impl Tool {
    /// The first of its names found on `PATH` (whose check run succeeds).
    #[must_use]
    pub fn find(&self) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        let bin = self.names.iter().find_map(|name| {
            std::env::split_paths(&path)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })?;
        let works = self.check.is_empty()
            || Command::new(&bin)
                .args(self.check)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        works.then_some(bin)
    }

    /// Where it is, for a test that runs only when the build found it.
    ///
    /// # Panics
    ///
    /// If it is not on `PATH` (any more), naming the package to install.
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.find().unwrap_or_else(|| panic!("{}", self.missing()))
    }

    /// The message for it missing: `chromium not found on PATH (apt-get install chromium)`.
    #[must_use]
    pub fn missing(&self) -> String {
        format!(
            "{} not found on PATH (apt-get install {})",
            self.names[0], self.package
        )
    }
}
