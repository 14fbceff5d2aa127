//! A ready axum router serving the renderers (feature `axum`).

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{HtmlOptions, Record, html, json_map, prometheus, records};
use crate::board::Scoreboard;

/// What [`router_with`] calls (on a blocking thread) to read the workers.
pub type ReadFn =
    dyn Fn() -> Result<Vec<Record>, Box<dyn std::error::Error + Send + Sync>> + Send + Sync;

#[derive(Clone)]
struct Source {
    read: Arc<ReadFn>,
    title: Arc<str>,
}

/// A router serving `board`: `GET /` the HTML page (`?refresh=N` reloads it
/// every N seconds), `GET /json` id → status, `GET /metrics` the Prometheus
/// text format; any other path is a 404.
///
/// Reads run on tokio's blocking threads, so the router needs a tokio
/// runtime with them (any multi-threaded one). Nest it under a prefix with
/// [`Router::nest`].
///
/// ```no_run
/// # async fn serve() -> std::io::Result<()> {
/// use std::sync::Arc;
/// let board = Arc::new(parallel_scoreboard::Scoreboard::open("/dev/shm/my_board")?);
/// let app = axum::Router::new().nest("/status", parallel_scoreboard::render::router(board));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
pub fn router(board: Arc<Scoreboard>) -> Router {
    let title = format!("scoreboard {}", board.base_dir().display());
    router_with(title, move || Ok(records(&board.snapshot()?)))
}

/// A router like [`router`] over any source of records: `read` is called for
/// each request (on a blocking thread); an error is a 500 with its message.
pub fn router_with<F>(title: impl Into<String>, read: F) -> Router
where
    F: Fn() -> Result<Vec<Record>, Box<dyn std::error::Error + Send + Sync>>
        + Send
        + Sync
        + 'static,
{
    let source = Source {
        read: Arc::new(read),
        title: title.into().into(),
    };
    Router::new()
        .route("/", get(page))
        .route("/json", get(json))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(source)
}

async fn page(State(source): State<Source>, RawQuery(query): RawQuery) -> Response {
    let refresh = query.as_deref().and_then(refresh_of).filter(|&n| n > 0);
    let options = HtmlOptions::default()
        .title(&*source.title)
        .refresh(refresh);
    respond(&source, "text/html; charset=utf-8", move |r, now| {
        html(r, now, &options)
    })
    .await
}

async fn json(State(source): State<Source>) -> Response {
    respond(&source, "application/json", |r, _| json_map(r)).await
}

async fn metrics(State(source): State<Source>) -> Response {
    respond(
        &source,
        "text/plain; version=0.0.4; charset=utf-8",
        prometheus,
    )
    .await
}

/// The value of `refresh=N` in a query string.
fn refresh_of(query: &str) -> Option<u32> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("refresh="))
        .and_then(|n| n.parse().ok())
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

async fn respond(
    source: &Source,
    content_type: &'static str,
    render: impl FnOnce(&[Record], SystemTime) -> String + Send + 'static,
) -> Response {
    let read = Arc::clone(&source.read);
    let result = tokio::task::spawn_blocking(move || {
        read().map(|records| render(&records, SystemTime::now()))
    })
    .await;
    match result {
        // A status is stale at once: no cache may keep it.
        Ok(Ok(body)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::refresh_of;

    #[test]
    fn refresh_from_the_query() {
        assert_eq!(refresh_of("refresh=5"), Some(5));
        assert_eq!(refresh_of("a=b&refresh=2"), Some(2));
        assert_eq!(refresh_of("refresh=x"), None);
        assert_eq!(refresh_of("norefresh=3"), None);
    }
}
