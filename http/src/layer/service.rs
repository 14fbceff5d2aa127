//! The service the layer wraps around another, and its response future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tower::Service;

use super::body::ScoreboardBody;
use super::pool::{InFlight, Pool};
use super::status::Outcome;

/// A service that gives each request a slot of the board while it runs; made
/// by [`ScoreboardLayer`](super::ScoreboardLayer).
///
/// Its responses carry the inner service's body wrapped in a
/// [`ScoreboardBody`], which gives the slot back once the body has been sent
/// to its end or dropped.
#[derive(Clone)]
pub struct ScoreboardService<S> {
    inner: S,
    pool: Arc<Pool>,
}

impl<S> ScoreboardService<S> {
    pub(crate) fn new(inner: S, pool: Arc<Pool>) -> Self {
        Self { inner, pool }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for ScoreboardService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScoreboardService")
            .field("inner", &self.inner)
            .field("pool", &self.pool)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ScoreboardService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
{
    type Response = Response<ScoreboardBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The slot is taken and shown busy before the inner service runs; the
        // pool's lock is released before this returns.
        let slot = InFlight::start(&self.pool, &request);
        ResponseFuture {
            inner: self.inner.call(request),
            slot,
        }
    }
}

pin_project! {
    /// The future of a [`ScoreboardService`] call: the inner service's, whose
    /// response body is wrapped in a [`ScoreboardBody`]. Dropped before it
    /// completes, it leaves the slot idle (`"last_outcome":"cancelled"`).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        slot: Option<InFlight>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<ScoreboardBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut slot = this.slot.take();
        Poll::Ready(match result {
            Ok(response) => {
                let code = response.status().as_u16();
                if let Some(slot) = &mut slot {
                    // A gRPC call that fails at once answers with its status
                    // in the headers and no body ("trailers-only").
                    slot.grpc_status_in(response.headers());
                }
                Ok(response.map(|body| ScoreboardBody::new(body, slot, code)))
            }
            Err(e) => {
                if let Some(slot) = &mut slot {
                    slot.end(Outcome::Error);
                }
                Err(e)
            }
        })
    }
}
