"""ASGI middleware: every HTTP request in flight holds a slot of a board.

::

    from parallel_scoreboard.asgi import ScoreboardMiddleware
    app = ScoreboardMiddleware(app, "/dev/shm/myapp")

For uvicorn and any ASGI 3 server. Each ``http`` request takes a slot (a
worker of the board named ``<pid>-<n>``, reused by later requests) and shows
``{"state":"busy","method":"GET","path":"/a","client":"127.0.0.1:50114","requests":3}``
until its response has ended, then
``{"state":"idle","requests":3,"last_code":200,"last_ms":1.204,"last_outcome":"complete"}``:
the statuses of the Rust tower layer, so ``scoreboard serve DIR`` counts the
requests of Python and Rust servers alike.

A response ends, and ``last_outcome`` says how:

- ``complete``: the last ``http.response.body`` (or ``zerocopysend``;
  ``more_body`` false) was sent, or the last ``http.response.trailers`` when
  the response announced trailers, or an ``http.response.pathsend``. A streamed response keeps its
  slot busy until then.
- ``cancelled``: the client disconnected (``http.disconnect`` received by the
  application) before the response started, or the application's task was
  cancelled then; ``last_code`` is ``null``.
- ``aborted``: the same after the response started, or ``send`` raised (a
  server that reports a gone client that way).
- ``error``: the application raised, or returned without finishing its
  response.

A disconnect is seen when the application receives it (as streaming
frameworks do, listening for it while they send); an application that never
calls ``receive`` keeps its slot busy until it stops sending, which is as
long as it works on the request.

Only ``http`` scopes hold slots: ``lifespan`` and ``websocket`` scopes go to
the application untouched (a websocket is a connection, not a request, and
would show busy for as long as it is open).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._slots import DEFAULT_MAX_IDLE, PathLike, SlotPool, _Slot, slot_pool

#: ASGI 3's scope, messages, receive, send and application.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Application = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["DEFAULT_MAX_IDLE", "ScoreboardMiddleware", "SlotPool", "slot_pool"]


def request_path(scope: Scope) -> str:
    """The request's path as it came (``raw_path``, percent-encoded, without
    the query), else the decoded ``path``."""
    raw: bytes | None = scope.get("raw_path")
    if raw:
        q = raw.find(b"?")
        if q >= 0:
            raw = raw[:q]
        return raw.decode("utf-8", "replace")
    path: str = scope.get("path") or "/"
    return path


class _Cycle:
    """One request's hold on its slot, between the application and the
    server's ``receive`` and ``send``."""

    __slots__ = ("_pool", "_slot", "_receive", "_send", "code", "_trailers")

    def __init__(self, pool: SlotPool, slot: _Slot, receive: Receive, send: Send) -> None:
        self._pool = pool
        self._slot: _Slot | None = slot
        self._receive = receive
        self._send = send
        self.code: int | None = None
        self._trailers = False

    def end(self, outcome: str) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            self._pool.end(slot, self.code, outcome)

    def stopped(self) -> str:
        """How a request that stops now, unfinished, ended."""
        return "cancelled" if self.code is None else "aborted"

    async def receive(self) -> Message:
        message = await self._receive()
        if self._slot is not None and message["type"] == "http.disconnect":
            self.end(self.stopped())
        return message

    async def send(self, message: Message) -> None:
        if self._slot is None:
            return await self._send(message)
        kind = message["type"]
        last = False
        if kind == "http.response.start":
            self.code = message.get("status")
            self._trailers = bool(message.get("trailers", False))
        elif kind == "http.response.body" or kind == "http.response.zerocopysend":
            last = not self._trailers and not message.get("more_body", False)
        elif kind == "http.response.trailers":
            last = not message.get("more_trailers", False)
        elif kind == "http.response.pathsend":
            last = True
        try:
            await self._send(message)
        except (OSError, asyncio.CancelledError):
            # The server reports the client gone (uvicorn's
            # ClientDisconnected is an OSError).
            self.end(self.stopped())
            raise
        except BaseException:
            self.end("error")
            raise
        if last:
            self.end("complete")


class ScoreboardMiddleware:
    """Wraps the ASGI 3 application ``app``: each HTTP request in flight
    holds a slot of the board in ``base_dir``. ``prefix``, ``max_idle`` and
    ``max_slots`` are those of :class:`parallel_scoreboard.wsgi.ScoreboardMiddleware`.
    Making the middleware opens nothing: the first request a process serves
    opens the board.
    """

    def __init__(self, app: Application, base_dir: PathLike, *, prefix: str | None = None,
                 max_idle: int | None = None, max_slots: int | None = None) -> None:
        self.app = app
        self.pool = slot_pool(base_dir, prefix=prefix, max_idle=max_idle, max_slots=max_slots)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client = scope.get("client") or (None, None)
        slot = self.pool.start(scope.get("method") or "GET", request_path(scope), client[0], client[1])
        if slot is None:
            return await self.app(scope, receive, send)
        cycle = _Cycle(self.pool, slot, receive, send)
        try:
            await self.app(scope, cycle.receive, cycle.send)
        except asyncio.CancelledError:
            cycle.end(cycle.stopped())
            raise
        except BaseException:
            cycle.end("error")
            raise
        # Returned without finishing its response (the server answers 500,
        # or cuts the response short).
        cycle.end("error")
