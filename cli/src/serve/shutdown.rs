//! SIGINT and SIGTERM, through tokio's signal handling.

use anyhow::{Context as _, Result};
use tokio::signal::unix::{SignalKind, signal};

/// Resolves on the first SIGINT or SIGTERM after this is called. The
/// handlers are installed before it returns, so no signal is missed.
pub(super) fn requested() -> Result<impl Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
