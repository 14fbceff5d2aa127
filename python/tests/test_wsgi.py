"""The WSGI middleware called as a server calls it, over a real board: the
exact statuses, how a request ends (complete, aborted, error), slots per
request in flight and their reuse, forks, file responses."""

from __future__ import annotations

import io
import json
import os
import time

import pytest
from parallel_scoreboard import Scoreboard, _slots
from parallel_scoreboard.wsgi import ScoreboardMiddleware, slot_pool


def environ(path="/a", method="GET", **extra):
    env = {"REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path,
           "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50114", "wsgi.input": io.BytesIO()}
    env.update(extra)
    return env


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def statuses(board_dir) -> dict:
    with Scoreboard(board_dir) as reader:
        return {k: v.decode() for k, v in reader.read_all().items()}


@pytest.fixture
def mw(board_dir):
    """A middleware factory whose pools are closed after the test."""
    made = []

    def make(app=hello, **options):
        m = ScoreboardMiddleware(app, board_dir, **options)
        made.append(m)
        return m

    yield make
    for m in made:
        m.pool.close()
    _slots._REGISTRY.clear()


def serve(app, env):
    """What a server does: call, iterate, close. Returns the body."""
    started = []
    result = app(env, lambda status, headers, exc_info=None: started.append(status))
    try:
        return b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()


def test_busy_then_idle_in_the_tower_layer_format(mw, board_dir):
    pid = os.getpid()
    seen = {}

    def app(environ, start_response):
        seen["busy"] = statuses(board_dir)
        start_response("404 Not Found", [])
        return [b"no"]

    m = mw(app)
    # Nothing is opened or made before the first request.
    assert m.pool.board is None and m.pool.slots() == (0, 0)
    assert serve(m, environ("/a")) == b"no"
    assert seen["busy"] == {
        "%d-1" % pid: '{"state":"busy","method":"GET","path":"/a","client":"127.0.0.1:50114","requests":1}'
    }
    idle = statuses(board_dir)["%d-1" % pid]
    prefix = '{"state":"idle","requests":1,"last_code":404,"last_ms":'
    assert idle.startswith(prefix) and idle.endswith(',"last_outcome":"complete"}'), idle
    ms = idle[len(prefix):-len(',"last_outcome":"complete"}')]
    whole, _, frac = ms.partition(".")
    assert whole.isdigit() and len(frac) == 3 and frac.isdigit(), idle
    assert json.loads(idle)["last_ms"] < 60_000

    serve(m, environ("/b", method="POST", REMOTE_ADDR="::1", REMOTE_PORT="8080"))
    assert json.loads(statuses(board_dir)["%d-1" % pid])["requests"] == 2
    assert m.pool.slots() == (1, 1)


def test_paths_methods_and_clients_are_escaped_and_cut(mw, board_dir):
    seen = []

    def app(environ, start_response):
        seen.append(statuses(board_dir)["%d-1" % os.getpid()])
        start_response("200 OK", [])
        return []

    m = mw(app)
    # WSGI strings are latin-1 bytes: "é" arrives as "\xc3\xa9".
    serve(m, environ('/a"b\\c\x01\x7f' + "é".encode().decode("latin-1"), method="BREW",
                     REMOTE_ADDR="::1", REMOTE_PORT="8080"))
    assert seen[-1] == ('{"state":"busy","method":"BREW","path":"/a\\"b\\\\c\\u0001\\u007fé",'
                        '"client":"[::1]:8080","requests":1}')
    # gunicorn's RAW_URI (as sent, query cut) wins over PATH_INFO.
    serve(m, environ("/decoded path", RAW_URI="/raw%20path?secret=1", REMOTE_ADDR=""))
    assert '"path":"/raw%20path","client":null,' in seen[-1]
    serve(m, environ("/x", REQUEST_URI="http://example.com/abs?q"))
    assert '"path":"/abs",' in seen[-1]
    long = "/" + "é" * 1024
    serve(m, environ(long.encode().decode("latin-1")))
    path = json.loads(seen[-1])["path"]
    assert len(path.encode()) in (1023, 1024) and long.startswith(path)


def test_an_application_that_raises_is_an_error_without_code(mw, board_dir):
    def app(environ, start_response):
        start_response("200 OK", [])
        raise RuntimeError("boom")

    m = mw(app)
    with pytest.raises(RuntimeError):
        m(environ(), lambda *a: None)
    status = json.loads(statuses(board_dir)["%d-1" % os.getpid()])
    assert (status["last_code"], status["last_outcome"]) == (None, "error")
    assert m.pool.slots() == (1, 1)


def test_iteration_that_raises_is_an_error_with_its_code(mw, board_dir):
    def app(environ, start_response):
        start_response("502 Bad Gateway", [])
        yield b"part"
        raise ValueError("upstream gone")

    m = mw(app)
    with pytest.raises(ValueError):
        serve(m, environ())
    status = json.loads(statuses(board_dir)["%d-1" % os.getpid()])
    assert (status["last_code"], status["last_outcome"]) == (502, "error")


