//! The response body wrapper that holds the slot until the body is sent.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::pool::InFlight;
use super::status::Outcome;

pin_project! {
    /// A response body that keeps its request's slot busy until the last
    /// frame has been polled (the end of a streamed body too), then shows it
    /// idle. Dropped before its end, it shows the slot idle with
    /// `"last_outcome":"aborted"`. A gRPC status in its trailers is shown as
    /// `"last_grpc_status"`.
    ///
    /// Frames, size hints and the end of the stream are the inner body's.
    pub struct ScoreboardBody<B> {
        #[pin]
        inner: B,
        slot: Option<InFlight>,
    }
}

impl<B> fmt::Debug for ScoreboardBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScoreboardBody")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl<B: Body> ScoreboardBody<B> {
    /// Wraps `inner`, the body of a response with status `code`. A body that
    /// is already at its end (or a HEAD request's, never sent) gives the slot
    /// back at once: nobody may poll it.
    pub(crate) fn new(inner: B, mut slot: Option<InFlight>, code: u16) -> Self {
        if let Some(s) = &mut slot {
            let no_body = s.responded(code);
            if no_body || inner.is_end_stream() {
                s.end(Outcome::Complete);
                slot = None;
            }
        }
        Self { inner, slot }
    }
}

impl<B: Body> Body for ScoreboardBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        if let (Some(Ok(frame)), Some(slot)) = (&frame, this.slot.as_mut())
            && let Some(trailers) = frame.trailers_ref()
        {
            // Where a gRPC call's status is, after its messages.
            slot.grpc_status_in(trailers);
        }
        let end = match &frame {
            None => Some(Outcome::Complete),
            Some(Err(_)) => Some(Outcome::Error),
            // Servers stop polling once the body says it has ended (hyper
            // does), so the end is also checked after each frame.
            Some(Ok(_)) => this.inner.is_end_stream().then_some(Outcome::Complete),
        };
        if let Some(outcome) = end
            && let Some(mut slot) = this.slot.take()
        {
            slot.end(outcome);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
