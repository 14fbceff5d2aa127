//! A response body of shared bytes that keeps the reading it was made from
//! alive until it is sent (so the readings held by clients count against
//! [`KEPT`](super::reads::KEPT)): it hands the bytes to the server in
//! slices of [`CHUNK`], each taken when the server has room for it, so the
//! body lives as long as its sending.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Bytes, HttpBody};
use http_body::{Frame, SizeHint};

use super::reads::Current;

/// How many bytes the server is given at a time (slices of the shared bytes,
/// not copies).
const CHUNK: usize = 256 * 1024;

/// `bytes` (shared, not copied) as a body, holding `current` until dropped.
#[derive(Debug)]
pub(crate) struct SharedBody {
    bytes: Option<Bytes>,
    _current: Arc<Current>,
}

impl SharedBody {
    pub(crate) fn new(bytes: Bytes, current: Arc<Current>) -> Self {
        Self {
            bytes: Some(bytes).filter(|b| !b.is_empty()),
            _current: current,
        }
    }
}

impl HttpBody for SharedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(bytes) = &mut self.bytes else {
            return Poll::Ready(None);
        };
        let chunk = if bytes.len() > CHUNK {
            bytes.split_to(CHUNK)
        } else {
            std::mem::take(bytes)
        };
        if bytes.is_empty() {
            self.bytes = None;
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.bytes.as_ref().map_or(0, |b| b.len() as u64))
    }
}
