"""WSGI middleware: every request in flight holds a slot of a board.

::

    from parallel_scoreboard.wsgi import ScoreboardMiddleware
    app = ScoreboardMiddleware(app, "/dev/shm/myapp")

While a request runs its slot shows
``{"state":"busy","method":"GET","path":"/a","client":"127.0.0.1:50114","requests":3}``
and once the server has closed the response iterable (PEP 3333's ``close()``)
``{"state":"idle","requests":3,"last_code":200,"last_ms":1.204,"last_outcome":"complete"}``:
the statuses of the Rust tower layer, so ``scoreboard serve DIR`` counts
Python workers busy and idle as it counts Rust ones. ``last_outcome`` is
``complete`` (the iterable was exhausted), ``aborted`` (closed before its end:
the client went away), or ``error`` (the application or the iteration raised;
``last_code`` is ``null`` when the application raised before returning a
response). A sync worker holds one slot; a threaded one (gunicorn's
``gthread``) a slot per request in flight, reused. Slots are per process and
made in the process that serves (see :mod:`parallel_scoreboard._slots` for
the rules, forks included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ._slots import DEFAULT_MAX_IDLE, PathLike, SlotPool, _Slot, slot_pool

#: PEP 3333's environ, start_response and application.
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
Application = Callable[[Environ, StartResponse], Iterable[bytes]]

__all__ = ["DEFAULT_MAX_IDLE", "ScoreboardMiddleware", "SlotPool", "slot_pool"]


def request_path(environ: Environ) -> str:
    """The request's path as it came (percent-encoded, without the query),
    as the tower layer shows it: gunicorn's ``RAW_URI`` or the common
    ``REQUEST_URI``, else ``SCRIPT_NAME + PATH_INFO``."""
    path: str = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if path:
        if "?" in path:
            path = path[:path.index("?")]
        if path[:1] != "/":
            path = _origin_form(path)
    else:
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if not path.isascii():
        # WSGI strings are bytes as latin-1 (PEP 3333).
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    return path


def _origin_form(target: str) -> str:
    """The path of an absolute-form target (``http://host/p``)."""
    scheme = target.find("://")
    if scheme < 0:
        return target
    start = target.find("/", scheme + 3)
    return target[start:] if start >= 0 else "/"


class _Response:
    """The response iterable handed to the server: it forwards the
    application's chunks and ends the request's slot at ``close()``."""

    __slots__ = ("_pool", "_slot", "_start_response", "_result", "code", "_outcome", "_iter")

    _iter: Iterator[bytes]

    def __init__(self, pool: SlotPool, slot: _Slot, start_response: StartResponse) -> None:
        self._pool = pool
        self._slot: _Slot | None = slot
        self._start_response = start_response
        self._result: Iterable[bytes] = ()
        self.code: int | None = None
        # Until the iterable is exhausted, a close is an abort.
        self._outcome = "aborted"

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        try:
            self.code = int(status[:3])
        except (TypeError, ValueError):
            self.code = None
        if exc_info is None:
            return self._start_response(status, headers)
        return self._start_response(status, headers, exc_info)

    def __iter__(self) -> Iterator[bytes]:
        # A generator: the server's loop runs at C speed, and a loop that
        # stops early (a client gone) is seen at close().
        try:
            yield from self._result
        except GeneratorExit:
            raise
        except BaseException:
            self._outcome = "error"
            raise
        self._outcome = "complete"

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        except BaseException:
            self._outcome = "error"
            raise
        finally:
            self._end(self._outcome)

    def _end(self, outcome: str) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            self._pool.end(slot, self.code, outcome)

    def __del__(self) -> None:
        # A server that drops the iterable without closing it (against PEP
        # 3333) still gets the slot back.
        if self._slot is not None:
            self._end("aborted")


class _SizedResponse(_Response):
    """A response over a list or tuple: iterated by the list's own iterator
    (no generator), whose length left says at ``close()`` whether the body
    was sent to its end. Servers may ask its length (wsgiref sets
    Content-Length from a one-chunk body)."""

    __slots__ = ()

    def __iter__(self) -> Iterator[bytes]:
        self._iter = it = iter(self._result)
        return it

    def __len__(self) -> int:
        return len(self._result)  # type: ignore[arg-type]  # a list or tuple

    def close(self) -> None:
        it: Any = getattr(self, "_iter", None)
        self._end("complete" if it is not None and it.__length_hint__() == 0 else "aborted")


class ScoreboardMiddleware:
    """Wraps the WSGI application ``app``: each request in flight holds a
    slot of the board in ``base_dir``.

    ``prefix`` names the slots (``<prefix><n>``; by default ``<pid>-``, and
    ``{pid}`` in a prefix is replaced by the process id); ``max_idle`` idle
    slots stay on the board (32 by default; more are released, their files
    removed; 0 keeps only requests in flight); ``max_slots`` caps the slots
    (by default an eighth of the descriptor limit): a request beyond the cap
    is served without a slot and counted (``"unrecorded"`` in idle statuses).
    Making the middleware opens nothing: the board is opened, and slots made,
    by the first request a process serves (so it may be made before a server
    forks its workers). Middlewares of one process with the same board and
    prefix share their slots (:func:`slot_pool`).
    """

    def __init__(self, app: Application, base_dir: PathLike, *, prefix: str | None = None,
                 max_idle: int | None = None, max_slots: int | None = None) -> None:
        self.app = app
        self.pool = slot_pool(base_dir, prefix=prefix, max_idle=max_idle, max_slots=max_slots)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        pool = self.pool
        slot = pool.start(
            environ.get("REQUEST_METHOD") or "GET",
            request_path(environ),
            environ.get("REMOTE_ADDR"),
            environ.get("REMOTE_PORT"),
        )
        if slot is None:
            return self.app(environ, start_response)
        response = _Response(pool, slot, start_response)
        try:
            result = self.app(environ, response.start_response)
        except BaseException:
            # No response iterable: no response was made.
            response.code = None
            response._end("error")
            raise
        kind = type(result)
        if kind is list or kind is tuple:
            response.__class__ = _SizedResponse
        else:
            wrapper = environ.get("wsgi.file_wrapper")
            if wrapper is not None and isinstance(wrapper, type) and isinstance(result, wrapper):
                return _file_response(response, result)
        response._result = result
        return response


def _file_response(response: _Response, result: Any) -> Iterable[bytes]:
    """A ``wsgi.file_wrapper`` response is returned as it is, so the server
    can still send it with ``sendfile``; its ``close`` (which servers call
    after sending it) ends the request, ``complete`` unless closing raises."""
    inner = getattr(result, "close", None)

    def close() -> None:
        try:
            if inner is not None:
                inner()
        except BaseException:
            response._end("error")
            raise
        response._end("complete")

    try:
        result.close = close
    except AttributeError:
        # A wrapper that takes no attribute: iterated through ours instead.
        response._result = result
        return response
    sent: Iterable[bytes] = result
    return sent
