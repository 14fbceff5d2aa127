//! [`ScoreboardLayer`]: every HTTP request in flight holds a slot of a board
//! (feature `tower`); the crate docs describe it
//! ([the tower layer](crate#the-tower-layer)).

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
