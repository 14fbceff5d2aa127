//! A request through a warm `ScoreboardLayer` allocates nothing more than the
//! same request without it (feature `tower`). Counted by a global allocator
//! that counts the calls made on the current thread, as `tests/alloc.rs`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use http_body::Body;
use parallel_scoreboard::Scoreboard;
use parallel_scoreboard_http::ScoreboardLayer;
use testkit::alloc::{Counting, count};
use testkit::tower::Hello;
use tower::{Layer, Service};

#[global_allocator]
static GLOBAL: Counting = Counting;

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
        let before = count();
        assert!(service.poll_ready(&mut cx).is_ready());
        let future = pin!(service.call(request));
        let Poll::Ready(Ok(response)) = future.poll(&mut cx) else {
            panic!("not ready at once")
        };
        let mut body = pin!(response.into_body());
        while let Poll::Ready(Some(_)) = body.as_mut().poll_frame(&mut cx) {}
        n += count() - before;
    }
    n
}

#[test]
fn a_warm_layer_allocates_nothing_per_request() {
    let tmp = testkit::tempdir();
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
