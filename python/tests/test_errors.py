"""Errors as Python exceptions: the classes, `kind`, `reason`, and OS errors
as OSError subclasses with errno set."""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import time

import pytest

import parallel_scoreboard as ps

NOBODY = 65534


def need_root() -> None:
    """Tests that switch users run as root (CI does); elsewhere they are
    skipped, unless CI=true, where a skip would hide them."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("this test switches users: run the tests as root")
        pytest.skip("needs root to switch users")


def as_nobody(children, body) -> int:
    """Runs `body` in a child process as uid/gid 65534; its exit status."""

    def child():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        body()

    return children.wait(children.fork(child))


def test_a_board_path_under_a_file_is_not_a_directory(board_dir):
    os.makedirs(os.path.dirname(board_dir), exist_ok=True)
    with open(board_dir, "w") as f:
        f.write("a file")
    with pytest.raises(ps.ScoreboardOSError) as info:
        ps.Scoreboard(os.path.join(board_dir, "sub"))
    e = info.value
    assert isinstance(e, OSError)
    assert isinstance(e, NotADirectoryError)
    assert isinstance(e, ps.ScoreboardError)
    assert e.errno == errno.ENOTDIR
    assert e.strerror == os.strerror(errno.ENOTDIR)
    assert e.kind == "io"
    assert e.filename is not None and e.filename.startswith(board_dir)
    assert e.path == e.filename
    assert f"[Errno {errno.ENOTDIR}]" in str(e)
    assert board_dir in str(e)


def test_a_board_path_that_is_a_file_exists(board_dir):
    # mkdir's answer, as `mkdir -p` gives it: the name is taken by a file.
    os.makedirs(os.path.dirname(board_dir), exist_ok=True)
    with open(board_dir, "w") as f:
        f.write("a file")
    with pytest.raises(FileExistsError) as info:
        ps.Scoreboard(board_dir)
    assert isinstance(info.value, ps.ScoreboardOSError)
    assert info.value.errno == errno.EEXIST
    assert info.value.filename == board_dir


def test_no_permission_is_eacces(board_dir, children):
    need_root()
    parent = os.path.dirname(board_dir)  # root's, mode 0700

    def body():
        try:
            ps.Scoreboard(board_dir)
        except PermissionError as e:
            assert isinstance(e, ps.ScoreboardOSError)
            assert e.errno == errno.EACCES, e
            assert e.kind == "io"
            assert e.filename is not None and e.filename.startswith(parent), e
            return
        raise AssertionError("opened a board in a directory it may not write")

    assert as_nobody(children, body) == 0


def test_another_users_board_is_read_only(board_dir, children):
    need_root()
    os.makedirs(board_dir, mode=0o700)
    os.chown(board_dir, NOBODY, NOBODY)
    os.chmod(os.path.dirname(board_dir), 0o711)
    r, w = os.pipe()

    def body():
        os.close(r)
        me = ps.Scoreboard(board_dir).worker("nobodys")
        me.update(b"owned by nobody")
        os.write(w, b"1")
        time.sleep(600)

    def child():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        body()

    children.fork(child)
    os.close(w)
    assert os.read(r, 1) == b"1"
    os.close(r)
    board = ps.Scoreboard(board_dir)
    assert board.read_all() == {"nobodys": b"owned by nobody"}
    with pytest.raises(ps.ReadOnlyError) as info:
        board.update(b"root's")
    assert info.value.kind == "read_only"
    with pytest.raises(ps.ReadOnlyError):
        board.worker("root")


def test_a_removed_board_is_missing_enoent(board_dir):
    board = ps.Scoreboard(board_dir)
    board.update(b"x")
    shutil.rmtree(board_dir)
    with pytest.raises(ps.MissingError) as info:
        board.read_all()
    e = info.value
    assert isinstance(e, FileNotFoundError)
    assert isinstance(e, ps.ScoreboardOSError)
    assert e.errno == errno.ENOENT
    assert e.kind == "missing"
    assert e.filename == board_dir
    # Reads follow the path: a directory there again is read.
    os.makedirs(board_dir, mode=0o700)
    assert board.read_all() == {}


def test_a_world_writable_board_is_insecure(board_dir):
    os.makedirs(board_dir)
    os.chmod(board_dir, 0o777)
    with pytest.raises(ps.InsecureError) as info:
        ps.Scoreboard(board_dir)
    assert info.value.kind == "insecure"
    assert info.value.path == board_dir


def test_duplicate_and_invalid_ids(board_dir):
    board = ps.Scoreboard(board_dir)
    held = board.worker("dup")
    with pytest.raises(ps.DuplicateIdError) as info:
        board.worker("dup")
    assert info.value.kind == "duplicate_id"
    assert info.value.path == held.path
    assert '"dup"' in str(info.value)
    for bad in ("", "x" * 256):
        with pytest.raises(ps.InvalidIdError) as info:
            board.worker(bad)
        assert isinstance(info.value, ValueError)
        assert info.value.kind == "invalid_id"
    assert board.worker("x" * 255).id == "x" * 255
    # An id is any UTF-8: a slash or a dot does not escape the directory.
    w = board.worker("../../etc/passwd")
    assert os.path.dirname(w.path) == board_dir


def test_a_name_taken_by_a_directory_is_corrupt(board_dir):
    board = ps.Scoreboard(board_dir)
    probe = board.worker("probe")
    name = os.path.basename(probe.path).replace("probe", "taken")
    probe.close()
    os.mkdir(os.path.join(board_dir, name))
    with pytest.raises(ps.CorruptError) as info:
        board.worker("taken")
    e = info.value
    assert e.kind == "corrupt"
    assert e.reason == "not_a_regular_file"
    assert e.path == os.path.join(board_dir, name)


def test_exceptions_pickle(board_dir):
    board = ps.Scoreboard(board_dir)
    board.worker("dup")  # dropped at once: taken and released
    held = board.worker("dup")
    try:
        board.worker("dup")
    except ps.DuplicateIdError as e:
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e)
        assert (back.kind, back.path, str(back)) == (e.kind, e.path, str(e))
    with pytest.raises(NotADirectoryError) as info:
        ps.Scoreboard(os.path.join(held.path, "x"))
    back = pickle.loads(pickle.dumps(info.value))
    assert type(back) is type(info.value)
    assert (back.errno, back.filename, back.kind, str(back)) == (
        errno.ENOTDIR,
        info.value.filename,
        "io",
        str(info.value),
    )


def test_hierarchy():
    assert issubclass(ps.ScoreboardOSError, ps.ScoreboardError)
    assert issubclass(ps.ScoreboardOSError, OSError)
    assert issubclass(ps.MissingError, FileNotFoundError)
    assert issubclass(ps.InvalidIdError, ValueError)
    for cls in (
        ps.DuplicateIdError,
        ps.ForkedError,
        ps.CorruptError,
        ps.UnsettledError,
        ps.ContendedError,
        ps.TooLargeError,
        ps.InsecureError,
        ps.ReadOnlyError,
    ):
        assert issubclass(cls, ps.ScoreboardError)
        assert not issubclass(cls, OSError)
