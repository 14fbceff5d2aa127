"""Boards shared with the Rust programs: the `scoreboard` command reads a
board written from Python, and Python reads one written by a Rust program
(`scoreboard demo-worker`, the demo's worker process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import parallel_scoreboard as ps
from conftest import eventually


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, capture_output=True, timeout=60)


def test_the_cli_lists_a_board_written_from_python(board_dir, scoreboard_bin):
    board = ps.Scoreboard(board_dir)
    board.update(b"plain status")
    w = board.worker("py-acceptor")
    w.update({"state": "busy", "path": "/index.html"})
    for _ in range(4):
        w.update({"state": "idle"})

    out = run(scoreboard_bin, "list", "--json", board_dir)
    assert out.returncode == 0, out.stderr
    listed = {e["id"]: e for e in json.loads(out.stdout)}
    assert set(listed) == {str(os.getpid()), "py-acceptor"}
    assert listed[str(os.getpid())]["status"] == "plain status"
    assert listed[str(os.getpid())]["pid"] == os.getpid()
    assert listed["py-acceptor"]["status"] == '{"state":"idle"}'
    assert listed["py-acceptor"]["updates"] == 5

    table = run(scoreboard_bin, "list", board_dir)
    assert table.returncode == 0, table.stderr
    assert b"py-acceptor" in table.stdout and b"plain status" in table.stdout

    # Raw bytes come out as they went in.
    w.update(bytes(range(256)))
    raw = run(scoreboard_bin, "show", board_dir, "py-acceptor")
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout == bytes(range(256))

    # Once the worker is closed the CLI no longer lists it.
    w.close()
    out = run(scoreboard_bin, "list", "--json", board_dir)
    assert [e["id"] for e in json.loads(out.stdout)] == [str(os.getpid())]


def test_python_reads_a_board_written_by_a_rust_program(board_dir, scoreboard_bin, children):
    monitor = ps.Scoreboard(board_dir)
    procs = [
        children.spawn(
            scoreboard_bin, "demo-worker", "--n", str(n), "--dir", board_dir,
            "--parent", str(os.getpid()),
        )
        for n in (1, 2)
    ]
    ids = {"worker-1", "worker-2"}
    eventually(lambda: set(monitor.read_all()) == ids, "both Rust workers listed")
    all_ = monitor.read_all()
    for status in all_.values():
        assert status == b"idle" or status.startswith(b"busy "), status
    snap = monitor.snapshot()
    assert {s.id: s.pid for s in snap.workers} == {
        "worker-1": procs[0].pid,
        "worker-2": procs[1].pid,
    }
    assert all(s.updates > 0 for s in snap.workers)
    # Python workers join the Rust ones on the same board.
    with monitor.worker("py") as mine:
        mine.update(b"python")
        assert set(monitor.read_all()) == ids | {"py"}
    # SIGTERM: the Rust worker drops its handle; SIGKILL: the next read
    # removes its file. Either way it leaves the board.
    procs[0].send_signal(signal.SIGTERM)
    procs[0].wait(timeout=30)
    procs[1].kill()
    procs[1].wait(timeout=30)
    assert monitor.read_all() == {}
    assert os.listdir(board_dir) == []
