"""Plumbing of the server tests (gunicorn, uvicorn, scoreboard serve): real
processes on 127.0.0.1, polled with generous deadlines, always stopped.

Every server is started in a session of its own and stopped by its process
group (its pid), SIGTERM then SIGKILL, from a fixture's finalizer, so a
failing test leaves no process behind; the board directories are the
``board_dir`` fixture's (removed after the test).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
PYTHON_DIR = HERE.parent
GUNICORN_CONF = PYTHON_DIR / "examples" / "gunicorn.conf.py"

#: Deadlines are generous: a busy 2-core machine starts servers slowly.
DEADLINE = 60.0


def eventually(check, what: str, timeout: float = DEADLINE, interval: float = 0.05, detail=None):
    """Calls ``check`` until it returns a true value (returned), failing with
    ``what`` and the last value or error after ``timeout`` seconds (and what
    ``detail()`` returns then, if given)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = value
        except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
            last = e
        if time.monotonic() > deadline:
            more = ""
            if detail is not None:
                try:
                    more = "\n" + str(detail())
                except Exception as e:  # noqa: BLE001 - the failure is reported anyway
                    more = "\n(no detail: %r)" % e
            raise AssertionError("timed out after %.0f s waiting for %s; last: %r%s" % (timeout, what, last, more))
        time.sleep(interval)


def listening_socket() -> socket.socket:
    """A TCP socket listening on 127.0.0.1 on a free port, inheritable, to
    hand to a server by its descriptor (no race for the port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    s.set_inheritable(True)
    return s


class Server:
    """A process started in a session of its own, its output in a log file."""

    def __init__(self, argv, log: Path, env=None, pass_fds=()):
        self.argv = [str(a) for a in argv]
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=env, pass_fds=pass_fds, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL to what is left after 15 s;
        reaps the process. Prints the end of its log, which pytest shows
        when the test failed."""
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=wait)
                if sig == signal.SIGTERM:
                    # Workers of the group that outlived their master.
                    try:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                break
            except subprocess.TimeoutExpired:
                continue
        self._log.close()
        print("--- %s (pid %d), the end of its log:\n%s" % (" ".join(self.argv[:4]), self.pid, self.log()[-4000:]))


def child_env(**extra) -> dict:
    # Unbuffered: a server's log is complete even when it is killed.
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


# -- scoreboard serve ---------------------------------------------------------

class Monitor:
    """``scoreboard serve DIR`` on a free port of 127.0.0.1."""

    def __init__(self, scoreboard_bin, board_dir, log: Path):
        self.server = Server([scoreboard_bin, "serve", "--listen", "127.0.0.1:0", board_dir], log)
        found = eventually(
            lambda: re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.server.log()),
            "scoreboard serve to print its address")
        self.port = int(found.group(1))

    def get(self, path: str) -> str:
        status, body = http_get(self.port, path)
        if status != 200:
            raise ValueError("scoreboard serve answered %d to %s: %r" % (status, path, body[:200]))
        return body.decode()

    def auto(self) -> dict:
        """``?auto`` as a dict of its ``Key: value`` lines."""
        lines = self.get("/server-status?auto").splitlines()
        return dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in lines)

    def auto_text(self) -> str:
        return self.get("/server-status?auto")

    def statuses(self) -> dict:
        """``/json``: id -> status (JSON statuses decoded)."""
        return json.loads(self.get("/json"))

    def raw(self, worker_id: str) -> str:
        """``/worker/ID``: one worker's status as written."""
        return self.get("/worker/" + urllib.parse.quote(worker_id, safe=""))

    def metrics(self) -> str:
        return self.get("/metrics")

    def counts(self):
        """(busy, idle) as ``?auto`` says."""
        a = self.auto()
        return int(a["BusyWorkers"]), int(a["IdleWorkers"])

    def state(self) -> str:
        """What the board shows now: ``?auto`` and ``/json`` (for failures)."""
        return self.auto_text() + json.dumps(self.statuses(), indent=1)

    def stop(self):
        self.server.stop()


#: The statuses the middlewares write, exactly (the tower layer's).
BUSY = re.compile(r'\{"state":"busy","method":"GET","path":"[^"]*","client":"127\.0\.0\.1:\d+","requests":\d+\}')
IDLE = re.compile(r'\{"state":"idle","requests":\d+,"last_code":(\d+|null),"last_ms":\d+\.\d{3},'
                  r'"last_outcome":"(complete|aborted|cancelled|error)"\}')


def slots(statuses: dict) -> dict:
    """The request slots among ``statuses`` (``<pid>-<n>``), by id."""
    return {k: v for k, v in statuses.items() if re.fullmatch(r"\d+-\d+", k)}


def slot_pid(slot_id: str) -> int:
    return int(slot_id.split("-", 1)[0])


# -- HTTP clients ---------------------------------------------------------------

def http_get(port: int, path: str, timeout: float = DEADLINE):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class SlowRequests:
    """Requests to ``/slow/<token>`` held in flight until :meth:`release`
    opens their gate, each sent from a thread of its own."""

    def __init__(self, port: int, gate_dir: Path, n: int, prefix: str):
        self.gate_dir = gate_dir
        self.tokens = ["%s-%d" % (prefix, i) for i in range(n)]
        self.results: dict = {}
        self.threads = [threading.Thread(target=self._run, args=(port, t), daemon=True) for t in self.tokens]
        for t in self.threads:
            t.start()

    def _run(self, port, token):
        try:
            self.results[token] = http_get(port, "/slow/" + token)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.results[token] = e

    def release(self):
        for token in self.tokens:
            (self.gate_dir / token).touch()
        for t in self.threads:
            t.join(DEADLINE)
        return self.results


def raw_request(port: int, path: str) -> socket.socket:
    """A connection that has sent ``GET path`` and is left to the caller."""
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
    return s


def read_until(s: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before %r; got %r" % (marker, data))
        data += chunk
    return data


def python() -> str:
    return sys.executable
