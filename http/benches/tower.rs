//! The cost `ScoreboardLayer` adds per request: the same tower service called
//! with and without the layer, side by side in one run (feature `tower`).
//!
//! One request is: build an `http::Request`, `poll_ready`, `call`, poll the
//! response future (ready at once), poll the body to its end as hyper does
//! (stopping when the body says it has ended) and drop the response. With
//! the layer, the pool already has its idle slot (the steady state of a
//! server), so a request takes the slot, publishes its busy status, and
//! publishes the idle one once the body has ended.
//!
//! ```text
//! cargo bench -p parallel-scoreboard-http --bench tower
//! ```
//!
//! The layer is measured as it is by default (requests timed to a clock
//! tick) and with `precise_times(true)`. Each is measured twice: on the wall clock (group `tower`) and on the
//! thread's CPU clock (group `tower_cpu`), which leaves out the time the
//! thread was not running, for a machine busy with other work. After
//! criterion's report, the difference and the ratio of the medians of this
//! run are printed for both.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use http::{Request, Response, Uri};
use http_body::Body;
use nix::time::{ClockId, clock_gettime};
use parallel_scoreboard::Scoreboard;
use parallel_scoreboard_http::ScoreboardLayer;
use testkit::tempdir;
use testkit::tower::Hello;
use tower::{Layer, Service};

/// Wall-clock time, as criterion measures by default.
const GROUP: &str = "tower";
/// The thread's CPU time: on a busy machine, the time this thread was not
/// running is left out.
const GROUP_CPU: &str = "tower_cpu";

/// One request through `service`, as described in the module docs.
fn request<S, B>(service: &mut S, cx: &mut Context<'_>)
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
    B: Body,
{
    let Poll::Ready(Ok(())) = service.poll_ready(cx) else {
        unreachable!("the service is always ready")
    };
    let request = Request::builder()
        .uri(Uri::from_static("/index.html"))
        .body(())
        .expect("request");
    let future = pin!(service.call(black_box(request)));
    let Poll::Ready(Ok(response)) = future.poll(cx) else {
        unreachable!("the response is ready at once")
    };
    let mut body = pin!(response.into_body());
    while let Poll::Ready(Some(frame)) = body.as_mut().poll_frame(cx) {
        black_box(frame.is_ok());
        if body.is_end_stream() {
            break;
        }
    }
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let dir = tempdir();
    let board = Arc::new(Scoreboard::open(dir.path()).expect("open board"));
    let mut cx = Context::from_waker(Waker::noop());
    for (group, cpu) in [(GROUP, false), (GROUP_CPU, true)] {
        let mut group = c.benchmark_group(group);
        group.bench_function("without_layer", |b| {
            let mut service = Hello;
            b.iter_custom(|iters| timed(cpu, iters, || request(&mut service, &mut cx)));
        });
        for (name, precise) in [("with_layer", false), ("with_layer_precise", true)] {
            group.bench_function(name, |b| {
                let layer = ScoreboardLayer::builder(Arc::clone(&board))
                    .precise_times(precise)
                    .build();
                let mut service = layer.layer(Hello);
                // The pool's slot is made here, not measured.
                request(&mut service, &mut cx);
                b.iter_custom(|iters| timed(cpu, iters, || request(&mut service, &mut cx)));
            });
        }
        group.finish();
    }
    c.final_summary();
    assert_eq!(board.read_all().expect("read").len(), 0, "slots left");
    report(started);
}

/// How long `iters` runs of `f` take, on the wall clock or the thread's CPU
/// clock.
fn timed(cpu: bool, iters: u64, mut f: impl FnMut()) -> Duration {
    if !cpu {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        return start.elapsed();
    }
    let start = thread_cpu();
    for _ in 0..iters {
        f();
    }
    thread_cpu().saturating_sub(start)
}

fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
    Duration::new(
        u64::try_from(t.tv_sec()).unwrap_or(0),
        u32::try_from(t.tv_nsec()).unwrap_or(0),
    )
}

/// Prints the difference and the ratio of this run's medians.
fn report(started: SystemTime) {
    for (group, clock) in [(GROUP, "wall clock"), (GROUP_CPU, "thread CPU time")] {
        for (function, what) in [
            ("with_layer", "the layer"),
            ("with_layer_precise", "the layer with precise_times"),
        ] {
            let (Some(without), Some(with)) = (
                median(started, group, "without_layer"),
                median(started, group, function),
            ) else {
                continue;
            };
            println!(
                "ScoreboardLayer, {clock} (medians of this run): {without:.1} ns per request \
                 without, {with:.1} ns with {what}: it adds {:.1} ns, {:.2}x",
                with - without,
                with / without
            );
        }
    }
}

/// The median of `<group>/<function>` in ns, if measured in this run.
fn median(started: SystemTime, group: &str, function: &str) -> Option<f64> {
    let root = std::env::var_os("CRITERION_HOME").map_or_else(
        || {
            // Criterion writes into the workspace's target directory (this
            // package's parent's), not into one of the package's own.
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(
                    || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
                    PathBuf::from,
                )
                .join("criterion")
        },
        PathBuf::from,
    );
    let path = root.join(group).join(function).join("new/estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < started {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let rest = &text[text.find("\"median\"")?..];
    let at = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let rest = &rest[at..];
    rest[..rest.find([',', '}'])?].trim().parse().ok()
}
