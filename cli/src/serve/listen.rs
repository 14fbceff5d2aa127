//! The listening socket: `HOST:PORT` resolved and bound, with a backlog.

use std::net::SocketAddr;

use anyhow::{Context as _, Result, anyhow};
use tokio::net::{TcpListener, TcpSocket};

/// Binds the first address `listen` names that can be bound, and listens
/// with `backlog`.
pub(super) async fn bind(listen: &str, backlog: u32) -> Result<TcpListener> {
    let addrs = resolve(listen).await?;
    let mut last_error = None;
    for addr in &addrs {
        match bind_one(*addr, backlog) {
            Ok(l) => return Ok(l),
            Err(e) => last_error = Some(anyhow!(e).context(format!("cannot listen on {addr}"))),
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow!("{listen:?} names no address")))
}

/// `addr` bound as `TcpListener::bind` does it (`SO_REUSEADDR`, so that a
/// restart does not wait for the old connections' `TIME_WAIT`), with
/// `backlog`.
fn bind_one(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// The kernel's cap on listen backlogs, `net.core.somaxconn`, when readable.
pub(super) fn somaxconn() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()?
        .trim()
        .parse()
        .ok()
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
