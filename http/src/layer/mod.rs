//! A tower layer that shows every HTTP request in flight on a board, as
//! Apache's `mod_status` and Perl's `Plack::Middleware::ServerStatus::Lite` do
//! (feature `tower`).
//!
//! [`ScoreboardLayer`] wraps any service taking an `http::Request<B>` and
//! answering an `http::Response<B2>`: an axum 0.8 `Router`
//! (`.layer(ScoreboardLayer::new(board.clone()))`), a service served by hyper
//! through hyper-util's `TowerToHyperService`, a tonic 0.14 gRPC server
//! (`Server::builder().layer(...)`). All three are tested with real servers
//! and clients on 127.0.0.1 (`cli/tests/it/tower.rs`, `cli/tests/it/grpc.rs`).
//!
//! A gRPC call's slot shows `"method":"POST"` and its
//! `"path":"/<package>.<Service>/<Method>"`; a streaming call stays busy while
//! its stream is open (a stream the client drops ends `aborted`). gRPC sends
//! its own status in the trailers (or in the headers of a response that is
//! nothing else), and HTTP 200 whether the call failed or not, so the slot
//! shows that status too: a failed call ends `complete` with
//! `"last_code":200,"last_grpc_status":5` (`NOT_FOUND`).
//!
//! # Slots
//! Each request in flight holds a slot: a [`Worker`](parallel_scoreboard::Worker) of the
//! board named with a prefix and a number (`http-1`, `http-2`, ...) taken
//! from a pool. A slot is reused by the next request once its request has
//! ended; the pool grows to the peak number of concurrent requests, and idle
//! slots stay on the board (a monitor sees them idle, as `mod_status` shows
//! idle workers) up to [`ScoreboardLayer::max_idle`] (32 by default); slots
//! beyond it are released and their files removed.
//!
//! Each slot holds **one descriptor** (its status file, open and locked: the
//! lock is how readers know it is live) and **one mapping** (its 4 KiB file,
//! more if a status outgrows it), and the layer holds nothing else. Those are
//! the application's to use first: the slots are at most an eighth of the
//! process's soft `RLIMIT_NOFILE` ([`ScoreboardLayer::max_slots`] sets
//! another cap), and no slot is made that would leave the process less than
//! a quarter of that limit free (the open descriptors are counted when a
//! slot is to be made, never when a request reuses one); after such a
//! refusal none is made for 100 ms, and slots given back are released
//! rather than kept idle until one can be made again. A request that
//! finds no slot it may use, or whose slot cannot be made (`EMFILE`,
//! `ENFILE`, a full disk), is served all the same, without a slot, and
//! counted ([`ScoreboardLayer::unrecorded`], and `"unrecorded"` in the idle
//! statuses once not 0). Under `RLIMIT_NOFILE` 256, 200 concurrent clients
//! get every descriptor they need (`cli/tests/it/tower.rs`).
//!
//! While a request runs its slot's status is
//! ```text
//! {"state":"busy","method":"GET","path":"/a","client":"127.0.0.1:50114","requests":3}
//! ```
//! The request started when this status was published: a reader's age of the
//! update ([`WorkerStatus::updated_at`](parallel_scoreboard::WorkerStatus::updated_at)) is
//! how long it has run, on the monotonic clock, right whatever the server's
//! or the reader's wall clock says (the renderers' busy times are this age);
//! `client` is the peer address when the server provides one (see
//! [`ScoreboardLayer::client_addr`]), `null` otherwise; `requests` counts the
//! slot's requests, this one included. `path` is the URI's path without the
//! query (which may carry secrets), cut at 1024 bytes.
//!
//! Once the response body has been sent to its end (a streamed body: once its
//! last frame has been polled), or the request or its response was dropped,
//! the slot shows
//! ```text
//! {"state":"idle","requests":3,"last_code":200,"last_ms":1.204,"last_outcome":"complete"}
//! ```
//! with the last request's status code (`null` if it made no response), its
//! duration in milliseconds and how it ended: `complete`, `cancelled`
//! (dropped before a response was made: the client hung up, a timeout),
//! `aborted` (the body was dropped before its end) or `error` (the service or
//! the body failed).
//!
//! # Cost
//! Per request: two uncontended lock operations on the pool (never held
//! across an await), an atomic reference count taken and dropped, two reads
//! of the coarse monotonic clock (a few ns each: the request's time, to a
//! tick, and the stamps of its two updates), two statuses written by hand
//! into the slot's own buffer and two [`Worker::update`](parallel_scoreboard::Worker::update)s
//! (no system call). Nothing is allocated once the pool has its slots. A new
//! slot (a request beyond the peak so far) counts the process's descriptors
//! and creates a status file: a few system calls, made on the calling task.
//! `benches/tower.rs` measures the cost against the same service without
//! the layer: 1,525 instructions per request (callgrind; 2,373 before the
//! coarse clock and the hand-made copies), 120 to 192 ns of CPU time in
//! runs on a machine shared with other builds (`BENCHMARKS.md`).
//!
//! # Examples
//! Any tower service; here one called by hand:
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use parallel_scoreboard::{Scoreboard, tower::ScoreboardLayer};
//! use tower::{Layer, Service};
//! # use std::future::Future;
//! # use std::task::{Context, Poll, Waker};
//! # struct Hello;
//! # impl Service<http::Request<()>> for Hello {
//! #     type Response = http::Response<String>;
//! #     type Error = Infallible;
//! #     type Future = std::future::Ready<Result<Self::Response, Infallible>>;
//! #     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
//! #         Poll::Ready(Ok(()))
//! #     }
//! #     fn call(&mut self, _: http::Request<()>) -> Self::Future {
//! #         std::future::ready(Ok(http::Response::new("hello".to_owned())))
//! #     }
//! # }
//! # let tmp = tempfile::tempdir()?;
//! let board = Arc::new(Scoreboard::open(tmp.path())?);
//! let mut service = ScoreboardLayer::new(Arc::clone(&board)).layer(Hello);
//!
//! let request = http::Request::get("/index.html").body(())?;
//! let response = std::pin::pin!(service.call(request));
//! assert!(String::from_utf8(board.read_all()?["http-1"].clone())?
//!     .starts_with(r#"{"state":"busy","method":"GET","path":"/index.html","#));
//! # let Poll::Ready(response) = response.poll(&mut Context::from_waker(Waker::noop())) else { panic!() };
//! let body = response?.into_body(); // ... sent, then dropped:
//! drop(body);
//! assert!(String::from_utf8(board.read_all()?["http-1"].clone())?
//!     .starts_with(r#"{"state":"idle","requests":1,"last_code":200,"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! An axum router, with the client address from `ConnectInfo`:
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn serve() -> std::io::Result<()> {
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//! use parallel_scoreboard::{Scoreboard, render, tower::ScoreboardLayer};
//!
//! let board = Arc::new(Scoreboard::open("/dev/shm/my_server")?);
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "hello\n" }))
//!     .layer(ScoreboardLayer::new(Arc::clone(&board)).prefix("web-").max_idle(32))
//!     .nest("/server-status", render::router(board));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
//! # }
//! ```
//!
//! A tonic server, with the client address from tonic's `TcpConnectInfo`
//! (not compiled here: tonic is not a dependency of this crate;
//! `cli/tests/it/grpc.rs` runs it):
//! ```ignore
//! use tonic::transport::{Server, server::TcpConnectInfo};
//!
//! let layer = ScoreboardLayer::new(board)
//!     .prefix("grpc-")
//!     .client_addr(|e| e.get::<TcpConnectInfo>()?.remote_addr());
//! Server::builder().layer(layer).add_service(health).serve(addr).await?;
//! ```

