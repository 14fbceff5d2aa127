//! Basic authentication against bcrypt hashes, as the exporter-toolkit
//! does it: a bcrypt check costs tens of milliseconds of CPU by design, so
//!
//! - credentials that passed are remembered (at most [`CACHED`] of them),
//!   and a client that sends them again costs a hash-set lookup;
//! - checks run one at a time on a blocking thread, so a flood of wrong
//!   passwords takes one core at most and never the threads that serve the
//!   other requests (each waiting request is still bound by the
//!   connection's request timeout);
//! - an unknown user costs a check as a known one does, so the time taken
//!   does not tell which users exist.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Result, anyhow};
use axum::http::HeaderValue;
use base64::Engine as _;
use tokio::sync::Semaphore;

/// How many passed credentials are remembered; the set is emptied when
/// full.
const CACHED: usize = 256;

/// The users and their bcrypt hashes.
pub(crate) struct Users {
    hashes: BTreeMap<String, String>,
    /// Checked against for unknown users.
    decoy: String,
    passed: Mutex<HashSet<(String, String)>>,
    /// One bcrypt check at a time.
    checks: Semaphore,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("count", &self.hashes.len())
            .finish_non_exhaustive()
    }
}

impl Users {
    /// `hashes` (user → bcrypt hash) checked: each must be a bcrypt hash.
    pub(super) fn new(hashes: BTreeMap<String, String>) -> Result<Self> {
        for (user, hash) in &hashes {
            hash.parse::<bcrypt::HashParts>().map_err(|e| {
                anyhow!("basic_auth_users: {user:?}: not a bcrypt hash ({e}); make one with htpasswd -nbB USER PASSWORD")
            })?;
        }
        let decoy = hashes.values().next().cloned().unwrap_or_default();
        Ok(Self {
            hashes,
            decoy,
            passed: Mutex::new(HashSet::new()),
            checks: Semaphore::new(1),
        })
    }

    /// How many users there are.
    pub(super) fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether `authorization` (the request's header) carries the
    /// credentials of a user.
    pub(super) async fn allow(self: &Arc<Self>, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = authorization.and_then(basic) else {
            return false;
        };
        let key = (user, password);
        if self.passed().contains(&key) {
            return true;
        }
        let Ok(_turn) = self.checks.acquire().await else {
            return false;
        };
        // A check that ran while this one waited may have passed them.
        if self.passed().contains(&key) {
            return true;
        }
        let this = Arc::clone(self);
        let (ok, key) = tokio::task::spawn_blocking(move || {
            let (hash, known) = match this.hashes.get(&key.0) {
                Some(hash) => (hash.as_str(), true),
                None => (this.decoy.as_str(), false),
            };
            let ok = bcrypt::verify(&key.1, hash).unwrap_or(false) && known;
            (ok, key)
        })
        .await
        .unwrap_or((false, (String::new(), String::new())));
        if ok {
            let mut passed = self.passed();
            if passed.len() >= CACHED {
                passed.clear();
            }
            passed.insert(key);
        }
        ok
    }

    fn passed(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.passed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The user and password of a `Basic` authorization.
fn basic(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> HeaderValue {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[test]
    fn right_passwords_pass_and_are_remembered() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let users = Arc::new(Users::new(BTreeMap::from([("alice".into(), hash)])).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert!(users.allow(Some(&header("alice", "s3cret"))).await);
            assert_eq!(users.passed().len(), 1);
            assert!(users.allow(Some(&header("alice", "s3cret"))).await);
            assert!(!users.allow(Some(&header("alice", "wrong"))).await);
            assert!(!users.allow(Some(&header("bob", "s3cret"))).await);
            assert!(!users.allow(None).await);
            let bearer = HeaderValue::from_static("Bearer abc");
            assert!(!users.allow(Some(&bearer)).await);
            assert_eq!(users.passed().len(), 1);
        });
    }

    #[test]
    fn basic_credentials_are_parsed() {
        assert_eq!(
            basic(&header("a", "b:c")),
            Some(("a".to_owned(), "b:c".to_owned()))
        );
        assert_eq!(basic(&HeaderValue::from_static("Basic !!!")), None);
        assert_eq!(
            basic(&HeaderValue::from_static("basic YTpi")),
            Some(("a".into(), "b".into()))
        );
    }
}
