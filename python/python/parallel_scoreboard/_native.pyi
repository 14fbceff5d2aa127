"""Type stubs of the native module (re-exported by ``parallel_scoreboard``)."""

import os
from collections.abc import Callable
from types import TracebackType
from typing import Any, final

from typing_extensions import Buffer, Self

from ._errors import ScoreboardError

#: What ``update`` accepts: bytes-like objects are stored as they are, ``str``
#: as UTF-8, ``dict`` and ``list`` as compact JSON.
_Status = Buffer | str | dict[str, Any] | list[Any]

__all__ = ["Scoreboard", "Worker", "Snapshot", "WorkerStatus", "Cleanup"]

@final
class Scoreboard:
    """A scoreboard: a directory of per-worker status files.

    ``worker_id``, a callable returning a ``str`` (or an ``int``), names the
    calling worker for ``update()`` and ``worker()``; by default the id is the
    process id (the child's own after ``os.fork()``).
    """

    def __new__(
        cls,
        base_dir: str | os.PathLike[str],
        worker_id: Callable[[], str | int] | None = None,
    ) -> Self: ...
    @property
    def base_dir(self) -> str:
        """The directory holding the status files."""
    def update(self, status: _Status) -> None:
        """Publishes ``status`` for the calling worker, making its entry on first use."""
    def worker(self, id: str | None = None) -> Worker:
        """A Worker for ``id``, or for the calling worker's id when None."""
    def read_all(self) -> dict[str, bytes]:
        """``{id: status}`` of every live worker that has a status."""
    def read_all_json(self) -> dict[str, Any]:
        """As ``read_all()``, JSON statuses decoded; others left as ``bytes``."""
    def snapshot(self) -> Snapshot:
        """Every live worker with its pid, update count and times; what was skipped."""
    def cleanup(self) -> Cleanup:
        """Removes the files of dead workers."""
    def close(self) -> None:
        """Removes the entries ``update()`` made; idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        ty: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

@final
class Worker:
    """A worker's own slot on a board: the hot path for updates."""

    @property
    def id(self) -> str:
        """The worker's id."""
    @property
    def path(self) -> str:
        """The path of the worker's status file."""
    @property
    def updates(self) -> int:
        """How many updates this worker has made."""
    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
    def update(self, status: _Status) -> None:
        """Publishes ``status`` as this worker's current status."""
    def close(self) -> None:
        """Removes this worker's file; idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        ty: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

@final
class WorkerStatus:
    """One live worker's status and what is known about it."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> bytes: ...
    @property
    def pid(self) -> int: ...
    @property
    def updates(self) -> int: ...
    @property
    def updated_at(self) -> float:
        """When the latest update was made, in seconds since the epoch."""
    @property
    def started_at(self) -> float:
        """When the worker started, in seconds since the epoch."""
    def json(self) -> Any:
        """The status decoded as JSON; ValueError when it is not JSON."""

@final
class Snapshot:
    """The live workers of a read, what it skipped and what it removed."""

    @property
    def workers(self) -> list[WorkerStatus]: ...
    @property
    def skipped(self) -> list[ScoreboardError]: ...
    @property
    def removed(self) -> int: ...

@final
class Cleanup:
    """What ``Scoreboard.cleanup()`` removed and could not remove."""

    @property
    def removed(self) -> int: ...
    @property
    def failed(self) -> list[ScoreboardError]: ...