mod body;
mod pool;
mod service;
mod status;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use http::Extensions;

pub use body::ScoreboardBody;
pub use service::{ResponseFuture, ScoreboardService};

use parallel_scoreboard::Scoreboard;
use pool::{Config, Pool};

/// The prefix of slot ids unless [`ScoreboardLayerBuilder::prefix`] says
/// otherwise.
pub const DEFAULT_PREFIX: &str = "http-";

/// How many idle slots stay on the board unless
/// [`ScoreboardLayerBuilder::max_idle`] says otherwise.
pub const DEFAULT_MAX_IDLE: usize = 32;

/// A [`tower::Layer`] giving each HTTP request in flight a slot of a board;
/// see [the layer](crate#the-tower-layer) in the crate docs.
///
/// Made by [`ScoreboardLayer::builder`] (or [`ScoreboardLayer::new`] with
/// every default). Every service the layer makes, and every clone of it,
/// shares one pool of slots (axum's `Router::layer` makes a service per
/// route).
#[derive(Clone)]
pub struct ScoreboardLayer {
    pool: Arc<Pool>,
}

impl fmt::Debug for ScoreboardLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScoreboardLayer")
            .field("pool", &self.pool)
            .finish()
    }
}

/// The settings of a [`ScoreboardLayer`], from [`ScoreboardLayer::builder`];
/// [`build`](Self::build) makes the layer.
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` makes the layer"]
pub struct ScoreboardLayerBuilder {
    board: Arc<Scoreboard>,
    config: Config,
}

impl fmt::Debug for ScoreboardLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScoreboardLayerBuilder")
            .field("board", &self.board.base_dir())
            .field("prefix", &self.config.prefix)
            .field("max_idle", &self.config.max_idle)
            .field("max_slots", &self.config.max_slots)
            .field("precise", &self.config.precise)
            .finish_non_exhaustive()
    }
}

impl ScoreboardLayer {
    /// A layer with every default: [`ScoreboardLayer::builder`]`(board).build()`.
    #[must_use]
    pub fn new(board: Arc<Scoreboard>) -> Self {
        Self::builder(board).build()
    }

    /// The settings of a layer whose slots are workers of `board`; by
    /// default named `http-1`, `http-2`, ... ([`DEFAULT_PREFIX`]), keeping
    /// up to 32 idle slots ([`DEFAULT_MAX_IDLE`]), with at most an eighth of
    /// the process's descriptor limit in slots
    /// (see [`max_slots`](ScoreboardLayerBuilder::max_slots)).
    ///
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let board = std::sync::Arc::new(parallel_scoreboard::Scoreboard::open(tmp.path())?);
    /// use parallel_scoreboard_http::ScoreboardLayer;
    /// let layer = ScoreboardLayer::builder(board).prefix("web-").max_idle(8).build();
    /// assert_eq!(layer.slots(), (0, 0));
    /// # Ok::<(), parallel_scoreboard::Error>(())
    /// ```
    pub fn builder(board: Arc<Scoreboard>) -> ScoreboardLayerBuilder {
        ScoreboardLayerBuilder {
            board,
            config: Config {
                prefix: DEFAULT_PREFIX.to_owned(),
                max_idle: DEFAULT_MAX_IDLE,
                max_slots: None,
                precise: false,
                client: default_client,
            },
        }
    }

    /// How many requests have been served without a slot so far: when
    /// [`max_slots`](ScoreboardLayerBuilder::max_slots) were in use,
    /// descriptors were scarce, or a slot's file could not be made. Such a
    /// request is served as any other; it only does not show on the board.
    /// Idle statuses carry the count as `"unrecorded"` once it is not 0.
    #[must_use]
    pub fn unrecorded(&self) -> u64 {
        self.pool.unrecorded()
    }

    /// The slots the layer holds now, in use and idle together, and of them
    /// the idle ones: each holds one descriptor and one mapping.
    #[must_use]
    pub fn slots(&self) -> (usize, usize) {
        self.pool.slots()
    }
}

