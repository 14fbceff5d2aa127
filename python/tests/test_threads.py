"""Threads: reads from several threads at once, and the GIL released while a
read copies the board."""

from __future__ import annotations

import sys
import threading

import pytest

import parallel_scoreboard as ps


def test_read_all_from_many_threads_while_workers_update(board_dir):
    board = ps.Scoreboard(board_dir)
    workers = [board.worker(f"w{i}") for i in range(20)]
    for i, w in enumerate(workers):
        w.update(b"%d:" % i + b"0" * 100)
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = [0] * 6

    def writer():
        n = 0
        while not stop.is_set():
            n += 1
            for i, w in enumerate(workers):
                # A status that says its own length: a torn one would not.
                body = (b"%d:" % i) + (b"%d" % (n % 10)) * (100 + n % 300)
                w.update(body)

    def reader(slot: int):
        try:
            for _ in range(200):
                got = board.read_all() if slot % 2 else {
                    s.id: s.status for s in board.snapshot().workers
                }
                assert set(got) == {f"w{i}" for i in range(20)}
                for wid, status in got.items():
                    head, body = status.split(b":")
                    assert head == wid[1:].encode()
                    # One update's body: one digit d = n % 10, repeated
                    # 100 + n % 300 times, so (len - 100) % 10 == d.
                    assert body == body[:1] * len(body)
                    assert 100 <= len(body) < 400
                    assert (len(body) - 100) % 10 == int(body[:1])
                reads[slot] += 1
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    wt = threading.Thread(target=writer)
    wt.start()
    rts = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
    try:
        for t in rts:
            t.start()
        for t in rts:
            t.join()
    finally:
        stop.set()
        wt.join()
    if errors:
        raise errors[0]
    assert reads == [200] * 6


def test_the_gil_is_released_while_a_large_board_is_copied(board_dir):
    # A board large enough that one read copies 32 MiB.
    board = ps.Scoreboard(board_dir)
    workers = [board.worker(f"w{i:03}") for i in range(256)]
    for w in workers:
        w.update(b"x" * (128 << 10))
    ticks = [0]
    ready = threading.Event()
    stop = [False]

    def counter():
        # Runs only when it gets the GIL: each turn waits for the main thread
        # to set `ready` (blocking, GIL released), then counts.
        while True:
            ready.wait()
            ready.clear()
            if stop[0]:
                return
            ticks[0] += 1

    # No forced switches: the counter can only run while the main thread
    # gives the GIL up by itself, which the loops below never do but inside
    # the calls they make.
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    t = threading.Thread(target=counter)
    try:
        t.start()
        # The control: a long call that keeps the GIL (hashing 64 MiB) never
        # lets the counter run, however often `ready` is set before it.
        big = b"y" * (64 << 20)
        before = ticks[0]
        for _ in range(3):
            ready.set()
            hash(big[1:])
        held = ticks[0] - before
        # The reads: the counter runs during them. A busy machine may not
        # schedule it during one read; it must during one of many.
        before = ticks[0]
        reads = 0
        while ticks[0] == before and reads < 200:
            ready.set()
            got = board.read_all()
            reads += 1
        ran = ticks[0] - before
        assert len(got) == 256
    finally:
        sys.setswitchinterval(old)
        stop[0] = True
        ready.set()
        t.join()
    assert held == 0, "the counter ran while the GIL was held: the test cannot tell"
    assert ran > 0, f"no other thread ran during {reads} reads of a 32 MiB board"


def test_concurrent_reads_of_one_board_share_no_state(board_dir):
    # Many threads each reading in a loop: every result complete, whether the
    # read used the board's kept snapshot or a fresh one.
    board = ps.Scoreboard(board_dir)
    ws = [board.worker(f"w{i}") for i in range(50)]
    for i, w in enumerate(ws):
        w.update(b"status %d" % i)
    expected = {f"w{i}": b"status %d" % i for i in range(50)}
    results = []

    def run():
        for _ in range(100):
            results.append(board.read_all() == expected and board.read_all_json() == expected)

    ts = [threading.Thread(target=run) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(results) == 800 and all(results)


@pytest.mark.parametrize("n", [8])
def test_workers_in_threads(board_dir, n):
    board = ps.Scoreboard(board_dir)
    barrier = threading.Barrier(n + 1)

    def run(i):
        with board.worker(f"thread-{i}") as w:
            for k in range(1000):
                w.update(b"%d" % k)
            barrier.wait()
            barrier.wait()

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    barrier.wait()
    assert board.read_all() == {f"thread-{i}": b"999" for i in range(n)}
    barrier.wait()
    for t in ts:
        t.join()
    assert board.read_all() == {}
