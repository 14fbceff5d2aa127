//! The HTTP client of the tests that talk to a server (`scoreboard serve`,
//! the HTTP crate's router and layer).

use std::time::Duration;

/// A real HTTP client that reports every status as a response (a 404 is an
/// answer to check, not an error), uses no proxy, and gives up after 20 s.
#[must_use]
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}
