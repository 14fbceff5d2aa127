"""gunicorn configuration: every worker, and the master, on a scoreboard.

    SCOREBOARD_DIR=/dev/shm/myapp gunicorn -c gunicorn.conf.py myapp:app
    scoreboard serve /dev/shm/myapp        # the page, ?auto, /json, /metrics

What it does (docs/python.md, "gunicorn"):

- Each worker process, as soon as it is forked (``post_fork``), shows one slot
  idle, so a worker that has not served yet is on the board.
- Once the worker has loaded the application (``post_worker_init``), the
  application is wrapped in ``parallel_scoreboard.wsgi.ScoreboardMiddleware``
  unless it is one already (an application that wraps itself, with or
  without ``--preload``; ``SCOREBOARD_WRAP=0`` when it wraps an inner part,
  as Flask's ``app.wsgi_app``): every request in flight then holds a slot
  (``<pid>-<n>``; a sync worker has one, a gthread worker one per request in
  flight). The application needs no change.
- The master (the arbiter) shows itself as ``master-<pid>``:
  ``{"state":"master","pid":...,"workers":N,"spawned":S,"exited":E}``, where
  ``workers`` is the number of workers it keeps (``--workers``, changed by
  TTIN/TTOU), ``spawned`` and ``exited`` count worker processes started and
  gone since it started. It updates it when it is ready, at each fork, each
  worker exit, each change of the number of workers and each reload.

A worker that dies, however (even SIGKILL), is gone from the next read of the
board, and the worker gunicorn starts in its place shows up idle at once.
"""

import json
import os

from parallel_scoreboard import Scoreboard
from parallel_scoreboard.wsgi import ScoreboardMiddleware, slot_pool

scoreboard_dir = os.environ.get("SCOREBOARD_DIR", "/dev/shm/gunicorn-scoreboard")


def post_fork(server, worker):
    # In the worker, before the application is loaded: one slot, idle. The
    # middleware of this process takes it for its first request.
    slot_pool(scoreboard_dir).ready()


# SCOREBOARD_WRAP=0: the application wraps itself somewhere this file cannot
# see (Flask's `app.wsgi_app = ScoreboardMiddleware(app.wsgi_app, ...)`).
wrap_application = os.environ.get("SCOREBOARD_WRAP", "1") != "0"


def post_worker_init(worker):
    if wrap_application and not isinstance(worker.wsgi, ScoreboardMiddleware):
        worker.wsgi = ScoreboardMiddleware(worker.wsgi, scoreboard_dir)


class _Master:
    """The master's entry. Kept on the arbiter, which outlives a reload
    (a reload runs this file again)."""

    def __init__(self):
        self.board = Scoreboard(scoreboard_dir)
        self.worker = self.board.worker("master-%d" % os.getpid())
        self.spawned = 0
        self.exited = 0

    def publish(self, server):
        self.worker.update(json.dumps({
            "state": "master",
            "pid": os.getpid(),
            "workers": server.num_workers,
            "spawned": self.spawned,
            "exited": self.exited,
        }, separators=(",", ":")))


def _master(server) -> _Master:
    master = getattr(server, "scoreboard_master", None)
    if master is None:
        master = server.scoreboard_master = _Master()
    return master


def when_ready(server):
    _master(server).publish(server)


def pre_fork(server, worker):
    # In the master, just before the fork.
    master = _master(server)
    master.spawned += 1
    master.publish(server)


def child_exit(server, worker):
    master = _master(server)
    master.exited += 1
    master.publish(server)


def nworkers_changed(server, new_value, old_value):
    # Called from the arbiter's constructor too, before when_ready.
    if getattr(server, "scoreboard_master", None) is not None:
        server.scoreboard_master.publish(server)


def on_reload(server):
    _master(server).publish(server)


def on_exit(server):
    master = getattr(server, "scoreboard_master", None)
    if master is not None:
        master.worker.close()