def test_busy_until_closed_and_aborted_when_closed_early(mw, board_dir):
    closed = []

    class Body:
        def __iter__(self):
            yield b"1"
            yield b"2"

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body()

    m = mw(app)
    me = "%d-1" % os.getpid()
    result = m(environ(), lambda *a: None)
    it = iter(result)
    assert next(it) == b"1"
    assert json.loads(statuses(board_dir)[me])["state"] == "busy"
    # Exhausted, not yet closed: still busy (idle after close, PEP 3333).
    assert list(it) == [b"2"]
    assert json.loads(statuses(board_dir)[me])["state"] == "busy"
    result.close()
    assert closed == [True]
    assert json.loads(statuses(board_dir)[me])["last_outcome"] == "complete"

    # The client went away: the server closes after the first chunk.
    result = m(environ(), lambda *a: None)
    next(iter(result))
    result.close()
    status = json.loads(statuses(board_dir)[me])
    assert (status["requests"], status["last_code"], status["last_outcome"]) == (2, 200, "aborted")
    # Closing twice ends nothing twice.
    result.close()
    assert json.loads(statuses(board_dir)[me])["requests"] == 2


def test_a_dropped_iterable_still_gives_the_slot_back(mw, board_dir):
    m = mw()
    result = m(environ(), lambda *a: None)
    assert m.pool.slots() == (1, 0)
    del result
    assert m.pool.slots() == (1, 1)
    assert json.loads(statuses(board_dir)["%d-1" % os.getpid()])["last_outcome"] == "aborted"


def test_list_bodies_keep_their_length_and_file_wrappers_stay_themselves(mw, board_dir):
    m = mw()
    result = m(environ(), lambda *a: None)
    assert len(result) == 1
    result.close()

    class FileWrapper:
        def __init__(self, f):
            self.f = f

        def __iter__(self):
            return iter(lambda: self.f.read(4), b"")

    def app(environ, start_response):
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"file body"))

    m2 = mw(app)
    result = m2(environ(**{"wsgi.file_wrapper": FileWrapper}), lambda *a: None)
    # The server still sees its own wrapper (so it can use sendfile).
    assert isinstance(result, FileWrapper)
    assert b"".join(result) == b"file body"
    assert json.loads(statuses(board_dir)["%d-1" % os.getpid()])["state"] == "busy"
    result.close()
    assert json.loads(statuses(board_dir)["%d-1" % os.getpid()])["last_outcome"] == "complete"


def test_a_slot_per_request_in_flight_numbered_from_the_smallest_free(mw, board_dir):
    m = mw(max_idle=2)
    pid = os.getpid()
    held = [m(environ("/%d" % i), lambda *a: None) for i in range(4)]
    assert sorted(statuses(board_dir)) == ["%d-%d" % (pid, n) for n in (1, 2, 3, 4)]
    assert m.pool.slots() == (4, 0)
    for r in held:
        r.close()
    # Two stay idle; the two idle longest were released, their files removed.
    assert m.pool.slots() == (2, 2)
    assert sorted(statuses(board_dir)) == ["%d-3" % pid, "%d-4" % pid]
    # Reuse first (the slot given back last), then the smallest free number.
    a = m(environ(), lambda *a: None)
    b = m(environ(), lambda *a: None)
    c = m(environ(), lambda *a: None)
    busy = sorted(k for k, v in statuses(board_dir).items() if '"busy"' in v)
    assert busy == ["%d-1" % pid, "%d-3" % pid, "%d-4" % pid]
    for r in (a, b, c):
        r.close()


def test_max_slots_serves_the_rest_unrecorded(mw, board_dir):
    m = mw(max_slots=1)
    first = m(environ(), lambda *a: None)
    second = m(environ(), lambda *a: None)
    assert b"".join(second) == b"hello"
    assert m.pool.unrecorded == 1
    first.close()
    status = json.loads(statuses(board_dir)["%d-1" % os.getpid()])
    assert status["unrecorded"] == 1
    assert list(status)[-1] == "unrecorded"


def test_middlewares_and_hooks_of_one_process_share_their_slots(mw, board_dir):
    assert slot_pool(board_dir).ready()
    me = "%d-1" % os.getpid()
    assert statuses(board_dir) == {me: '{"state":"idle","requests":0}'}
    m = mw()
    assert m.pool is slot_pool(board_dir)
    serve(m, environ())
    assert sorted(statuses(board_dir)) == [me]
    with pytest.raises(ValueError):
        slot_pool(board_dir, max_idle=3)


