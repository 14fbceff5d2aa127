#!/usr/bin/env python3
"""Python-level benchmarks of parallel_scoreboard, each beside its reference,
measured in one run (BENCHMARKS.md, "From Python").

    python python/bench/bench.py              # the table
    python python/bench/bench.py --check      # and fail unless the targets hold
    python python/bench/bench.py --syscalls   # system calls per update (strace -c)

Updates: `Worker.update` of 64 bytes against `io.BytesIO` `seek(0)` +
`write()` of the same bytes (the floor of a Python-level write) and
prometheus_client's multiprocess `Gauge.set` (needs prometheus-client).
Reads: `read_all()` of 1000 workers x 256 B against building the same dict
(same ids, same sizes) of fresh `bytes` from Python memory:
`{k: bytes(v) for k, v in src.items()}` with `bytearray` values, so each
`bytes(v)` is a new object and a copy, as each status of a read is.

Each figure is the best of `--repeat` runs of `timeit` (the least disturbed
one), in nanoseconds per operation; the comparisons are ratios of figures
taken in the same run, the operations interleaved run by run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import timeit

import parallel_scoreboard as ps

STATUS_64 = bytes(range(64))


def interleaved(cases: dict[str, timeit.Timer], number: int, repeat: int) -> dict[str, float]:
    """`best_ns` of every case, the runs interleaved (case A, B, C, A, B, C...),
    so that a disturbance of the machine hits them all alike."""
    best = {name: float("inf") for name in cases}
    for _ in range(repeat):
        for name, stmt in cases.items():
            t = stmt.timeit(number=number) / number * 1e9
            best[name] = min(best[name], t)
    return best


def update_cases(board: ps.Scoreboard, tmp: str) -> dict[str, object]:
    worker = board.worker("bench-update")
    worker.update(STATUS_64)
    data = STATUS_64
    buf = io.BytesIO()
    buf.write(data)
    cases: dict[str, object] = {}
    # The statements as the caller writes them: bound methods looked up once.
    seek, write, upd = buf.seek, buf.write, worker.update
    cases["io.BytesIO seek(0) + write(64 B)"] = timeit.Timer(
        "seek(0); write(data)", globals={"seek": seek, "write": write, "data": data}
    )
    cases["Worker.update(64 B)"] = timeit.Timer(
        "upd(data)", globals={"upd": upd, "data": data}
    )
    board.update(data)
    cases["Scoreboard.update(64 B) (default id: the pid)"] = timeit.Timer(
        "upd(data)", globals={"upd": board.update, "data": data}
    )
    request = {"state": "busy", "method": "GET", "path": "/index.html", "client": "127.0.0.1", "since": 1796623858.36, "requests": 1234}
    cases["Worker.update(dict of 6 items, as JSON)"] = timeit.Timer(
        "upd(v)", globals={"upd": upd, "v": request}
    )
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
    cases["json module: encode(the same dict).encode() + Worker.update"] = timeit.Timer(
        "upd(encode(v).encode())", globals={"upd": upd, "encode": encode, "v": request}
    )
    gauge = prometheus_gauge(tmp)
    if gauge is not None:
        cases["prometheus_client multiprocess Gauge.set"] = timeit.Timer(
            "set(1.0)", globals={"set": gauge.set}
        )
    # Keep the worker alive as long as the timers.
    cases["_keep"] = worker
    return cases


def prometheus_gauge(tmp: str):
    """A multiprocess-mode Gauge (livesum), or None without prometheus_client."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(tmp, "prometheus")
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    try:
        from prometheus_client import CollectorRegistry, Gauge
    except ImportError:
        return None
    return Gauge(
        "bench_gauge",
        "a gauge",
        multiprocess_mode="livesum",
        registry=CollectorRegistry(),
    )


def json_status(i: int, size: int) -> bytes:
    """A JSON object of `size` bytes, as a server's worker would publish."""
    head = {"state": "busy", "method": "GET", "client": "127.0.0.1", "requests": i, "since": 1796623858.25, "path": ""}
    text = json.dumps(head, separators=(",", ":"))
    head["path"] = "/" + "p" * (size - len(text) - 1)
    out = json.dumps(head, separators=(",", ":")).encode()
    assert len(out) == size
    return out


def read_cases(board: ps.Scoreboard, jboard: ps.Scoreboard, workers: int, size: int) -> tuple[dict[str, object], list]:
    keep = []
    src: dict[str, bytearray] = {}
    jsrc: dict[str, bytes] = {}
    for i in range(workers):
        w = board.worker(f"worker-{i:04}")
        status = bytes([i % 256]) * size
        w.update(status)
        keep.append(w)
        src[w.id] = bytearray(status)
        jw = jboard.worker(f"worker-{i:04}")
        jw.update(json_status(i, size))
        keep.append(jw)
        jsrc[jw.id] = json_status(i, size)
    got = board.read_all()
    assert len(got) == workers and all(len(v) == size for v in got.values()), "board"
    cases = {
        f"dict of fresh bytes, {workers} x {size} B ({{k: bytes(v) for k, v in src.items()}})": timeit.Timer(
            "{k: bytes(v) for k, v in src.items()}", globals={"src": src}
        ),
        f"read_all(), {workers} workers x {size} B": timeit.Timer(
            "read_all()", globals={"read_all": board.read_all}
        ),
        f"read_all_json(), {workers} workers x {size} B (not JSON: bytes)": timeit.Timer(
            "f()", globals={"f": board.read_all_json}
        ),
        f"json module: {{k: loads(v) for k, v in src.items()}}, {workers} JSON objects of {size} B": timeit.Timer(
            "{k: loads(v) for k, v in src.items()}", globals={"src": jsrc, "loads": json.loads}
        ),
        f"read_all_json(), {workers} workers x JSON objects of {size} B": timeit.Timer(
            "f()", globals={"f": jboard.read_all_json}
        ),
        f"snapshot(), {workers} workers x {size} B": timeit.Timer(
            "f()", globals={"f": board.snapshot}
        ),
    }
    return cases, keep


