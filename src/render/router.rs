//! A ready axum router serving the renderers (feature `axum`).
//!
//! Requests share reads of the board (`reads.rs`): however many come at
//! once, one read runs at a time, each rendering of it is made once and sent
//! from shared bytes (`body.rs`), and at most [`reads::KEPT`] readings are
//! in memory. A handler gets the [`Current`](reads::Current) reading, and the
//! one before it, from [`Reads::fresh`](reads::Reads::fresh).
//!
//! A new page is a handler that calls [`respond`] with a new
//! [`Rendering`] variant and a function of the `Current`: its `reading` has
//! `records`, `at` (wall clock), `number`, and
//! `tally`, the board-wide totals that keep departed workers' counts
//! ([`Totals`](super::Totals)).

mod body;
mod reads;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use self::body::SharedBody;
use self::reads::{Current, ReadError, Reads, Rendering};
use super::{
    HtmlOptions, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, Record, Summary, auto,
    html_with_summary, json_map, openmetrics_with_totals, prometheus_with_totals,
    wants_openmetrics,
};
use crate::board::Scoreboard;

/// What [`router_with`] calls (on a blocking thread) to read the workers.
pub type ReadFn =
    dyn Fn() -> Result<Vec<Record>, Box<dyn std::error::Error + Send + Sync>> + Send + Sync;

/// The router's state: the shared reads and the page's title.
#[derive(Clone, Debug)]
struct Source {
    reads: Arc<Reads>,
    title: Arc<str>,
}

/// A router serving `board`: `GET /` and `GET /server-status` the HTML page
/// in the manner of `mod_status` (`?refresh=N` reloads it every N seconds;
/// statuses are cut to 1 KiB there), and
/// with `?auto` `mod_status`'s machine-readable text ([`auto`]); `GET /json`
/// id → status; `GET /metrics` the Prometheus text format, or `OpenMetrics`
/// for a client whose `Accept` prefers it ([`wants_openmetrics`]);
/// `GET /worker/{id}` one worker's raw status (a 404 for an id with no live
/// worker); any other path is a 404.
///
/// Request and update totals never go down while the router runs: the
/// router keeps, across its reads, the counts of workers that left or were
/// replaced ([`Totals`](super::Totals)); they are the page's and `?auto`'s
/// totals and `/metrics`' `scoreboard_requests_total` and
/// `scoreboard_updates_total`. Rates are `mod_status`'s: the totals over
/// the uptime (since the earliest-started worker counted), the same for
/// every client whoever read before ([`Summary::with_totals`]).
///
/// Requests that come while a read runs share it: memory stays within a few
/// times the board's size however many requests come at once. While the
/// board's directory is missing every endpoint answers 503 with the reason.
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
    router_with(title, move || {
        let mut snap = crate::Snapshot::default();
        board.read_into(&mut snap)?;
        Ok(snap.workers.into_iter().map(Record::from).collect())
    })
}

/// A router like [`router`] over any source of records: `read` is called on
/// a blocking thread, once for all the requests that wait for it. An error is
/// a 503 with its message when an error of its chain is an
/// [`ErrorKind::Missing`](crate::ErrorKind::Missing) or an
/// [`std::io::ErrorKind::NotFound`] (the source is not there now), and a 500
/// otherwise. `read` should return the records sorted by id.
pub fn router_with<F>(title: impl Into<String>, read: F) -> Router
where
    F: Fn() -> Result<Vec<Record>, Box<dyn std::error::Error + Send + Sync>>
        + Send
        + Sync
        + 'static,
{
    let source = Source {
        reads: Arc::new(Reads::new(Arc::new(read))),
        title: title.into().into(),
    };
    Router::new()
        .route("/", get(page))
        .route("/server-status", get(page))
        .route("/json", get(json))
        .route("/metrics", get(metrics))
        .route("/worker/{id}", get(worker))
        .fallback(not_found)
        .with_state(source)
}

async fn page(
    State(source): State<Source>,
    OriginalUri(original): OriginalUri,
    local: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    if query.as_deref().is_some_and(asks_auto) {
        let render = |c: &Current| auto(&summary(c));
        return respond(
            &source,
            Rendering::Auto,
            "text/plain; charset=utf-8",
            render,
        )
        .await;
    }
    let refresh = query.as_deref().and_then(refresh_of).filter(|&n| n > 0);
    let title = Arc::clone(&source.title);
    let link = worker_link(original.path(), local.path());
    let which = Rendering::Page(refresh, {
        use std::hash::{BuildHasher as _, BuildHasherDefault, DefaultHasher};
        BuildHasherDefault::<DefaultHasher>::default().hash_one(&link)
    });
    respond(&source, which, "text/html; charset=utf-8", move |c| {
        let options = HtmlOptions::default()
            .title(&*title)
            .refresh(refresh)
            .worker_link(link);
        html_with_summary(&c.reading.records, &summary(c), &options)
    })
    .await
}

