//! `scoreboard serve`: the library's axum router over a board, on tokio.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use tokio::net::TcpListener;

use crate::source::Source;

/// Serves `source` on `listen` until SIGINT or SIGTERM. The bound address is
/// printed on stdout as `listening on http://ADDR/`.
pub(crate) fn run(source: Source, listen: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    runtime.block_on(serve(source, listen))
}

async fn serve(source: Source, listen: &str) -> Result<()> {
    let addrs = resolve(listen).await?;
    let mut last_error = None;
    let mut bound = None;
    for addr in &addrs {
        match TcpListener::bind(addr).await {
            Ok(l) => {
                bound = Some(l);
                break;
            }
            Err(e) => last_error = Some(anyhow!(e).context(format!("cannot listen on {addr}"))),
        }
    }
    let Some(listener) = bound else {
        return Err(last_error.unwrap_or_else(|| anyhow!("{listen:?} names no address")));
    };
    let title = source.describe();
    let source = Arc::new(source);
    let app =
        parallel_scoreboard::render::router_with(title, move || source.read().map_err(Into::into));
    let local = listener.local_addr()?;
    println!("listening on http://{local}/");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving")
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

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
