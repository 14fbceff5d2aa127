//! Who may read `serve`: `--allow` ranges, and TLS with basic
//! authentication from a `--web.config.file` in the exporter-toolkit's
//! format, checked with the openssl, htpasswd and curl commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use parallel_scoreboard::Scoreboard;

use crate::common::{Server, agent, get, one_line_error, scoreboard, tempdir};

#[test]
fn only_allowed_ranges_read() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("w1").unwrap();
    w.update(b"idle").unwrap();
    let path = dir.path().display().to_string();

    let server = Server::start(
        dir.path(),
        &["--allow", "10.0.0.0/8", "--allow", "fd00::/8"],
    );
    for url in [
        "/",
        "/json",
        "/metrics",
        "/server-status?auto",
        "/worker/w1",
    ] {
        let (code, _, body) = get(&agent(), &server.url(url));
        assert_eq!(code, 403, "{url}: {body}");
        assert!(!body.contains("w1"), "{url}: {body}");
    }
    assert!(server.stop());

    for allow in [["127.0.0.0/8", "::1/128"], ["10.0.0.0/8", "127.0.0.1"]] {
        let server = Server::start(dir.path(), &["--allow", allow[0], "--allow", allow[1]]);
        let (code, _, body) = get(&agent(), &server.url("/json"));
        assert_eq!(
            (code, body.as_str()),
            (200, r#"{"w1":"idle"}"#),
            "{allow:?}"
        );
        assert!(server.stop());
    }

    let out = scoreboard(&["serve", &path, "--allow", "10.0.0.0/33"]);
    assert_eq!(out.status.code(), Some(2));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("\"10.0.0.0/33\" is not an address range"),
        "{error}"
    );
}

/// A self-signed certificate for 127.0.0.1 and its key, made by `openssl`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new(testkit::tools::OPENSSL.path())
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl: {out:?}");
    (cert, key)
}

/// A bcrypt hash of `password`, made by `htpasswd` (cost 5, to be quick).
fn bcrypt(user: &str, password: &str) -> String {
    let out = Command::new(testkit::tools::HTPASSWD.path())
        .args(["-nbB", "-C", "5", user, password])
        .output()
        .expect("run htpasswd");
    assert!(out.status.success(), "htpasswd: {out:?}");
    let line = String::from_utf8(out.stdout).unwrap();
    let (_, hash) = line.trim().split_once(':').unwrap();
    hash.to_owned()
}

/// A web configuration file with TLS (cert and key named relative to it)
/// and the user `prometheus` with `password`; returns its path and the
/// certificate's.
pub fn web_config(dir: &Path, password: &str) -> (PathBuf, PathBuf) {
    let (cert, _) = certificate(dir);
    let path = dir.join("web.yml");
    std::fs::write(
        &path,
        format!(
            "# As for a Prometheus exporter.\ntls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n\
             basic_auth_users:\n  prometheus: {}\n",
            bcrypt("prometheus", password)
        ),
    )
    .unwrap();
    (path, cert)
}

/// `curl` of `url` trusting `cert`, with `user` if given: (status code,
/// headers, body).
fn curl(url: &str, cert: &Path, user: Option<&str>) -> (u16, String, String) {
    let mut command = Command::new(testkit::tools::CURL.path());
    command
        .args([
            "--silent",
            "--show-error",
            "--noproxy",
            "*",
            "--max-time",
            "20",
        ])
        .arg("--cacert")
        .arg(cert)
        .args(["--dump-header", "-", url]);
    if let Some(user) = user {
        command.args(["--user", user]);
    }
    let out = command.output().expect("run curl");
    assert!(out.status.success(), "curl {url}: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, head.to_ascii_lowercase(), body.to_owned())
}

#[test]
#[cfg_attr(
    not(all(has_openssl, has_htpasswd, has_curl)),
    ignore = "openssl, htpasswd or curl not found on PATH"
)]
fn tls_and_basic_authentication() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("w1").unwrap();
    w.update(br#"{"state":"idle","requests":4}"#).unwrap();
    let conf = tempdir();
    let (web, cert) = web_config(conf.path(), "s3cret pass");
    let web = web.display().to_string();
    let (server, log) = Server::start_logged(dir.path(), &["--web.config.file", &web]);
    assert_eq!(server.scheme, "https");
    let start = log.wait_for("at start", |l| l.starts_with("scoreboard: serving "));
    assert!(
        start.contains("tls ") && start.contains("cert.pem"),
        "{start}"
    );
    assert!(start.contains("basic-auth users 1"), "{start}");

    let url = server.url("/metrics");
    let (code, head, _) = curl(&url, &cert, None);
    assert_eq!(code, 401);
    assert!(
        head.contains("\r\nwww-authenticate: basic realm=\"scoreboard\""),
        "{head}"
    );
    let (code, _, body) = curl(&url, &cert, Some("prometheus:wrong"));
    assert_eq!(code, 401, "{body}");
    let (code, _, body) = curl(&url, &cert, Some("nobody:s3cret pass"));
    assert_eq!(code, 401, "{body}");
    for _ in 0..3 {
        let (code, _, body) = curl(&url, &cert, Some("prometheus:s3cret pass"));
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("\nscoreboard_requests_total 4\n"), "{body}");
    }
    // Plain HTTP on the TLS port gets no page.
    let plain = agent().get(format!("http://{}/json", server.addr)).call();
    assert!(
        plain.is_err() || plain.is_ok_and(|r| r.status() != 200),
        "plain HTTP answered"
    );
    assert!(server.stop());
}

#[test]
fn web_configs_serve_cannot_honour_are_refused() {
    let dir = tempdir();
    let path = dir.path().display().to_string();
    let conf = tempdir();
    let cases = [
        (
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_ca_file: ca.pem\n",
            "client_ca_file",
        ),
        (
            "tls_server_config:\n  cert_file: c.pem\n",
            "both cert_file and key_file",
        ),
        ("basic_auth_users:\n  alice: hunter2\n", "not a bcrypt hash"),
        (
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n",
            "c.pem",
        ),
        (
            "http_server_config:\n  http2: false\n",
            "http_server_config",
        ),
    ];
    for (text, says) in cases {
        let web = conf.path().join("web.yml");
        std::fs::write(&web, text).unwrap();
        let out = scoreboard(&[
            "serve",
            &path,
            "--web.config.file",
            &web.display().to_string(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let error = one_line_error(&out);
        assert!(error.contains(says), "{text}: {error}");
        assert!(error.contains("--web.config.file"), "{error}");
    }
}
