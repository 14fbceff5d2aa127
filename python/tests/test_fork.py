"""Fork semantics, as a pre-forking server (gunicorn) uses them: the board is
opened in the parent, then workers are forked."""

from __future__ import annotations

import os
import signal
import time

import pytest

import parallel_scoreboard as ps
from conftest import eventually


def pipe_child(children, body):
    """Forks a child running `body(report)`, where `report(b)` sends bytes to
    the parent; returns (pid, read end)."""
    r, w = os.pipe()

    def child():
        os.close(r)
        body(lambda data: os.write(w, data))

    pid = children.fork(child)
    os.close(w)
    return pid, r


def read_line(fd) -> bytes:
    out = b""
    while not out.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            break
        out += chunk
    return out


def test_child_update_makes_its_own_entry(board_dir, children):
    board = ps.Scoreboard(board_dir)
    board.update(b"manager")
    release_r, release_w = os.pipe()

    def body(report):
        os.close(release_w)
        board.update(b"child %d" % os.getpid())
        report(b"ok\n")
        os.read(release_r, 1)  # until the parent has looked

    pids = []
    fds = []
    for _ in range(2):
        pid, r = pipe_child(children, body)
        pids.append(pid)
        fds.append(r)
    os.close(release_r)
    for r in fds:
        assert read_line(r) == b"ok\n"
        os.close(r)
    expected = {str(os.getpid()): b"manager"}
    expected.update({str(p): b"child %d" % p for p in pids})
    assert board.read_all() == expected
    os.close(release_w)  # the children exit (os._exit: nothing cleaned up)
    for p in pids:
        assert children.wait(p) == 0
    # Dead children's entries vanish; the parent's stays.
    assert board.read_all() == {str(os.getpid()): b"manager"}


def test_inherited_worker_refuses_updates_and_keeps_the_parents_file(board_dir, children):
    board = ps.Scoreboard(board_dir)
    mine = board.worker("parent-slot")
    mine.update(b"parent")
    path = mine.path

    def body(report):
        try:
            mine.update(b"child writes into the parent's slot")
        except ps.ForkedError as e:
            assert e.kind == "forked"
            assert e.path == path
        else:
            raise AssertionError("an inherited Worker updated")
        # A Worker of its own in the child works.
        with board.worker() as own:
            assert own.id == str(os.getpid())
            own.update(b"child's own")
            assert board.read_all()[own.id] == b"child's own"
        # Closing and dropping the inherited one leaves the parent's file.
        mine.close()
        report(b"done\n")

    pid, r = pipe_child(children, body)
    assert read_line(r) == b"done\n"
    os.close(r)
    assert children.wait(pid) == 0
    assert os.path.exists(path)
    assert board.read_all() == {"parent-slot": b"parent"}
    mine.update(b"parent still updates")
    assert board.read_all() == {"parent-slot": b"parent still updates"}


def test_child_exit_with_cleanup_does_not_remove_the_parents_entry(board_dir, children):
    # A child that runs its Python cleanup at exit (sys.exit, not os._exit):
    # the inherited board and worker are garbage-collected in the child.
    board = ps.Scoreboard(board_dir)
    board.update(b"parent")
    w = board.worker("w")
    w.update(b"parent's worker")
    pid = os.fork()
    if pid == 0:
        try:
            del w
            board.close()
        finally:
            os._exit(0)
    children.pids.append(pid)
    assert children.wait(pid) == 0
    assert board.read_all() == {str(os.getpid()): b"parent", "w": b"parent's worker"}


def test_sigkill_removes_the_worker_from_the_next_read(board_dir, children):
    board = ps.Scoreboard(board_dir)
    board.update(b"monitor")

    def body(report):
        w = board.worker("victim")
        w.update(b"working")
        report(b"ready\n")
        time.sleep(600)

    pid, r = pipe_child(children, body)
    assert read_line(r) == b"ready\n"
    os.close(r)
    assert board.read_all()["victim"] == b"working"
    victim = [n for n in os.listdir(board_dir) if "victim" in n]
    assert len(victim) == 1
    os.kill(pid, signal.SIGKILL)
    assert children.wait(pid) == -signal.SIGKILL
    # The next read: gone, and its file removed.
    assert board.read_all() == {str(os.getpid()): b"monitor"}
    assert [n for n in os.listdir(board_dir) if "victim" in n] == []


def test_a_board_opened_in_the_child_after_a_fork(board_dir, children):
    # gunicorn without --preload: the app (and board) made in each worker.
    monitor = ps.Scoreboard(board_dir)

    def body(report):
        b = ps.Scoreboard(board_dir)
        b.update(b"late opener")
        report(b"ok\n")
        time.sleep(600)

    pid, r = pipe_child(children, body)
    assert read_line(r) == b"ok\n"
    os.close(r)
    assert monitor.read_all() == {str(pid): b"late opener"}
    os.kill(pid, signal.SIGTERM)
    children.wait(pid)
    eventually(lambda: monitor.read_all() == {}, "the child's entry gone")


def test_reads_in_a_child_while_the_parent_reads(board_dir, children):
    # The reader state inherited through fork is renewed in the child.
    board = ps.Scoreboard(board_dir)
    w = board.worker("w")
    w.update(b"v")
    assert board.read_all() == {"w": b"v"}

    def body(report):
        for _ in range(3):
            assert board.read_all() == {"w": b"v"}
        report(b"ok\n")

    pid, r = pipe_child(children, body)
    assert read_line(r) == b"ok\n"
    os.close(r)
    assert children.wait(pid) == 0
    assert board.read_all() == {"w": b"v"}


@pytest.mark.parametrize("n", [4])
def test_many_children_report_counters(board_dir, children, n):
    # The original module's own test, in Python: a manager and forked workers
    # that report a counter; one is killed.
    board = ps.Scoreboard(board_dir)
    board.update(b"me manager")
    go_r, go_w = os.pipe()

    def body(report):
        os.close(go_w)
        for i in range(1, 101):
            board.update(b"%d" % i)
        report(b"counted\n")
        os.read(go_r, 1)

    kids = [pipe_child(children, body) for _ in range(n)]
    os.close(go_r)
    for _, r in kids:
        assert read_line(r) == b"counted\n"
        os.close(r)
    stats = board.read_all()
    assert stats[str(os.getpid())] == b"me manager"
    for pid, _ in kids:
        assert stats[str(pid)] == b"100"
    killed = kids[0][0]
    os.kill(killed, signal.SIGKILL)
    children.wait(killed)
    stats = board.read_all()
    assert str(killed) not in stats
    assert len(stats) == n
    os.close(go_w)
