//! The core hot paths: `cargo bench --bench core`.
//!
//! Boards live on tmpfs (`/dev/shm`) where there is one, as in production.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use parallel_scoreboard::Scoreboard;

fn tempdir() -> tempfile::TempDir {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm".into()
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix("psb-bench-")
        .tempdir_in(base)
        .expect("tempdir")
}

fn updates(c: &mut Criterion) {
    let tmp = tempdir();
    let board = Scoreboard::open(tmp.path()).unwrap();
    let mut g = c.benchmark_group("update");
    for size in [64usize, 4096] {
        let status = vec![b'x'; size];
        let mut w = board.worker_with_id(format!("w{size}")).unwrap();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("Worker::update", size), &status, |b, s| {
            b.iter(|| w.update(black_box(s)).unwrap());
        });
    }
    let status = vec![b'x'; 64];
    g.throughput(Throughput::Bytes(64));
    g.bench_function(BenchmarkId::new("Scoreboard::update", 64), |b| {
        b.iter(|| board.update(black_box(&status)).unwrap());
    });
    g.finish();
}

fn reads(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_all");
    for n in [10usize, 100] {
        let tmp = tempdir();
        let board = Scoreboard::open(tmp.path()).unwrap();
        let workers: Vec<_> = (0..n)
            .map(|i| {
                let mut w = board.worker_with_id(format!("worker-{i}")).unwrap();
                w.update(&[b's'; 256]).unwrap();
                w
            })
            .collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("warm, 256 B statuses", n), |b| {
            b.iter(|| black_box(board.read_all().unwrap()));
        });
        drop(workers);
    }
    g.finish();
}

criterion_group!(benches, updates, reads);
criterion_main!(benches);
