"""The ASGI middleware driven as a server drives it, over a real board: the
exact statuses, streamed responses, disconnects, cancellations, errors, and
scopes other than http passed through."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from parallel_scoreboard import Scoreboard, _slots
from parallel_scoreboard.asgi import ScoreboardMiddleware


def statuses(board_dir) -> dict:
    with Scoreboard(board_dir) as reader:
        return {k: json.loads(v) for k, v in reader.read_all().items()}


def scope(path="/a", method="GET", **extra):
    s = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
         "path": path, "raw_path": path.encode(), "query_string": b"", "headers": [],
         "client": ("127.0.0.1", 50114), "server": ("127.0.0.1", 8000)}
    s.update(extra)
    return s


class Peer:
    """The server's side of one request: messages the application receives,
    and what it sent."""

    def __init__(self):
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.incoming.put_nowait({"type": "http.request", "body": b"", "more_body": False})
        self.sent = []
        self.fail_send = None

    async def receive(self):
        return await self.incoming.get()

    async def send(self, message):
        if self.fail_send is not None:
            raise self.fail_send
        self.sent.append(message)


@pytest.fixture
def mw(board_dir):
    made = []

    def make(app, **options):
        m = ScoreboardMiddleware(app, board_dir, **options)
        made.append(m)
        return m

    yield make
    for m in made:
        m.pool.close()
    _slots._REGISTRY.clear()


def me(n=1):
    return "%d-%d" % (os.getpid(), n)


def test_a_streamed_response_is_busy_until_its_last_chunk(mw, board_dir):
    async def main():
        gate = asyncio.Event()
        seen = {}

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
            seen["mid"] = statuses(board_dir)[me()]
            await gate.wait()
            await send({"type": "http.response.body", "body": b"b"})
            seen["end"] = statuses(board_dir)[me()]

        m = mw(app)
        assert m.pool.board is None
        peer = Peer()
        task = asyncio.ensure_future(m(scope('/s"1'), peer.receive, peer.send))
        while "mid" not in seen:
            await asyncio.sleep(0)
        gate.set()
        await task
        return seen

    seen = asyncio.run(main())
    assert seen["mid"] == {"state": "busy", "method": "GET", "path": '/s"1',
                           "client": "127.0.0.1:50114", "requests": 1}
    end = seen["end"]
    assert list(end) == ["state", "requests", "last_code", "last_ms", "last_outcome"]
    assert (end["state"], end["last_code"], end["last_outcome"]) == ("idle", 201, "complete")


def test_disconnects_cancellations_and_errors(mw, board_dir):
    async def streamer(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass

    async def holder(scope, receive, send):
        while (await receive())["type"] != "http.disconnect":
            pass

    async def failing(scope, receive, send):
        raise RuntimeError("boom")

    async def silent(scope, receive, send):
        return None

    async def sender(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})

    async def one(app, disconnect=False, fail_send=None, cancel=False):
        peer = Peer()
        if disconnect:
            peer.incoming.put_nowait({"type": "http.disconnect"})
        peer.fail_send = fail_send
        task = asyncio.ensure_future(app(scope(), peer.receive, peer.send))
        if cancel:
            await asyncio.sleep(0.01)
            task.cancel()
        try:
            await task
        except (Exception, asyncio.CancelledError) as e:
            return type(e).__name__
        return None

    async def main():
        results = []
        for app, kw in ((streamer, {"disconnect": True}), (holder, {"disconnect": True}),
                        (failing, {}), (silent, {}), (sender, {"fail_send": ConnectionResetError()}),
                        (holder, {"cancel": True})):
            raised = await one(mw(app), **kw)
            status = statuses(board_dir)[me()]
            results.append((raised, status["last_code"], status["last_outcome"], status["requests"]))
        return results

    assert asyncio.run(main()) == [
        (None, 200, "aborted", 1),
        (None, None, "cancelled", 2),
        ("RuntimeError", None, "error", 3),
        (None, None, "error", 4),
        ("ConnectionResetError", 200, "aborted", 5),
        ("CancelledError", None, "cancelled", 6),
    ]


def test_trailers_and_pathsend_end_the_response(mw, board_dir):
    async def trailers(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"x"})
        assert statuses(board_dir)[me()]["state"] == "busy"
        await send({"type": "http.response.trailers", "headers": [], "more_trailers": False})
        assert statuses(board_dir)[me()]["last_outcome"] == "complete"

    async def pathsend(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": "/etc/hostname"})
        assert statuses(board_dir)[me()]["last_outcome"] == "complete"

    async def main():
        for app in (trailers, pathsend):
            peer = Peer()
            await mw(app)(scope(), peer.receive, peer.send)

    asyncio.run(main())
    assert statuses(board_dir)[me()]["requests"] == 2


def test_other_scopes_pass_through_and_requests_in_flight_take_slots(mw, board_dir):
    calls = []

    async def app(scope, receive, send):
        calls.append(scope["type"])
        if scope["type"] == "http":
            await asyncio.sleep(0.05)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    async def main():
        m = mw(app)
        await m({"type": "lifespan"}, None, None)
        await m({"type": "websocket", "path": "/ws"}, None, None)
        assert m.pool.slots() == (0, 0)
        peers = [Peer() for _ in range(3)]
        await asyncio.gather(*(m(scope("/%d" % i), p.receive, p.send) for i, p in enumerate(peers)))
        return m.pool.slots()

    assert asyncio.run(main()) == (3, 3)
    assert calls == ["lifespan", "websocket", "http", "http", "http"]
    assert sorted(statuses(board_dir)) == sorted(me(n) for n in (1, 2, 3))
