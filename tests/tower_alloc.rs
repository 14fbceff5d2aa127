//! A request through a warm `ScoreboardLayer` allocates nothing more than the
//! same request without it (feature `tower`). Counted by a global allocator
//! that counts the calls made on the current thread, as `tests/alloc.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use http_body::{Body, Frame};
use parallel_scoreboard::Scoreboard;
use parallel_scoreboard::tower::ScoreboardLayer;
use tower::{Layer, Service};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// counter is a const-initialized thread local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A response body of one static chunk.
struct Once(Option<&'static [u8]>);

impl Body for Once {
    type Data = &'static [u8];
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Infallible>>> {
        Poll::Ready(self.0.take().map(|d| Ok(Frame::data(d))))
    }
}

/// Answers every request at once.
struct Hello;

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

/// The allocations of 100 requests through `service` (each request is built
/// before counting starts), with the body polled to its end and dropped.
fn allocations<S, B>(service: &mut S) -> u64
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
    B: Body,
{
    let mut cx = Context::from_waker(Waker::noop());
    let mut n = 0;
    for _ in 0..100 {
        let request = Request::get("/index.html").body(()).unwrap();
        let before = ALLOCS.with(Cell::get);
        assert!(service.poll_ready(&mut cx).is_ready());
        let future = pin!(service.call(request));
        let Poll::Ready(Ok(response)) = future.poll(&mut cx) else {
            panic!("not ready at once")
        };
        let mut body = pin!(response.into_body());
        while let Poll::Ready(Some(_)) = body.as_mut().poll_frame(&mut cx) {}
        n += ALLOCS.with(Cell::get) - before;
    }
    n
}

#[test]
fn a_warm_layer_allocates_nothing_per_request() {
    let tmp = tempfile::tempdir().unwrap();
    let board = Arc::new(Scoreboard::open(tmp.path()).unwrap());
    let mut layered = ScoreboardLayer::new(Arc::clone(&board)).layer(Hello);
    // The first request makes the pool's slot.
    assert!(allocations(&mut layered) > 0);
    let with = allocations(&mut layered);
    let without = allocations(&mut Hello);
    assert_eq!(
        with, without,
        "the layer allocated {with} times in 100 requests, {without} without it"
    );
    let all = board.read_all().unwrap();
    assert!(
        std::str::from_utf8(&all["http-1"])
            .unwrap()
            .starts_with(r#"{"state":"idle","requests":200,"#),
        "{all:?}"
    );
}
