"""The API: updates of every accepted type, reads, snapshots, cleanup, close."""

from __future__ import annotations

import array
import os
import time
from pathlib import Path

import pytest

import parallel_scoreboard as ps


def test_update_publishes_this_process_entry_by_pid(board_dir):
    board = ps.Scoreboard(board_dir)
    assert os.path.isdir(board_dir)
    assert os.stat(board_dir).st_mode & 0o777 == 0o700
    assert board.read_all() == {}
    board.update(b"this is my current status")
    assert board.read_all() == {str(os.getpid()): b"this is my current status"}
    board.update(b"idle")
    assert board.read_all() == {str(os.getpid()): b"idle"}
    # Named as the original module names its files.
    assert os.path.exists(os.path.join(board_dir, f"status_{os.getpid()}"))


@pytest.mark.parametrize(
    "status, stored",
    [
        (b"bytes", b"bytes"),
        (bytearray(b"a bytearray"), b"a bytearray"),
        (memoryview(b"xxa memoryviewxx")[2:-2], b"a memoryview"),
        (array.array("B", b"an array"), b"an array"),
        ("a str \u00e9\u6f22", "a str \u00e9\u6f22".encode()),
        (b"", b""),
        ({"state": "busy", "n": 3}, b'{"state":"busy","n":3}'),
        (["a", 1, None, True], b'["a",1,null,true]'),
    ],
)
def test_update_accepts_bytes_like_str_dict_and_list(board_dir, status, stored):
    board = ps.Scoreboard(board_dir)
    with board.worker("w") as w:
        w.update(status)
        assert board.read_all() == {"w": stored}
    board.update(status)
    assert board.read_all() == {str(os.getpid()): stored}


@pytest.mark.parametrize("status", [1, 1.5, None, object(), ("a", "b"), {"a", "b"}])
def test_update_refuses_other_types_and_keeps_the_status(board_dir, status):
    board = ps.Scoreboard(board_dir)
    w = board.worker("w")
    w.update(b"before")
    with pytest.raises(TypeError, match="a status is bytes"):
        w.update(status)
    with pytest.raises(TypeError):
        board.update(status)
    assert board.read_all() == {"w": b"before"}


def test_str_with_a_lone_surrogate_is_refused(board_dir):
    board = ps.Scoreboard(board_dir)
    w = board.worker("w")
    w.update(b"before")
    with pytest.raises(UnicodeEncodeError):
        w.update("\udc80")
    assert board.read_all() == {"w": b"before"}


def test_read_all_lists_live_workers_that_have_updated(board_dir):
    board = ps.Scoreboard(board_dir)
    quiet = board.worker("quiet")
    talking = board.worker("talking")
    talking.update(b"hello")
    assert board.read_all() == {"talking": b"hello"}
    assert os.path.exists(quiet.path)
    quiet.update(b"now me")
    assert board.read_all() == {"quiet": b"now me", "talking": b"hello"}


def test_statuses_grow_and_shrink(board_dir):
    board = ps.Scoreboard(board_dir)
    w = board.worker("w")
    big = os.urandom(3 << 20)
    w.update(big)
    assert board.read_all()["w"] == big
    w.update(b"small")
    assert board.read_all()["w"] == b"small"


def test_worker_close_and_context_manager_remove_the_entry(board_dir):
    board = ps.Scoreboard(board_dir)
    w = board.worker("a")
    w.update(b"x")
    path = w.path
    assert os.path.exists(path)
    assert not w.closed
    w.close()
    assert w.closed
    assert not os.path.exists(path)
    assert board.read_all() == {}
    w.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        w.update(b"y")
    assert w.id == "a"
    assert "closed" in repr(w)
    with board.worker("b") as b:
        b.update(b"in")
        assert board.read_all() == {"b": b"in"}
    assert b.closed
    assert board.read_all() == {}


def test_a_dropped_worker_leaves_the_board(board_dir):
    board = ps.Scoreboard(board_dir)
    w = board.worker("gone")
    w.update(b"x")
    path = w.path
    del w
    assert not os.path.exists(path)
    assert board.read_all() == {}


def test_worker_properties(board_dir):
    board = ps.Scoreboard(board_dir)
    w = board.worker("acceptor-3")
    assert w.id == "acceptor-3"
    assert os.path.dirname(w.path) == board_dir
    assert "acceptor-3" in os.path.basename(w.path)
    assert w.updates == 0
    for i in range(5):
        w.update(b"%d" % i)
    assert w.updates == 5
    # board.worker() without an id: the process id.
    assert board.worker().id == str(os.getpid())


