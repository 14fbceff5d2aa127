//! An update through the C functions side by side with the same update
//! through the Rust API, in one run, with the independent reference of the
//! core's benchmarks (`benches/support/baseline.rs`: a minimal seqlock write
//! of the same 64 bytes plus one coarse clock read, in process memory).
//!
//! The extern functions are called through this crate's rlib, as a C
//! program calls them: they are not `#[inline]`, so each is a real call, and
//! every check the C interface adds (NULL arguments, `catch_unwind`, the
//! result code) is in it. Times are this thread's CPU time.
//!
//! ```text
//! cargo bench -p parallel-scoreboard-ffi --bench update
//! ```

use std::ffi::{c_char, c_void};
use std::hint::black_box;
use std::ptr;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use parallel_scoreboard::Scoreboard;
use parallel_scoreboard_ffi::{
    PSB_OK, psb_board_free, psb_board_open, psb_board_update, psb_options, psb_options_init,
    psb_worker_free, psb_worker_open, psb_worker_update,
};

#[path = "../../benches/support/baseline.rs"]
#[allow(dead_code)]
mod baseline;
// The core's own measurement, whose casts its crate's lints allow.
#[path = "../../benches/support/cpu_time.rs"]
#[allow(clippy::cast_possible_truncation)]
mod cpu_time;
use baseline::{Placed, SRC_PHASE, Seqlock, coarse_ns};
use cpu_time::CpuTime;

/// A worker-id callback with a fixed id, as a C program's would be.
unsafe extern "C" fn fixed_id(_: *mut c_void, buf: *mut c_char, cap: usize) -> usize {
    let id = b"acceptor-1";
    let n = id.len().min(cap);
    // SAFETY: `buf` holds `cap` bytes, `n <= cap`.
    unsafe { ptr::copy_nonoverlapping(id.as_ptr(), buf.cast(), n) };
    id.len()
}

fn main() {
    let mut c = Criterion::default()
        .with_measurement(CpuTime)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    updates(&mut c);
    c.final_summary();
}

#[allow(clippy::too_many_lines)]
fn updates(c: &mut Criterion<CpuTime>) {
    let tmp = testkit::tempdir();
    let path = tmp.path().join("board");
    let dir = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let status: Vec<u8> = (0..64u8).map(|i| b'a' + i % 26).collect();
    let s = Placed::with(&status, SRC_PHASE);
    let s: &[u8] = &s;

    let rust = Scoreboard::open(&path).unwrap();
    let rust_by_id = Scoreboard::builder(&path)
        .worker_id(|| "acceptor-0".to_owned())
        .open()
        .unwrap();
    let mut rust_worker = rust.worker_with_id("rust-worker").unwrap();

    let mut board = ptr::null_mut();
    let mut board_by_id = ptr::null_mut();
    let mut worker = ptr::null_mut();
    let mut opts = std::mem::MaybeUninit::<psb_options>::uninit();
    // SAFETY: valid arguments; the handles are freed at the end, once.
    unsafe {
        assert_eq!(
            psb_board_open(dir.as_ptr(), ptr::null(), &raw mut board),
            PSB_OK
        );
        assert_eq!(psb_options_init(opts.as_mut_ptr()), PSB_OK);
        let opts = psb_options {
            worker_id: Some(fixed_id),
            ..opts.assume_init()
        };
        assert_eq!(
            psb_board_open(dir.as_ptr(), &raw const opts, &raw mut board_by_id),
            PSB_OK
        );
        assert_eq!(
            psb_worker_open(board, c"c-worker".as_ptr(), 8, &raw mut worker),
            PSB_OK
        );
    }
    // Distinct processes' boards would have distinct pids; here the Rust
    // board's default slot and the C board's share the pid, so the Rust one
    // goes first and is dropped before the C one is made.
    let mut g = c.benchmark_group("ffi update");
    g.throughput(Throughput::Bytes(64));
    let mut seqlock = Seqlock::new(64);
    g.bench_function(BenchmarkId::new("seqlock+clock", 64), |b| {
        b.iter(|| {
            seqlock.write(black_box(s));
            black_box(coarse_ns())
        });
    });
    g.bench_function(BenchmarkId::new("Worker::update", 64), |b| {
        b.iter(|| rust_worker.update(black_box(s)).unwrap());
    });
    g.bench_function(BenchmarkId::new("psb_worker_update", 64), |b| {
        b.iter(|| {
            let s = black_box(s);
            // SAFETY: a live worker of this thread, `s.len()` bytes.
            let rc = unsafe { psb_worker_update(worker, s.as_ptr().cast(), s.len()) };
            assert_eq!(rc, PSB_OK);
        });
    });
    g.bench_function(BenchmarkId::new("Scoreboard::update", 64), |b| {
        b.iter(|| rust.update(black_box(s)).unwrap());
    });
    drop(rust);
    g.bench_function(BenchmarkId::new("psb_board_update", 64), |b| {
        b.iter(|| {
            let s = black_box(s);
            // SAFETY: a live board, `s.len()` bytes.
            let rc = unsafe { psb_board_update(board, s.as_ptr().cast(), s.len()) };
            assert_eq!(rc, PSB_OK);
        });
    });
    g.bench_function(BenchmarkId::new("Scoreboard::update", "64, id fn"), |b| {
        b.iter(|| rust_by_id.update(black_box(s)).unwrap());
    });
    g.bench_function(
        BenchmarkId::new("psb_board_update", "64, id callback"),
        |b| {
            b.iter(|| {
                let s = black_box(s);
                // SAFETY: a live board, `s.len()` bytes.
                let rc = unsafe { psb_board_update(board_by_id, s.as_ptr().cast(), s.len()) };
                assert_eq!(rc, PSB_OK);
            });
        },
    );
    g.finish();
    drop(rust_worker);
    drop(rust_by_id);
    // SAFETY: each freed once; nothing uses them after.
    unsafe {
        assert_eq!(psb_worker_free(worker), PSB_OK);
        assert_eq!(psb_board_free(board_by_id), PSB_OK);
        assert_eq!(psb_board_free(board), PSB_OK);
    }
}
