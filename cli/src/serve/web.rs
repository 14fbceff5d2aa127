//! `--web.config.file`: TLS and basic authentication configured as the
//! Prometheus exporters configure them, in the exporter-toolkit's YAML
//! format:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt   # PEM: the certificate, then its chain
//!   key_file: server.key    # PEM: its private key
//! basic_auth_users:
//!   prometheus: $2y$10$...  # bcrypt hashes (htpasswd -nbB USER PASSWORD)
//! ```
//!
//! Relative paths are relative to the file's directory. Keys `serve` does
//! not support (the toolkit's client certificates, versions and cipher
//! suites, `http_server_config`) are refused rather than ignored, so that
//! nothing is thought to be in force that is not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio_rustls::TlsAcceptor;

use super::auth::Users;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tls_server_config: Option<TlsFile>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

/// The configuration in force.
#[derive(Debug, Default)]
pub(super) struct WebConfig {
    /// TLS, and the certificate file it serves (for the start line).
    pub(super) tls: Option<(Tls, PathBuf)>,
    /// The users of basic authentication, when any.
    pub(super) users: Option<Arc<Users>>,
}

/// Reads and checks the file at `path`.
pub(super) fn load(path: &Path) -> Result<WebConfig> {
    let what = || format!("--web.config.file {}", path.display());
    let text = std::fs::read_to_string(path).with_context(what)?;
    let file: File = if text.trim().is_empty() {
        File::default()
    } else {
        serde_norway::from_str(&text)
            .map_err(|e| anyhow!("{e}"))
            .context(
                "serve reads tls_server_config (cert_file, key_file) and basic_auth_users \
                 of the exporter-toolkit's format, and nothing else",
            )
            .with_context(what)?
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tls = match file.tls_server_config {
        None
        | Some(TlsFile {
            cert_file: None,
            key_file: None,
        }) => None,
        Some(TlsFile {
            cert_file: Some(cert),
            key_file: Some(key),
        }) => {
            let (cert, key) = (dir.join(cert), dir.join(key));
            Some((acceptor(&cert, &key).with_context(what)?, cert))
        }
        Some(_) => {
            return Err(anyhow!(
                "tls_server_config needs both cert_file and key_file"
            ))
            .with_context(what);
        }
    };
    let users = match file.basic_auth_users {
        Some(users) if !users.is_empty() => Some(Arc::new(Users::new(users).with_context(what)?)),
        _ => None,
    };
    Ok(WebConfig { tls, users })
}

/// A TLS acceptor.
#[derive(Clone)]
pub(super) struct Tls(pub(super) TlsAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

/// A TLS acceptor serving the certificate chain in `cert` with the key in
/// `key`, for HTTP/1.1.
fn acceptor(cert: &Path, key: &Path) -> Result<Tls> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| anyhow!("cert_file {}: {e}", cert.display()))?;
    if chain.is_empty() {
        bail!("cert_file {}: no PEM certificate in it", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow!("key_file {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("cert_file and key_file do not make a certificate and its key")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls(TlsAcceptor::from(Arc::new(config))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `text` from a file in a directory of its own (the tests run
    /// in parallel).
    fn load_text(text: &str) -> Result<WebConfig> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        // Relaxed: a unique number is all that is needed.
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("psb-test-web-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("web.yml");
        std::fs::write(&path, text)?;
        let result = load(&path);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    #[test]
    fn unknown_keys_are_refused_with_what_is_read() {
        let e = load_text("tls_server_config:\n  client_ca_file: ca.pem\n").unwrap_err();
        let text = format!("{e:#}");
        assert!(text.contains("client_ca_file"), "{text}");
        assert!(text.contains("cert_file, key_file"), "{text}");
        let e = load_text("http_server_config:\n  http2: false\n").unwrap_err();
        assert!(format!("{e:#}").contains("http_server_config"), "{e:#}");
    }

    #[test]
    fn empty_means_nothing_in_force() {
        let c = load_text("").unwrap();
        assert!(c.tls.is_none() && c.users.is_none());
        let c = load_text("basic_auth_users: {}\n").unwrap();
        assert!(c.users.is_none());
    }

    #[test]
    fn half_a_tls_config_and_bad_hashes_are_errors() {
        let e = load_text("tls_server_config:\n  cert_file: a.pem\n").unwrap_err();
        assert!(
            format!("{e:#}").contains("both cert_file and key_file"),
            "{e:#}"
        );
        let e = load_text("basic_auth_users:\n  alice: plaintext\n").unwrap_err();
        assert!(format!("{e:#}").contains("alice"), "{e:#}");
        let e = load_text("tls_server_config:\n  cert_file: none.pem\n  key_file: none.key\n")
            .unwrap_err();
        assert!(format!("{e:#}").contains("none.pem"), "{e:#}");
    }
}