def test_base_dir_takes_str_and_pathlike(board_dir):
    board = ps.Scoreboard(Path(board_dir))
    assert board.base_dir == board_dir
    assert isinstance(board.base_dir, str)
    assert board_dir in repr(board)
    again = ps.Scoreboard(board_dir)  # an existing board opens again
    assert again.base_dir == board_dir


def test_snapshot_has_pids_counts_times_skipped_and_removed(board_dir, children):
    board = ps.Scoreboard(board_dir)
    before = time.time()
    w = board.worker("w")
    for i in range(3):
        w.update(b"s%d" % i)
    after = time.time()
    with open(os.path.join(board_dir, "notes.txt"), "w") as f:
        f.write("not a status file")

    # A worker of a child process that is killed: its file is left behind.
    r, wr = os.pipe()

    def child():
        os.close(r)
        me = ps.Scoreboard(board_dir).worker("doomed")
        me.update(b"x")
        os.write(wr, b"1")
        time.sleep(600)

    pid = children.fork(child)
    os.close(wr)
    assert os.read(r, 1) == b"1"
    os.close(r)
    os.kill(pid, 9)
    children.wait(pid)

    snap = board.snapshot()
    assert [s.id for s in snap.workers] == ["w"]
    s = snap.workers[0]
    assert isinstance(s, ps.WorkerStatus)
    assert (s.status, s.pid, s.updates) == (b"s2", os.getpid(), 3)
    # Seconds since the epoch, within the test's span (the reader converts the
    # monotonic stamps with its own clock: allow for a coarse clock).
    assert before - 1 <= s.started_at <= s.updated_at <= after + 1
    assert snap.removed == 1
    assert len(snap.skipped) == 1
    skipped = snap.skipped[0]
    assert isinstance(skipped, ps.CorruptError)
    assert skipped.kind == "corrupt"
    assert skipped.reason == "not_a_status_file_name"
    assert skipped.path == os.path.join(board_dir, "notes.txt")
    assert "notes.txt" in str(skipped)
    assert "workers=1" in repr(snap)
    assert "'w'" in repr(s)
    # The file is left in place.
    assert os.path.exists(os.path.join(board_dir, "notes.txt"))


def test_worker_status_json(board_dir):
    board = ps.Scoreboard(board_dir)
    w = board.worker("w")
    w.update({"state": "idle"})
    (s,) = board.snapshot().workers
    assert s.json() == {"state": "idle"}
    w.update(b"not json")
    (s,) = board.snapshot().workers
    with pytest.raises(ValueError):
        s.json()


def test_cleanup_removes_dead_workers_files(board_dir, children):
    board = ps.Scoreboard(board_dir)
    assert board.cleanup().removed == 0

    def child():
        b = ps.Scoreboard(board_dir)
        b.update(b"I will die without cleaning up")
        os.kill(os.getpid(), 9)

    pid = children.fork(child)
    assert children.wait(pid) == -9
    leftovers = [n for n in os.listdir(board_dir) if str(pid) in n]
    assert len(leftovers) == 1
    done = board.cleanup()
    assert isinstance(done, ps.Cleanup)
    assert done.removed == 1
    assert done.failed == []
    assert "removed=1" in repr(done)
    assert [n for n in os.listdir(board_dir) if str(pid) in n] == []


def test_close_removes_the_entries_of_update(board_dir):
    with ps.Scoreboard(board_dir) as board:
        board.update(b"up")
        w = board.worker("kept")
        w.update(b"me too")
        monitor = ps.Scoreboard(board_dir)
        assert set(monitor.read_all()) == {str(os.getpid()), "kept"}
    assert monitor.read_all() == {"kept": b"me too"}
    board.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        board.update(b"x")
    with pytest.raises(ValueError, match="closed"):
        board.read_all()
    # Workers outlive the board that made them.
    w.update(b"still here")
    assert monitor.read_all() == {"kept": b"still here"}


def test_second_board_in_one_process_keeps_the_first_ones_entry(board_dir):
    # The original's flaw 4: a second object deleted the first one's file.
    first = ps.Scoreboard(board_dir)
    first.update(b"first")
    second = ps.Scoreboard(board_dir)
    assert second.read_all() == {str(os.getpid()): b"first"}
    second.cleanup()
    del second
    assert first.read_all() == {str(os.getpid()): b"first"}


def test_boards_and_workers_do_not_pickle(board_dir):
    import pickle

    board = ps.Scoreboard(board_dir)
    with pytest.raises(TypeError):
        pickle.dumps(board)
    with pytest.raises(TypeError):
        pickle.dumps(board.worker("w"))
