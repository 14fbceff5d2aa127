"""uvicorn (one process, and --workers 2) running the ASGI middleware, watched
by the Rust ``scoreboard serve``: a slot per request in flight, reused; a
streamed response busy until its last chunk; a client that disconnects
mid-stream or before the response leaves its slot idle with the tower
layer's outcome."""

from __future__ import annotations

import pytest
from webutil import (
    APPS,
    BUSY,
    IDLE,
    Monitor,
    Server,
    SlowRequests,
    child_env,
    eventually,
    http_get,
    listening_socket,
    python,
    raw_request,
    read_until,
    slot_pid,
    slots,
)


@pytest.fixture
def uvicorn(request, board_dir, gate_dir, tmp_path):
    """``start(workers)`` starts uvicorn on a socket of ours; returns (server,
    port) once it answers."""
    started = []

    def start(workers=1):
        sock = listening_socket()
        argv = [python(), "-m", "uvicorn", "--fd", sock.fileno(), "--app-dir", APPS,
                "--log-level", "warning", "--no-access-log"]
        if workers > 1:
            # The supervisor kills a worker that misses a 5 s health check,
            # which a loaded 2-core machine can make it miss.
            argv += ["--workers", workers, "--timeout-worker-healthcheck", "60"]
        argv.append("psb_asgi_app:app")
        server = Server(argv, tmp_path / ("uvicorn-%d.log" % len(started)),
                        env=child_env(SCOREBOARD_DIR=board_dir, GATE_DIR=gate_dir),
                        pass_fds=(sock.fileno(),))
        port = sock.getsockname()[1]
        sock.close()
        started.append(server)
        return server, port

    yield start
    for server in started:
        server.stop()


def slot_of(monitor: Monitor, path: str) -> str:
    """The id of the slot busy with ``path``."""
    return eventually(
        lambda: next((k for k, v in slots(monitor.statuses()).items()
                      if v["state"] == "busy" and v["path"] == path), None),
        "a slot busy with " + path)


def idle_status(monitor: Monitor, slot_id: str) -> dict:
    def idle():
        status = monitor.statuses().get(slot_id)
        return status if status and status["state"] == "idle" else None

    return eventually(idle, "slot %s idle" % slot_id)


def hold_slow_requests(monitor, port, gate_dir, n, label):
    """Holds ``n`` slow requests in flight and checks what the monitor shows,
    then releases them and checks again. Slots made earlier (idle) may be
    on the board too. Returns the ``?auto`` texts and the slots after."""
    requests = SlowRequests(port, gate_dir, n, label)
    try:
        eventually(lambda: monitor.counts()[0] == n, "%d busy" % n, detail=monitor.state)
        busy_auto = monitor.auto_text()
        statuses = slots(monitor.statuses())
        busy = [k for k, v in statuses.items() if v["state"] == "busy"]
        assert sorted(statuses[k]["path"] for k in busy) == sorted("/slow/" + t for t in requests.tokens)
        for slot_id in busy:
            raw = monitor.raw(slot_id)
            assert BUSY.fullmatch(raw), raw
        assert monitor.counts() == (n, len(statuses) - n)
        assert 'scoreboard_workers_by_state{state="busy"} %d\n' % n in monitor.metrics()
        # The HTML page: a row per slot, the busy ones in the busy state.
        page = monitor.get("/server-status")
        for slot_id in statuses:
            assert 'data-id="%s"' % slot_id in page, page
        assert page.count('<td class="state">busy</td>') == n, page
    finally:
        results = requests.release()
    assert all(r == (200, b"released\n") for r in results.values()), results
    eventually(lambda: monitor.counts()[0] == 0, "0 busy", detail=monitor.state)
    idle = slots(monitor.statuses())
    assert monitor.counts() == (0, len(idle))
    assert all(v["last_outcome"] == "complete" and v["last_code"] == 200 for v in idle.values()), idle
    for slot_id in idle:
        raw = monitor.raw(slot_id)
        assert IDLE.fullmatch(raw), raw
    assert 'scoreboard_workers_by_state{state="idle"} %d\n' % len(idle) in monitor.metrics()
    return busy_auto, monitor.auto_text(), idle


def test_one_process_slots_streams_and_disconnects(uvicorn, monitor, gate_dir):
    server, port = uvicorn()
    eventually(lambda: http_get(port, "/")[0] == 200, "uvicorn to answer")
    busy_auto, idle_auto, idle = hold_slow_requests(monitor, port, gate_dir, 4, "uv")
    print("\nuvicorn, 4 slow requests in flight:\n" + busy_auto + "after:\n" + idle_auto)
    assert "BusyWorkers: 4\nIdleWorkers: 0\nScoreboard: WWWW\n" in busy_auto
    assert "BusyWorkers: 0\nIdleWorkers: 4\nScoreboard: ____\n" in idle_auto
    # Slots <pid>-1..4 of the one process; the first request's slot served twice.
    assert sorted(idle) == ["%d-%d" % (server.pid, n) for n in (1, 2, 3, 4)]
    assert sum(v["requests"] for v in idle.values()) == 5

    # A streamed response holds its slot until its last chunk.
    (gate_dir / "s1").unlink(missing_ok=True)
    conn = raw_request(port, "/stream/s1")
    try:
        assert b"first\n" in read_until(conn, b"first\n")
        slot = slot_of(monitor, "/stream/s1")
        assert monitor.counts() == (1, 3)
        (gate_dir / "s1").touch()
        read_until(conn, b"0\r\n\r\n")
    finally:
        conn.close()
    done = idle_status(monitor, slot)
    assert (done["last_code"], done["last_outcome"]) == (200, "complete"), done

    # The client disconnects mid-stream: aborted, with the code sent.
    conn = raw_request(port, "/forever")
    try:
        read_until(conn, b"chunk 2\n")
        slot = slot_of(monitor, "/forever")
    finally:
        conn.close()
    gone = idle_status(monitor, slot)
    assert (gone["last_code"], gone["last_outcome"]) == (200, "aborted"), gone

    # The client disconnects before any response: cancelled, no code.
    conn = raw_request(port, "/hold")
    try:
        slot = slot_of(monitor, "/hold")
    finally:
        conn.close()
    gone = idle_status(monitor, slot)
    assert (gone["last_code"], gone["last_outcome"]) == (None, "cancelled"), gone
    assert monitor.counts() == (0, 4)


def test_two_worker_processes(uvicorn, monitor, gate_dir):
    server, port = uvicorn(workers=2)
    eventually(lambda: http_get(port, "/")[0] == 200, "uvicorn to answer")
    busy_auto, idle_auto, idle = hold_slow_requests(monitor, port, gate_dir, 4, "uv2")
    print("\nuvicorn --workers 2, 4 slow requests in flight:\n" + busy_auto + "after:\n" + idle_auto)
    assert "BusyWorkers: 4\nIdleWorkers: " in busy_auto
    # The first request's slot, and the peak of each process's requests in
    # flight: 4 or 5 slots, as the requests fell.
    assert len(idle) in (4, 5), idle
    assert sum(v["requests"] for v in idle.values()) == 5
    by_pid: dict = {}
    for slot_id in idle:
        by_pid.setdefault(slot_pid(slot_id), []).append(int(slot_id.split("-")[1]))
    assert server.pid not in by_pid, "a slot of the supervisor"
    for numbers in by_pid.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), idle