/// The summary of the current reading, with the totals kept across reads
/// and `mod_status`'s rates.
fn summary(c: &Current) -> Summary {
    let now = &c.reading;
    Summary::with_totals(&now.records, now.at, &now.tally)
}

/// Whether a query string has the key `auto` (`?auto`, `?refresh=5&auto`).
fn asks_auto(query: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair == "auto" || pair.starts_with("auto="))
}

async fn json(State(source): State<Source>) -> Response {
    respond(&source, Rendering::Json, "application/json", |c| {
        json_map(&c.reading.records)
    })
    .await
}

async fn metrics(State(source): State<Source>, headers: HeaderMap) -> Response {
    let open = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(wants_openmetrics);
    let mut response = if open {
        respond(
            &source,
            Rendering::OpenMetrics,
            OPENMETRICS_CONTENT_TYPE,
            |c| openmetrics_with_totals(&c.reading.records, c.reading.at, &c.reading.tally),
        )
        .await
    } else {
        respond(&source, Rendering::Metrics, PROMETHEUS_CONTENT_TYPE, |c| {
            prometheus_with_totals(&c.reading.records, c.reading.at, &c.reading.tally)
        })
        .await
    };
    // The format follows `Accept`.
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// One worker's raw status, as `scoreboard show` prints it: `text/plain`
/// when it is UTF-8, `application/octet-stream` otherwise.
async fn worker(State(source): State<Source>, Path(id): Path<String>) -> Response {
    let current = match source.reads.fresh().await {
        Ok(current) => current,
        Err(e) => return failure(&e),
    };
    let records = &current.reading.records;
    let Ok(i) = records.binary_search_by(|r| r.id.as_str().cmp(&id)) else {
        return (StatusCode::NOT_FOUND, "no live worker with this id\n").into_response();
    };
    let content_type = if std::str::from_utf8(&records[i].status).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    // The status itself, not a copy.
    let status = axum::body::Bytes::from_owner(StatusOf(Arc::clone(&current), i));
    ok(content_type, Body::new(SharedBody::new(status, current)))
}

/// The status of the `.1`th record of a reading, as bytes a body can own.
struct StatusOf(Arc<Current>, usize);

impl AsRef<[u8]> for StatusOf {
    fn as_ref(&self) -> &[u8] {
        &self.0.reading.records[self.1].status
    }
}

/// The absolute path of this router's `/worker/`, from the request's path
/// (`original`) and the router's own part of it (`local`; shorter when the
/// router is nested): the page at `/x`, `/x/` or `/x/server-status` links to
/// `/x/worker/ID`.
fn worker_link(original: &str, local: &str) -> String {
    let local = local.trim_end_matches('/');
    let original = original.trim_end_matches('/');
    let prefix = if local.is_empty() {
        original
    } else {
        original.strip_suffix(local).unwrap_or("")
    };
    format!("{prefix}/worker/")
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

/// Answers with `which` rendering of a fresh read, made by `render` once.
async fn respond(
    source: &Source,
    which: Rendering,
    content_type: &'static str,
    render: impl FnOnce(&Current) -> String + Send + 'static,
) -> Response {
    let current = match source.reads.fresh().await {
        Ok(current) => current,
        Err(e) => return failure(&e),
    };
    match current.body(which, render).await {
        Ok(bytes) => ok(content_type, Body::new(SharedBody::new(bytes, current))),
        Err(e) => failure(&e),
    }
}

fn ok(content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // A status is stale at once: no cache may keep it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // A raw status is shown as what it says it is, never sniffed as HTML.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A 503 (with `Retry-After: 1`) for a board that is not there, a 500 for
/// any other failure; the body is the reason on one line.
fn failure(e: &ReadError) -> Response {
    let body = format!("{}\n", e.reason);
    if e.unavailable {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            body,
        )
            .into_response()
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::{asks_auto, refresh_of};

    #[test]
    fn auto_from_the_query() {
        assert!(asks_auto("auto"));
        assert!(asks_auto("refresh=5&auto"));
        assert!(asks_auto("auto="));
        assert!(!asks_auto("autos"));
        assert!(!asks_auto("refresh=5"));
        assert!(!asks_auto(""));
    }

    #[test]
    fn worker_links_follow_where_the_router_is_nested() {
        use super::worker_link;
        assert_eq!(worker_link("/", "/"), "/worker/");
        assert_eq!(worker_link("/server-status", "/server-status"), "/worker/");
        assert_eq!(worker_link("/status", "/"), "/status/worker/");
        assert_eq!(worker_link("/status/", "/"), "/status/worker/");
        assert_eq!(
            worker_link("/a/b/server-status", "/server-status"),
            "/a/b/worker/"
        );
    }

    #[test]
    fn refresh_from_the_query() {
        assert_eq!(refresh_of("refresh=5"), Some(5));
        assert_eq!(refresh_of("a=b&refresh=2"), Some(2));
        assert_eq!(refresh_of("refresh=x"), None);
        assert_eq!(refresh_of("norefresh=3"), None);
    }
}
