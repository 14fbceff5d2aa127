"""A scoreboard for monitoring the status of many workers.

Every worker (a process of a pre-forking server, a thread, a task) publishes
its current status, any bytes, into a memory-mapped file of its own; a
monitor, in any process of the same user, reads the latest complete status
of every live worker. An update is a few stores into shared memory (no
system call); a worker that dies, even by SIGKILL, is gone from the next
read. The Python face of the Rust crate ``parallel-scoreboard``, the model
of Perl's Parallel::Scoreboard::

    import parallel_scoreboard as ps

    board = ps.Scoreboard("/dev/shm/my-server")
    board.update(b"idle")                 # this process's entry (its pid)
    with board.worker("acceptor-1") as me:
        me.update({"state": "busy", "path": "/"})   # stored as JSON
        print(board.read_all())           # {'12345': b'idle', 'acceptor-1': b'{"state":...}'}
        print(board.read_all_json())      # {'12345': b'idle', 'acceptor-1': {'state': 'busy', ...}}

See docs/python.md in the repository for the guide.
"""

from __future__ import annotations

from ._errors import (
    ContendedError,
    CorruptError,
    DuplicateIdError,
    ForkedError,
    InsecureError,
    InvalidIdError,
    MissingError,
    ReadOnlyError,
    ScoreboardError,
    ScoreboardOSError,
    TooLargeError,
    UnsettledError,
)
from ._native import Cleanup, Scoreboard, Snapshot, Worker, WorkerStatus

__version__ = "0.1.0"

__all__ = [
    "Scoreboard",
    "Worker",
    "Snapshot",
    "WorkerStatus",
    "Cleanup",
    "ScoreboardError",
    "ScoreboardOSError",
    "InvalidIdError",
    "DuplicateIdError",
    "ForkedError",
    "CorruptError",
    "UnsettledError",
    "ContendedError",
    "TooLargeError",
    "InsecureError",
    "ReadOnlyError",
    "MissingError",
]