def run_table(args) -> int:
    tmp = tempfile.mkdtemp(prefix="psb-test-py-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        board = ps.Scoreboard(os.path.join(tmp, "board"))
        ucases = update_cases(board, tmp)
        keep = ucases.pop("_keep")
        ups = interleaved(ucases, number=args.number, repeat=args.repeat)
        rboard = ps.Scoreboard(os.path.join(tmp, "read"))
        jboard = ps.Scoreboard(os.path.join(tmp, "json"))
        rcases, workers = read_cases(rboard, jboard, args.workers, args.size)
        reads = interleaved(rcases, number=max(1, args.number // 20000), repeat=args.repeat)
        del keep, workers
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"Python {sys.version.split()[0]}, parallel_scoreboard {ps.__version__}, "
          f"best of {args.repeat} runs")
    print()
    print("| operation | time per call | ratio |")
    print("|---|---:|---:|")
    floor = ups["io.BytesIO seek(0) + write(64 B)"]
    update = ups["Worker.update(64 B)"]
    for name, t in ups.items():
        print(f"| {name} | {t:.1f} ns | {t / floor:.2f}x BytesIO |")
    rname = next(n for n in reads if n.startswith("dict of fresh"))
    ref = reads[rname]
    for name, t in reads.items():
        print(f"| {name} | {t / 1000:.1f} us | {t / ref:.2f}x the dict |")
    read = next(t for n, t in reads.items() if n.startswith("read_all()"))
    prom = ups.get("prometheus_client multiprocess Gauge.set")
    print()
    checks = [
        (f"Worker.update within 1.5x of BytesIO ({update / floor:.2f}x)", update <= 1.5 * floor),
        (f"read_all within 1.5x of the dict ({read / ref:.2f}x)", read <= 1.5 * ref),
    ]
    if prom is not None:
        checks.append((f"Worker.update 5x faster than Gauge.set ({prom / update:.1f}x)", prom >= 5 * update))
    else:
        checks.append(("prometheus_client is not installed: Gauge.set not measured", False))
    for what, ok in checks:
        print(f"{'ok  ' if ok else 'MISS'} {what}")
    return 0 if not args.check or all(ok for _, ok in checks) else 1


def loop(kind: str, n: int) -> None:
    """The loop `--syscalls` traces: `n` updates of a Worker, or `n` turns of
    an empty loop doing the same Python work but the call."""
    tmp = tempfile.mkdtemp(prefix="psb-test-py-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        board = ps.Scoreboard(os.path.join(tmp, "board"))
        w = board.worker("syscalls")
        w.update(STATUS_64)
        upd = w.update if kind == "update" else (lambda _: None)
        data = STATUS_64
        for _ in range(n):
            upd(data)
        w.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def syscalls(args) -> int:
    """System calls of a loop of updates less those of the same loop without
    them, per update, counted by `strace -f -c`."""
    counts = {}
    for kind in ("update", "empty"):
        fd, out = tempfile.mkstemp(prefix="psb-test-py-strace-")
        os.close(fd)
        try:
            subprocess.run(
                ["strace", "-f", "-c", "-o", out, sys.executable, __file__, "--loop", kind, str(args.updates)],
                check=True,
            )
            with open(out) as f:
                text = f.read()
        finally:
            if os.path.exists(out):
                os.unlink(out)
        total = [line for line in text.splitlines() if line.rstrip().endswith("total")]
        counts[kind] = int(total[-1].split()[3]) if total else 0
    extra = counts["update"] - counts["empty"]
    per = extra / args.updates
    print(f"strace -c: {counts['update']} system calls with {args.updates} updates, "
          f"{counts['empty']} with the empty loop: {extra} more, {per:.6f} per update")
    return 0 if not args.check or per < 0.001 else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="exit 1 unless the targets hold")
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--number", type=int, default=200_000, help="calls per run of an update")
    p.add_argument("--workers", type=int, default=1000)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--syscalls", action="store_true", help="count system calls per update")
    p.add_argument("--updates", type=int, default=1_000_000)
    p.add_argument("--loop", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.loop:
        loop(args.loop[0], int(args.loop[1]))
        return 0
    if args.syscalls:
        return syscalls(args)
    return run_table(args)


if __name__ == "__main__":
    sys.exit(main())
