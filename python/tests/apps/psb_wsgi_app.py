"""The WSGI application the server tests run under gunicorn.

Paths: ``/`` answers at once; ``/slow/<token>`` answers once the file
``$GATE_DIR/<token>`` exists (the test makes it), so a test holds requests in
flight for exactly as long as it needs them; ``/fail`` raises. With
``WRAP_IN_APP=1`` the module wraps itself in the scoreboard middleware at
import (with ``--preload``, in gunicorn's master); otherwise gunicorn.conf.py
wraps it in each worker.
"""

import os
import time

from parallel_scoreboard.wsgi import ScoreboardMiddleware

GATE_DIR = os.environ.get("GATE_DIR", "/nonexistent")
# A gate never opened ends the request anyway, so that nothing hangs.
GATE_TIMEOUT = 60.0


def wait_for_gate(token: str) -> bool:
    path = os.path.join(GATE_DIR, token)
    deadline = time.monotonic() + GATE_TIMEOUT
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path.startswith("/slow/"):
        opened = wait_for_gate(path[len("/slow/"):])
        body = b"released\n" if opened else b"gate timed out\n"
        start_response("200 OK" if opened else "504 Gateway Timeout",
                       [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/fail":
        raise RuntimeError("failing on purpose")
    body = b"hello\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


if os.environ.get("WRAP_IN_APP") == "1":
    app = ScoreboardMiddleware(app, os.environ["SCOREBOARD_DIR"])
