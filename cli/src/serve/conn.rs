//! One connection: HTTP/1 by hyper with its header-read timeout, watched
//! for graceful shutdown, closed early when chosen at the cap or when idle
//! (or a response is in flight) for too long.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::response::Response;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::net::TcpStream;
use tower::ServiceExt as _;

use super::Limits;
use super::conns::{Busy, Conn, Noted, Registered};

/// Serves `stream` until the client goes, a timeout, its eviction, or the
/// graceful shutdown `watcher` ends it.
pub(super) async fn serve(
    stream: TcpStream,
    registered: Registered,
    app: Router,
    limits: Limits,
    watcher: Watcher,
) {
    let conn = Arc::clone(&registered.conn);
    let io = TokioIo::new(Noted::new(stream, Arc::clone(&conn)));
    let for_requests = Arc::clone(&conn);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let busy = for_requests.begin();
        let app = app.clone();
        async move {
            let response = app.oneshot(req.map(Body::new)).await?;
            busy.responded();
            Ok::<Response, Infallible>(response.map(|b| Body::new(Answering { body: b, _busy: busy })))
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::select! {
        // Errors are the client's doing (gone, malformed, too slow): nothing to report.
        r = watcher.watch(connection) => {eprintln!("DEBUG conn ended {r:?}");}
        () = conn.close.notified() => {eprintln!("DEBUG evicted");}
        () = timed_out(&conn, limits.idle_timeout, limits.request_timeout) => {eprintln!("DEBUG timed out");}
    }
    drop(registered);
}

/// Resolves once the connection has been idle for `idle`, or busy with one
/// spell of requests for `request`.
async fn timed_out(conn: &Conn, idle: Duration, request: Duration) {
    loop {
        let deadline = conn.deadline(idle, request);
        if deadline <= std::time::Instant::now() {
            return;
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// A response body that keeps its request marked busy until it is sent.
struct Answering {
    body: Body,
    _busy: Busy,
}

impl HttpBody for Answering {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
