"""The ASGI application the server tests run under uvicorn, wrapped in the
scoreboard middleware (board: ``$SCOREBOARD_DIR``; ``WRAP_IN_APP=0``: not).

Paths: ``/`` answers at once; ``/slow/<token>`` answers once the file
``$GATE_DIR/<token>`` exists; ``/stream/<token>`` sends a first chunk at once
and the last one once the gate opens; ``/forever`` streams a chunk every
20 ms until the client disconnects, listening for it as streaming frameworks
do; ``/hold`` waits for the client to disconnect before any response.
"""

import asyncio
import os
import time

from parallel_scoreboard.asgi import ScoreboardMiddleware

GATE_DIR = os.environ.get("GATE_DIR", "/nonexistent")
GATE_TIMEOUT = 60.0


async def wait_for_gate(token: str) -> bool:
    path = os.path.join(GATE_DIR, token)
    deadline = time.monotonic() + GATE_TIMEOUT
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def start(send, status=200):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")]})


async def forever(receive, send):
    await start(send)

    async def stream():
        n = 0
        while True:
            n += 1
            await send({"type": "http.response.body", "body": b"chunk %d\n" % n, "more_body": True})
            await asyncio.sleep(0.02)

    streamer = asyncio.ensure_future(stream())
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    finally:
        streamer.cancel()


async def inner(scope, receive, send):
    assert scope["type"] == "http"
    path = scope["path"]
    if path.startswith("/slow/"):
        opened = await wait_for_gate(path[len("/slow/"):])
        await start(send, 200 if opened else 504)
        await send({"type": "http.response.body", "body": b"released\n"})
    elif path.startswith("/stream/"):
        await start(send)
        await send({"type": "http.response.body", "body": b"first\n", "more_body": True})
        await wait_for_gate(path[len("/stream/"):])
        await send({"type": "http.response.body", "body": b"last\n", "more_body": False})
    elif path == "/forever":
        await forever(receive, send)
    elif path == "/hold":
        while (await receive())["type"] != "http.disconnect":
            pass
    else:
        await start(send)
        await send({"type": "http.response.body", "body": b"hello\n"})


# WRAP_IN_APP=0: the bare application (for timing it against the wrapped).
if os.environ.get("WRAP_IN_APP", "1") == "0":
    app = inner
else:
    app = ScoreboardMiddleware(inner, os.environ["SCOREBOARD_DIR"])
