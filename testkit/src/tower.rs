//! A body and a service to put under `ScoreboardLayer` (feature `tower`),
//! shared by `http/tests/tower_alloc.rs` and `http/benches/tower.rs`.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::{Body, Frame};
use tower::Service;

/// A response body of one static chunk.
#[derive(Debug)]
pub struct Once(pub Option<&'static [u8]>);

impl Body for Once {
    type Data = &'static [u8];
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Infallible>>> {
        Poll::Ready(self.0.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
}

/// The service under the layer: answers every request at once with `hello\n`.
#[derive(Clone, Debug)]
pub struct Hello;

impl Service<Request<()>> for Hello {
    type Response = Response<Once>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Once>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        ready(Ok(Response::new(Once(Some(b"hello\n")))))
    }
}
