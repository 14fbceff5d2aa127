"""Fixtures of the package's tests: boards in fresh directories that are
removed after each test (even a failed one), the Rust programs the tests run,
and a reaper for the child processes a test starts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

#: The repository's root (python/tests/ is two levels below it).
REPO = Path(__file__).resolve().parents[2]


def _scratch_root() -> str:
    # /dev/shm as the Rust tests use (CI checks it is left clean), else /tmp.
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


@pytest.fixture
def board_dir() -> Iterator[str]:
    """The path of a board that does not exist yet, in a fresh
    `psb-test-py-*` directory removed after the test."""
    parent = tempfile.mkdtemp(prefix="psb-test-py-", dir=_scratch_root())
    try:
        yield os.path.join(parent, "board")
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def eventually(
    check: Callable[[], bool], what: str, timeout: float = 30.0
) -> None:
    """Polls `check` until it is true; fails after `timeout` seconds (generous:
    the machine may be busy)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.01)


class Children:
    """Child processes (pids and Popen objects) killed and reaped at the end."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.procs: list[subprocess.Popen[bytes]] = []

    def fork(self, child: Callable[[], None]) -> int:
        """Forks; the child runs `child()` and exits (status 0 if it returned,
        1 if it raised) without running the parent's cleanup."""
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                child()
                code = 0
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        self.pids.append(pid)
        return pid

    def wait(self, pid: int) -> int:
        """Waits for the forked child `pid`; its exit status."""
        _, status = os.waitpid(pid, 0)
        self.pids.remove(pid)
        return os.waitstatus_to_exitcode(status)

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


@pytest.fixture
def children() -> Iterator[Children]:
    kids = Children()
    try:
        yield kids
    finally:
        kids.close()


@pytest.fixture(scope="session")
def scoreboard_bin() -> str:
    """The `scoreboard` command (env SCOREBOARD_BIN, default
    <repo>/target/debug/scoreboard, built by `cargo build -p scoreboard-cli`)."""
    path = os.environ.get("SCOREBOARD_BIN", str(REPO / "target" / "debug" / "scoreboard"))
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"{path} is missing: `cargo build -p scoreboard-cli` (or set SCOREBOARD_BIN)"
        )
    return path


@pytest.fixture
def gate_dir(tmp_path: Path) -> Path:
    """A directory where the web tests' applications wait for their gates."""
    d = tmp_path / "gates"
    d.mkdir()
    return d


@pytest.fixture
def monitor(
    request: pytest.FixtureRequest, board_dir: str, scoreboard_bin: str, tmp_path: Path
) -> object:
    """`scoreboard serve` on the test's board (webutil.Monitor), stopped
    after the test."""
    from webutil import Monitor

    m = Monitor(scoreboard_bin, board_dir, tmp_path / "serve.log")
    request.addfinalizer(m.stop)
    return m