impl ScoreboardLayerBuilder {
    /// Names slots `<prefix><number>`. Servers sharing one board need
    /// different prefixes to keep their own numbering (a number another
    /// process holds is skipped).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.prefix = prefix.into();
        self
    }

    /// Keeps at most `max` idle slots on the board; a slot whose request ends
    /// while `max` are idle is released (its file removed). `0` keeps none:
    /// only requests in flight are on the board.
    pub fn max_idle(mut self, max: usize) -> Self {
        self.config.max_idle = max;
        self
    }

    /// Where the busy status's `client` comes from. The default reads axum's
    /// `ConnectInfo<SocketAddr>` (with this crate's `axum` feature) or a
    /// plain `SocketAddr` extension; tonic servers can pass
    /// `|e| e.get::<TcpConnectInfo>()?.remote_addr()`
    /// (`tonic::transport::server::TcpConnectInfo`).
    ///
    /// # Examples
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let board = std::sync::Arc::new(parallel_scoreboard::Scoreboard::open(tmp.path())?);
    /// use parallel_scoreboard_http::ScoreboardLayer;
    /// #[derive(Clone)]
    /// struct Peer(std::net::SocketAddr);
    /// let layer = ScoreboardLayer::builder(board)
    ///     .client_addr(|e| e.get::<Peer>().map(|p| p.0))
    ///     .build();
    /// # Ok::<(), parallel_scoreboard::Error>(())
    /// ```
    pub fn client_addr(mut self, client: fn(&Extensions) -> Option<SocketAddr>) -> Self {
        self.config.client = client;
        self
    }

    /// Makes at most `max` slots (idle and in use together); a request that
    /// finds none idle while `max` exist is served without a slot (counted in
    /// [`ScoreboardLayer::unrecorded`]). By default the cap is an eighth of
    /// the soft `RLIMIT_NOFILE`, read when a slot is to be made: each slot
    /// holds one descriptor and one mapping. Whatever the cap, no slot is
    /// made that would leave the process less than a quarter of that limit
    /// free, so the application's own sockets and files keep it.
    pub fn max_slots(mut self, max: usize) -> Self {
        self.config.max_slots = Some(max);
        self
    }

    /// Times requests to the nanosecond (`CLOCK_MONOTONIC`) rather than to a
    /// kernel tick (`CLOCK_MONOTONIC_COARSE`, 1 to 4 ms, the clock updates
    /// read anyway). A request's time shows in its idle status as `last_ms`:
    /// to a tick, a request shorter than one shows `0.000` or a whole tick.
    /// The precise clock costs two more clock reads per request
    /// (`BENCHMARKS.md`).
    pub fn precise_times(mut self, precise: bool) -> Self {
        self.config.precise = precise;
        self
    }

    /// The layer: its pool of slots is made empty (slots are made by the
    /// first requests).
    #[must_use]
    pub fn build(self) -> ScoreboardLayer {
        ScoreboardLayer {
            pool: Arc::new(Pool::new(self.board, self.config)),
        }
    }
}

impl<S> tower::Layer<S> for ScoreboardLayer {
    type Service = ScoreboardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ScoreboardService::new(inner, Arc::clone(&self.pool))
    }
}

/// The peer address axum's `ConnectInfo` or a `SocketAddr` extension holds.
fn default_client(extensions: &Extensions) -> Option<SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0);
    }
    extensions.get::<SocketAddr>().copied()
}