def test_a_fork_child_makes_its_own_slots_and_leaves_the_parent_s(mw, board_dir, children):
    m = mw()
    serve(m, environ())
    parent = "%d-1" % os.getpid()
    held = m(environ("/held"), lambda *a: None)
    r, w = os.pipe()

    def child():
        os.close(r)
        # The inherited pool is empty: the child's first request makes
        # <child pid>-1; the parent's slots are left alone.
        assert m.pool.slots() == (0, 0)
        serve(m, environ("/in-child"))
        seen = statuses(board_dir)
        os.write(w, json.dumps(seen).encode())
        m.pool.close()

    pid = children.fork(child)
    os.close(w)
    with os.fdopen(r) as f:
        seen = json.loads(f.read() or "{}")
    assert children.wait(pid) == 0
    assert json.loads(seen["%d-1" % pid])["last_outcome"] == "complete"
    assert parent in seen
    # The child's exit removed its own slot only.
    after = statuses(board_dir)
    assert "%d-1" % pid not in after
    # The parent's slot, busy with the request it held across the fork.
    assert json.loads(after[parent])["path"] == "/held"
    held.close()
    assert m.pool.slots() == (1, 1)
    assert json.loads(statuses(board_dir)[parent])["requests"] == 2


def test_descriptors_stay_the_application_s(mw, board_dir, children):
    """Under a low descriptor limit (64, or a multiple of 64 when the process
    already has many open), slots hold at most an eighth of it, and none is
    made that would leave less than a quarter free: those requests are
    served without a slot and counted."""
    m = mw()
    r, w = os.pipe()

    def child():
        import resource

        os.close(r)
        # The limit leaves the cap on slots, not the reserve, to bind first.
        k = 1 + len(os.listdir("/proc/self/fd")) // 24
        limit = 64 * k
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        report = {"cap_slots": limit // 8}
        held = [m(environ("/%d" % i), lambda *a: None) for i in range(limit // 8 + 2)]
        report["cap"] = [m.pool.slots(), m.pool.unrecorded]
        for h in held:
            # As a server does: requests served without a slot return the
            # application's own list.
            if hasattr(h, "close"):
                h.close()
        # Released, then descriptors taken by the application until a slot
        # would leave less than a quarter of the limit free.
        m.pool.close()
        taken = []
        while len(os.listdir("/proc/self/fd")) < limit - limit // 4 + 2:
            taken.append(os.open("/dev/null", os.O_RDONLY))
        served = [b"".join(m(environ("/%d" % i), lambda *a: None)) for i in range(3)]
        report["served"] = served.count(b"hello")
        report["scarce"] = [m.pool.slots(), m.pool.unrecorded]
        for fd in taken:
            os.close(fd)
        # Descriptors free again: after the 100 ms pause, slots again.
        deadline = time.monotonic() + 30
        while m.pool.slots()[0] == 0 and time.monotonic() < deadline:
            h = m(environ("/again"), lambda *a: None)
            if hasattr(h, "close"):
                h.close()
        report["again"] = [m.pool.slots(), m.pool.unrecorded]
        me = "%d-1" % os.getpid()
        report["status"] = statuses(board_dir).get(me)
        os.write(w, json.dumps(report).encode())

    pid = children.fork(child)
    os.close(w)
    with os.fdopen(r) as f:
        report = json.loads(f.read() or "{}")
    assert children.wait(pid) == 0
    # An eighth of the limit (8 of 64): the 2 requests beyond go without.
    cap = report["cap_slots"]
    assert report["cap"] == [[cap, 0], 2]
    # No room: served all the same, without a slot, counted.
    assert report["served"] == 3
    assert report["scarce"] == [[0, 0], 5]
    (live, idle), unrecorded = report["again"]
    assert (live, idle) == (1, 1) and unrecorded >= 5
    assert json.loads(report["status"])["unrecorded"] == unrecorded


def test_prefix_and_max_idle_zero(mw, board_dir):
    m = mw(prefix="web-{pid}-", max_idle=0)
    seen = []

    def app(environ, start_response):
        seen.append(sorted(statuses(board_dir)))
        start_response("200 OK", [])
        return [b""]

    m.app = app
    serve(m, environ())
    assert seen == [["web-%d-1" % os.getpid()]]
    # Only requests in flight are on the board.
    assert statuses(board_dir) == {}
    assert m.pool.slots() == (0, 0)
    serve(m, environ())
    assert seen[-1] == ["web-%d-1" % os.getpid()]


def test_a_number_another_process_holds_is_skipped(mw, board_dir, children):
    m = mw(prefix="shared-")
    held = m(environ("/parent"), lambda *a: None)
    r, w = os.pipe()

    def child():
        os.close(r)
        # The same prefix in another process: shared-1 is the parent's.
        result = m(environ("/child"), lambda *a: None)
        os.write(w, json.dumps(statuses(board_dir)).encode())
        result.close()
        m.pool.close()

    pid = children.fork(child)
    os.close(w)
    with os.fdopen(r) as f:
        seen = json.loads(f.read() or "{}")
    assert children.wait(pid) == 0
    assert json.loads(seen["shared-1"])["path"] == "/parent"
    assert json.loads(seen["shared-2"])["path"] == "/child"
    held.close()
