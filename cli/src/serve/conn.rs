//! One connection: TLS when configured, then HTTP/1 by hyper with its
//! header-read timeout and half-closed clients answered, watched for
//! graceful shutdown, closed early when chosen at the cap or when idle (or
//! a response is in flight) for too long. Each request is checked against
//! `--allow` and the users of `--web.config.file` before the router sees
//! it; error responses, and with `--access-log` every request, are logged
//! on stderr.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tower::ServiceExt as _;

use super::Context;
use super::conns::{Busy, Conn, Noted, Registered};

/// Serves `stream`, from `peer`, until the client goes, a timeout, its
/// eviction, or the graceful shutdown `watcher` ends it.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    registered: Registered,
    ctx: Arc<Context>,
    watcher: Watcher,
) {
    let conn = Arc::clone(&registered.conn);
    let noted = Noted::new(stream, Arc::clone(&conn));
    let limits = ctx.limits;
    let work = async {
        match &ctx.tls {
            None => http(noted, peer, &conn, &ctx, watcher).await,
            Some(tls) => {
                match tokio::time::timeout(limits.header_timeout, tls.0.accept(noted)).await {
                    Ok(Ok(tls)) => http(tls, peer, &conn, &ctx, watcher).await,
                    // The client's doing; worth a line where requests are logged.
                    Ok(Err(e)) if ctx.access_log => {
                        log!("scoreboard: access {peer} TLS handshake failed: {e}");
                    }
                    Err(_) if ctx.access_log => {
                        log!("scoreboard: access {peer} TLS handshake timed out");
                    }
                    _ => {}
                }
            }
        }
    };
    tokio::select! {
        () = work => {}
        () = conn.close.notified() => {}
        () = timed_out(&conn, limits.idle_timeout, limits.request_timeout) => {}
    }
    drop(registered);
}

/// HTTP/1 on `io` until the client goes or the `watcher` ends it.
async fn http<I>(io: I, peer: SocketAddr, conn: &Arc<Conn>, ctx: &Arc<Context>, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let allowed = ctx.allows(peer);
    let header_timeout = ctx.limits.header_timeout;
    let for_requests = Arc::clone(conn);
    let ctx = Arc::clone(ctx);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let busy = for_requests.begin();
        let ctx = Arc::clone(&ctx);
        async move {
            let started = Instant::now();
            let line = format!("{} {} {:?}", req.method(), req.uri(), req.version());
            let response = if !allowed {
                (
                    StatusCode::FORBIDDEN,
                    "forbidden: this address may not read the board\n",
                )
                    .into_response()
            } else if let Some(users) = &ctx.users
                && !users.allow(req.headers().get(header::AUTHORIZATION)).await
            {
                unauthorized()
            } else {
                ctx.app.clone().oneshot(req.map(Body::new)).await?
            };
            busy.responded();
            let status = response.status();
            if status.is_server_error() {
                log!(
                    "scoreboard: error response {} to {peer} {line:?} after {}",
                    status.as_u16(),
                    millis(started.elapsed())
                );
            }
            let log = ctx.access_log.then(|| AccessLog {
                peer,
                line,
                status,
                started,
                bytes: 0,
            });
            Ok::<Response, Infallible>(response.map(|body| {
                Body::new(Answering {
                    body,
                    log,
                    _busy: busy,
                })
            }))
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true)
        // A client that shuts down its sending side after its request
        // (`nc -N`, scripted checks) still gets the response.
        .half_close(true)
        .serve_connection(TokioIo::new(io), service);
    // Errors are the client's doing (gone, malformed, too slow): nothing to report.
    let _ = watcher.watch(connection).await;
}

/// A 401 asking for basic authentication.
fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"scoreboard\", charset=\"UTF-8\""),
        )],
        "unauthorized\n",
    )
        .into_response()
}

/// `d` in milliseconds, to the microsecond: `1.204ms`.
fn millis(d: Duration) -> String {
    format!("{:.3}ms", d.as_secs_f64() * 1000.0)
}

/// Resolves once the connection has been idle for `idle`, or busy with one
/// spell of requests for `request`. Activity only moves the deadline later,
/// so it is checked again when the sleep ends; the end of a busy spell
/// brings it nearer, so that wakes it at once.
async fn timed_out(conn: &Conn, idle: Duration, request: Duration) {
    loop {
        let deadline = conn.deadline(idle, request);
        if deadline <= std::time::Instant::now() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline.into()) => {}
            () = conn.went_idle.notified() => {}
        }
    }
}

/// What the access log says of a request, written when its response has
/// been sent (or given up).
struct AccessLog {
    peer: SocketAddr,
    /// Method, target and version.
    line: String,
    status: StatusCode,
    started: Instant,
    /// Body bytes sent so far.
    bytes: u64,
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        log!(
            "scoreboard: access {} {:?} {} {} {}",
            self.peer,
            self.line,
            self.status.as_u16(),
            self.bytes,
            millis(self.started.elapsed())
        );
    }
}

/// A response body that keeps its request marked busy until it is sent,
/// and counts its bytes for the access log.
struct Answering {
    body: Body,
    log: Option<AccessLog>,
    _busy: Busy,
}

impl HttpBody for Answering {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.body).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
            && let Some(log) = &mut self.log
        {
            log.bytes += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
