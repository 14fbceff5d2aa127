//! The listening socket: `HOST:PORT` resolved and bound.

use std::net::SocketAddr;

use anyhow::{Context as _, Result, anyhow};
use tokio::net::TcpListener;

/// Binds the first address `listen` names that can be bound.
pub(super) async fn bind(listen: &str) -> Result<TcpListener> {
    let addrs = resolve(listen).await?;
    let mut last_error = None;
    for addr in &addrs {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last_error = Some(anyhow!(e).context(format!("cannot listen on {addr}"))),
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow!("{listen:?} names no address")))
}

/// `HOST:PORT` as socket addresses, with a clear error for anything else.
async fn resolve(listen: &str) -> Result<Vec<SocketAddr>> {
    if let Ok(addr) = listen.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let bad = || format!("bad address {listen:?}: give HOST:PORT, such as 127.0.0.1:8080");
    if !listen.contains(':') {
        return Err(anyhow!(bad()));
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .with_context(bad)?
        .collect();
    Ok(addrs)
}
