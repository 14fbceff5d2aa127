"""The exceptions of parallel_scoreboard.

Every error of the library is a :class:`ScoreboardError`. Its ``kind`` says
what went wrong (one of the names below), ``path`` the file or directory
involved (or None) and, for a :class:`CorruptError`, ``reason`` why the entry
is not a readable status file (a token such as ``"bad_magic"``; the message
says it in words).

An error whose cause is an operating-system call is a
:class:`ScoreboardOSError`, which is an :class:`OSError` with ``errno``,
``strerror`` and ``filename`` set; it is also the builtin subclass of its
errno, as ``OSError(errno, ...)`` would be: ``EACCES`` raises an exception
that is both a ``ScoreboardOSError`` and a ``PermissionError``.
"""

from __future__ import annotations

import errno as _errno
import os as _os

__all__ = [
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


class ScoreboardError(Exception):
    """An error of the scoreboard.

    Attributes:
        kind: what went wrong: ``"io"``, ``"invalid_id"``, ``"duplicate_id"``,
            ``"forked"``, ``"corrupt"``, ``"unsettled"``, ``"contended"``,
            ``"too_large"``, ``"insecure"``, ``"read_only"`` or ``"missing"``.
        path: the file or directory involved, or None.
        reason: for ``"corrupt"``, why the entry is not a readable status
            file, as a token (``"bad_magic"``, ``"perl_status_file"``,
            ``"not_a_status_file_name"``, ...); None otherwise.
        message: the library's message (what ``str()`` gives).
    """

    kind: str = "other"
    path: str | None = None
    reason: str | None = None
    message: str = ""

    def __str__(self) -> str:
        return self.message or super().__str__()


class ScoreboardOSError(ScoreboardError, OSError):
    """An operating-system call failed: ``errno``, ``strerror`` and
    ``filename`` are set, as on any :class:`OSError`. Raised as the builtin
    subclass of its errno too (``PermissionError`` for ``EACCES``,
    ``NotADirectoryError`` for ``ENOTDIR``, ...)."""

    kind = "io"

    def __str__(self) -> str:
        if self.errno is not None:
            return f"{self.message}: [Errno {self.errno}] {self.strerror}"
        return self.message or OSError.__str__(self)


class InvalidIdError(ScoreboardError, ValueError):
    """The worker id is empty, longer than 255 bytes, or otherwise unusable."""

    kind = "invalid_id"


class DuplicateIdError(ScoreboardError):
    """Another live worker holds this id."""

    kind = "duplicate_id"


class ForkedError(ScoreboardError):
    """The Worker was inherited through ``os.fork()``: it belongs to the
    parent. Take a new one in the child (``board.worker()``), or use
    ``board.update()``, which makes the child's own entry."""

    kind = "forked"


class CorruptError(ScoreboardError):
    """A status file is malformed, or an entry of the board's directory is not
    a status file: ``reason`` says which way."""

    kind = "corrupt"


class UnsettledError(ScoreboardError):
    """A status kept changing while it was read; reported in
    ``Snapshot.skipped``, the next read tries again."""

    kind = "unsettled"


class ContendedError(ScoreboardError):
    """A new worker's file could not be published: other processes kept
    creating and removing files of the same id meanwhile."""

    kind = "contended"


class TooLargeError(ScoreboardError):
    """A status is too large to store (over 1 TiB)."""

    kind = "too_large"


class InsecureError(ScoreboardError):
    """The board's directory is another user's (and not shared with this
    process's group), or others may write to it."""

    kind = "insecure"


class ReadOnlyError(ScoreboardError):
    """This process only reads another user's board and tried to add a
    worker to it."""

    kind = "read_only"


class MissingError(ScoreboardOSError, FileNotFoundError):
    """No directory is at the board's path (removed, or not made yet); an
    OSError with errno ``ENOENT``."""

    kind = "missing"

    def __str__(self) -> str:
        return self.message


_BY_KIND: dict[str, type[ScoreboardError]] = {
    cls.kind: cls
    for cls in (
        InvalidIdError,
        DuplicateIdError,
        ForkedError,
        CorruptError,
        UnsettledError,
        ContendedError,
        TooLargeError,
        InsecureError,
        ReadOnlyError,
    )
}

# ScoreboardOSError mixed with each builtin OSError subclass an errno maps to.
_OS_CLASSES: dict[type[OSError], type[ScoreboardOSError]] = {}
for _base in (
    BlockingIOError,
    ChildProcessError,
    ConnectionError,
    BrokenPipeError,
    ConnectionAbortedError,
    ConnectionRefusedError,
    ConnectionResetError,
    FileExistsError,
    FileNotFoundError,
    InterruptedError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ProcessLookupError,
    TimeoutError,
):
    _cls = type(
        "Scoreboard" + _base.__name__,
        (ScoreboardOSError, _base),
        {
            "__doc__": f"A ScoreboardOSError that is a {_base.__name__}.",
            "__module__": __name__,
        },
    )
    globals()[_cls.__name__] = _cls
    _OS_CLASSES[_base] = _cls
del _base, _cls


def _make(
    kind: str,
    message: str,
    path: str | None,
    reason: str | None,
    reason_text: str | None,
    errno: int | None,
    os_message: str | None,
) -> ScoreboardError:
    """The exception for one error of the native module (called by it)."""
    exc: ScoreboardError
    if kind == "missing":
        exc = MissingError(_errno.ENOENT, _os.strerror(_errno.ENOENT), path)
    elif kind == "io":
        if errno is not None:
            builtin = type(OSError(errno, ""))
            cls = _OS_CLASSES.get(builtin, ScoreboardOSError)
            exc = cls(errno, _os.strerror(errno), path)
        else:
            exc = ScoreboardOSError(0, os_message or message, path)
            exc.errno = None
    else:
        exc = _BY_KIND.get(kind, ScoreboardError)(message)
        exc.kind = kind
    exc.message = message
    exc.path = path
    exc.reason = reason
    return exc
