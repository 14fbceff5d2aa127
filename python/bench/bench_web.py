"""Per-request cost of the WSGI and ASGI middlewares, side by side in one run.

Each application is called as a server calls it (WSGI: call, iterate,
close; ASGI: await with a receive and a send that do nothing), in a loop,
bare and wrapped, in alternating rounds; the figure for each is the best
round's time per request, and the middleware's cost is the difference.
Also timed: the two status updates a request makes, alone (the part of the
cost that is the board's).

    python python/bench/bench_web.py [--requests N] [--rounds R]

With ``--only NAME`` it runs one loop once, for counting instructions per
request, which the machine's load does not change: the difference of
callgrind's totals for two request counts, divided by their difference::

    for n in 2000 12000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python python/bench/bench_web.py --only wsgi --requests $n 2>&1 | grep Collected; done
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import tempfile
import time

from parallel_scoreboard import Scoreboard
from parallel_scoreboard.asgi import ScoreboardMiddleware as AsgiMiddleware
from parallel_scoreboard.wsgi import ScoreboardMiddleware as WsgiMiddleware

ENVIRON = {
    "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/index.html",
    "RAW_URI": "/index.html", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50114",
    "wsgi.input": io.BytesIO(),
}
SCOPE = {
    "type": "http", "method": "GET", "path": "/index.html", "raw_path": b"/index.html",
    "client": ("127.0.0.1", 50114), "headers": [], "query_string": b"",
}
START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
BODY = {"type": "http.response.body", "body": b"hello"}
REQUEST = {"type": "http.request", "body": b"", "more_body": False}


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def start_response(status, headers, exc_info=None):
    return None


def wsgi_loop(app, n: int) -> float:
    env = ENVIRON
    t = time.perf_counter_ns()
    for _ in range(n):
        result = app(env, start_response)
        for _chunk in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return (time.perf_counter_ns() - t) / n


async def asgi_app(scope, receive, send):
    await receive()
    await send(START)
    await send(BODY)


async def receive():
    return REQUEST


async def send(message):
    return None


async def asgi_loop_async(app, n: int) -> float:
    scope = SCOPE
    t = time.perf_counter_ns()
    for _ in range(n):
        await app(scope, receive, send)
    return (time.perf_counter_ns() - t) / n


def updates_loop(worker, n: int) -> float:
    busy = '{"state":"busy","method":"GET","path":"/index.html","client":"127.0.0.1:50114","requests":1}'
    idle = '{"state":"idle","requests":1,"last_code":200,"last_ms":0.012,"last_outcome":"complete"}'
    t = time.perf_counter_ns()
    for _ in range(n):
        worker.update(busy)
        worker.update(idle)
    return (time.perf_counter_ns() - t) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", choices=["wsgi-bare", "wsgi", "asgi-bare", "asgi"],
                        help="run one loop once (after a warm-up of 1000 requests), for an "
                             "instruction count under valgrind --tool=callgrind")
    args = parser.parse_args()
    if args.only:
        return only(args.only, args.requests)
    tmp = tempfile.mkdtemp(prefix="psb-bench-web-", dir="/dev/shm")
    try:
        wsgi = WsgiMiddleware(wsgi_app, tmp + "/wsgi")
        asgi = AsgiMiddleware(asgi_app, tmp + "/asgi")
        board = Scoreboard(tmp + "/raw")
        worker = board.worker("raw")
        loop = asyncio.new_event_loop()
        best: dict = {}
        for _ in range(args.rounds):
            for name, run in (
                ("wsgi bare", lambda: wsgi_loop(wsgi_app, args.requests)),
                ("wsgi middleware", lambda: wsgi_loop(wsgi, args.requests)),
                ("asgi bare", lambda: loop.run_until_complete(asgi_loop_async(asgi_app, args.requests))),
                ("asgi middleware", lambda: loop.run_until_complete(asgi_loop_async(asgi, args.requests))),
                ("two updates", lambda: updates_loop(worker, args.requests)),
            ):
                ns = run()
                best[name] = min(best.get(name, ns), ns)
        loop.close()
        for name, ns in best.items():
            print("%-16s %8.0f ns/request" % (name, ns))
        print("WSGI middleware cost: %.0f ns/request (of which the two updates %.0f)"
              % (best["wsgi middleware"] - best["wsgi bare"], best["two updates"]))
        print("ASGI middleware cost: %.0f ns/request (of which the two updates %.0f)"
              % (best["asgi middleware"] - best["asgi bare"], best["two updates"]))
        wsgi.pool.close()
        asgi.pool.close()
        worker.close()
        board.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def only(name: str, n: int) -> None:
    tmp = tempfile.mkdtemp(prefix="psb-bench-web-", dir="/dev/shm")
    try:
        wsgi = WsgiMiddleware(wsgi_app, tmp + "/wsgi")
        asgi = AsgiMiddleware(asgi_app, tmp + "/asgi")
        loop = asyncio.new_event_loop()
        run = {
            "wsgi-bare": lambda k: wsgi_loop(wsgi_app, k),
            "wsgi": lambda k: wsgi_loop(wsgi, k),
            "asgi-bare": lambda k: loop.run_until_complete(asgi_loop_async(asgi_app, k)),
            "asgi": lambda k: loop.run_until_complete(asgi_loop_async(asgi, k)),
        }[name]
        run(1000)
        print("%s: %.0f ns/request" % (name, run(n)))
        loop.close()
        wsgi.pool.close()
        asgi.pool.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
