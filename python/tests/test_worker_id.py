"""A custom `worker_id`: the callable names the calling worker."""

from __future__ import annotations

import threading

import pytest

import parallel_scoreboard as ps
from conftest import eventually


def test_worker_id_names_the_entry(board_dir):
    current = ["alpha"]
    board = ps.Scoreboard(board_dir, worker_id=lambda: current[0])
    board.update(b"a")
    current[0] = "beta"
    board.update(b"b")
    assert board.read_all() == {"alpha": b"a", "beta": b"b"}
    current[0] = "gamma"
    assert board.worker().id == "gamma"
    # The id of an entry `update` made is held: a Worker for it is refused.
    current[0] = "beta"
    with pytest.raises(ps.DuplicateIdError):
        board.worker()


def test_worker_id_may_return_an_int(board_dir):
    board = ps.Scoreboard(board_dir, worker_id=lambda: 42)
    board.update(b"x")
    assert board.read_all() == {"42": b"x"}


def test_worker_id_exception_propagates(board_dir):
    class Boom(Exception):
        pass

    def fail():
        raise Boom("no id")

    board = ps.Scoreboard(board_dir, worker_id=fail)
    with pytest.raises(Boom, match="no id"):
        board.update(b"x")
    with pytest.raises(Boom):
        board.worker()
    assert board.read_all() == {}


def test_worker_id_of_a_wrong_type_or_empty(board_dir):
    board = ps.Scoreboard(board_dir, worker_id=lambda: b"bytes")
    with pytest.raises(TypeError, match="worker_id"):
        board.update(b"x")
    board = ps.Scoreboard(board_dir, worker_id=lambda: "")
    with pytest.raises(ps.InvalidIdError):
        board.update(b"x")
    with pytest.raises(TypeError, match="callable"):
        ps.Scoreboard(board_dir, worker_id="not callable")


def test_worker_id_per_thread_entries_leave_with_their_threads(board_dir):
    board = ps.Scoreboard(board_dir, worker_id=lambda: threading.current_thread().name)
    started = threading.Barrier(5)
    release = threading.Event()

    def run():
        board.update(b"from " + threading.current_thread().name.encode())
        started.wait()
        release.wait()

    threads = [threading.Thread(target=run, name=f"t{i}") for i in range(4)]
    for t in threads:
        t.start()
    started.wait()
    assert board.read_all() == {f"t{i}": f"from t{i}".encode() for i in range(4)}
    release.set()
    for t in threads:
        t.join()
    # A thread's entries go when it has exited (its thread-local destructors
    # run as the OS thread ends, a moment after `join` returns).
    eventually(lambda: board.read_all() == {}, "the threads' entries gone")


def test_worker_id_may_use_the_board(board_dir):
    board = None

    def wid():
        board.read_all()
        return "nested"

    board = ps.Scoreboard(board_dir, worker_id=wid)
    board.update(b"x")
    assert board.read_all() == {"nested": b"x"}
