//! The open connections: how many, which are idle and for how long, and
//! which to close first when there are too many.
//!
//! A connection is *busy* while a request of it is being answered (from the
//! request head to the last byte of the response body) and *idle* otherwise;
//! its *activity* is the latest of its start, a byte received from the
//! client or sent to it, and the end of a response. At the cap the idle connection with the
//! oldest activity is closed first: connections that never sent anything go
//! before a request that is arriving, and requests in flight are not cut.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// Every open connection. All counters here are hints for choosing what to
/// close and when, read and written with `Relaxed` ordering: nothing else is
/// published through them.
#[derive(Debug)]
pub(super) struct Conns {
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
}

/// One open connection.
#[derive(Debug)]
pub(super) struct Conn {
    epoch: Instant,
    /// Requests being answered.
    busy: AtomicUsize,
    /// Milliseconds since `epoch`: the activity (see the module docs).
    active_ms: AtomicU64,
    /// Milliseconds since `epoch` when the current busy spell began.
    busy_since_ms: AtomicU64,
    /// Set when chosen for closing, so it is chosen once.
    evicted: AtomicBool,
    /// Notified to close it now.
    pub(super) close: Notify,
}

/// Removes its connection from [`Conns`] when dropped (when the
/// connection's task ends, however it ends).
#[derive(Debug)]
pub(super) struct Registered {
    conns: Arc<Conns>,
    id: u64,
    pub(super) conn: Arc<Conn>,
}

impl Conns {
    pub(super) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Adds a connection; returns it and how many are open now.
    pub(super) fn register(self: &Arc<Self>) -> (Registered, usize) {
        let conn = Arc::new(Conn {
            epoch: self.epoch,
            busy: AtomicUsize::new(0),
            active_ms: AtomicU64::new(0),
            busy_since_ms: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            close: Notify::new(),
        });
        conn.touch();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut open = self.open();
        open.insert(id, Arc::clone(&conn));
        let n = open.len();
        drop(open);
        let registered = Registered {
            conns: Arc::clone(self),
            id,
            conn,
        };
        (registered, n)
    }

    /// How many connections are open.
    pub(super) fn len(&self) -> usize {
        self.open().len()
    }

    /// Closes the idle connection with the oldest activity, if there is one
    /// not chosen already; returns whether there was.
    pub(super) fn evict_one_idle(&self) -> bool {
        let open = self.open();
        let oldest = open
            .values()
            .filter(|c| c.busy.load(Ordering::Relaxed) == 0 && !c.evicted.load(Ordering::Relaxed))
            .min_by_key(|c| c.active_ms.load(Ordering::Relaxed));
        let Some(conn) = oldest else {
            return false;
        };
        conn.evicted.store(true, Ordering::Relaxed);
        conn.close.notify_one();
        true
    }

    fn open(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.conns.open().remove(&self.id);
    }
}

impl Conn {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Notes activity now.
    fn touch(&self) {
        self.active_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Marks a request begun; the request is answered when the guard drops.
    pub(super) fn begin(self: &Arc<Self>) -> Busy {
        if self.busy.fetch_add(1, Ordering::Relaxed) == 0 {
            self.busy_since_ms.store(self.now_ms(), Ordering::Relaxed);
        }
        Busy(Arc::clone(self))
    }

    /// Starts the busy spell anew: the handler has answered and the body
    /// is being sent.
    pub(super) fn responded(&self) {
        self.busy_since_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// When this connection is to be closed if nothing happens before:
    /// `request` after its busy spell began while busy, `idle` after its
    /// activity while idle.
    pub(super) fn deadline(&self, idle: Duration, request: Duration) -> Instant {
        let (since, limit) = if self.busy.load(Ordering::Relaxed) > 0 {
            (self.busy_since_ms.load(Ordering::Relaxed), request)
        } else {
            (self.active_ms.load(Ordering::Relaxed), idle)
        };
        self.epoch + Duration::from_millis(since) + limit
    }
}

/// A request being answered; dropped when its response has been sent (or
/// given up).
#[derive(Debug)]
pub(super) struct Busy(Arc<Conn>);

impl Busy {
    /// See [`Conn::responded`].
    pub(super) fn responded(&self) {
        self.0.responded();
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that notes, on its connection, every byte received or sent.
#[derive(Debug)]
pub(super) struct Noted<S> {
    stream: S,
    conn: Arc<Conn>,
}

impl<S> Noted<S> {
    pub(super) fn new(stream: S, conn: Arc<Conn>) -> Self {
        Self { stream, conn }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Noted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Noted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
