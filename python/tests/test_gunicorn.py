"""gunicorn (sync and gthread workers) with python/examples/gunicorn.conf.py,
watched by the Rust ``scoreboard serve``: requests in flight show busy in
``?auto``, ``/json`` and ``/metrics``, then idle; workers that have not served
show idle; the master shows itself; a worker killed by SIGKILL leaves the
board and its replacement joins it."""

from __future__ import annotations

import os
import signal

import pytest
from webutil import (
    APPS,
    BUSY,
    GUNICORN_CONF,
    IDLE,
    Monitor,
    Server,
    SlowRequests,
    child_env,
    eventually,
    http_get,
    listening_socket,
    python,
    slot_pid,
    slots,
)


@pytest.fixture
def gunicorn(request, board_dir, gate_dir, tmp_path):
    """Starts gunicorn with the recipe's configuration: ``start(workers,
    worker_class, threads, preload, wrap_in_app)`` returns (server, port)."""
    started = []

    def start(workers=2, worker_class="sync", threads=1, preload=False, wrap_in_app=False):
        sock = listening_socket()
        argv = [python(), "-m", "gunicorn", "-c", GUNICORN_CONF, "--chdir", APPS,
                "--bind", "fd://%d" % sock.fileno(), "--workers", workers,
                "--worker-class", worker_class, "--threads", threads,
                # A sync worker held by a slow request sends no heartbeat:
                # the default 30 s before the master kills it is too short
                # for a loaded machine.
                "--timeout", "120", "--graceful-timeout", "5", "--log-level", "info"]
        if preload:
            argv.append("--preload")
        argv.append("psb_wsgi_app:app")
        env = child_env(SCOREBOARD_DIR=board_dir, GATE_DIR=gate_dir,
                        WRAP_IN_APP="1" if wrap_in_app else "0")
        server = Server(argv, tmp_path / ("gunicorn-%d.log" % len(started)), env=env,
                        pass_fds=(sock.fileno(),))
        port = sock.getsockname()[1]
        sock.close()
        started.append(server)
        return server, port

    yield start
    for server in started:
        server.stop()


def worker_pids(master_pid: int) -> set:
    """The live children of gunicorn's master (its workers)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # fields[0] is the state, fields[1] the parent pid.
            if int(fields[1]) == master_pid and fields[0] != "Z":
                pids.add(int(entry))
    return pids


def master_status(statuses: dict, master_pid: int) -> dict:
    return statuses["master-%d" % master_pid]


def assert_slots_belong_to_workers(statuses: dict, server: Server) -> None:
    workers = worker_pids(server.pid)
    for slot_id in slots(statuses):
        assert slot_pid(slot_id) in workers, (slot_id, workers, server.log())
    assert not any(slot_pid(s) == server.pid for s in slots(statuses)), "a slot of the master"


def check_busy_then_idle(monitor: Monitor, port: int, gate_dir, n: int, label: str):
    """Holds ``n`` slow requests in flight, checks what the monitor shows,
    releases them and checks it again. Returns the ``?auto`` texts seen."""
    requests = SlowRequests(port, gate_dir, n, label)
    try:
        eventually(lambda: monitor.counts()[0] == n, "%d busy workers" % n, detail=monitor.state)
        busy_auto = monitor.auto_text()
        statuses = monitor.statuses()
        busy = {k: v for k, v in slots(statuses).items() if v["state"] == "busy"}
        assert len(busy) == n, statuses
        assert sorted(v["path"] for v in busy.values()) == sorted("/slow/" + t for t in requests.tokens)
        for slot_id in busy:
            raw = monitor.raw(slot_id)
            assert BUSY.fullmatch(raw), raw
        metrics = monitor.metrics()
        assert 'scoreboard_workers_by_state{state="busy"} %d\n' % n in metrics, metrics
        page = monitor.get("/server-status")
        assert page.count('<td class="state">busy</td>') == n, page
    finally:
        results = requests.release()
    assert all(r == (200, b"released\n") for r in results.values()), results
    eventually(lambda: monitor.counts()[0] == 0, "no busy worker", detail=monitor.state)
    statuses = monitor.statuses()
    idle = slots(statuses)
    assert all(v["state"] == "idle" for v in idle.values()), idle
    assert monitor.counts() == (0, len(idle))
    served = [v for v in idle.values() if v["requests"] > 0]
    assert sum(v["requests"] for v in served) == n
    for slot_id, v in idle.items():
        if v["requests"] > 0:
            raw = monitor.raw(slot_id)
            assert IDLE.fullmatch(raw), raw
            assert v["last_code"] == 200 and v["last_outcome"] == "complete", v
    return busy_auto, monitor.auto_text()


def test_sync_workers_preloaded_app_busy_and_idle(gunicorn, monitor, gate_dir):
    # The application wraps itself at import, in the master (--preload):
    # slots are still made in the workers only.
    server, port = gunicorn(workers=3, preload=True, wrap_in_app=True)
    eventually(lambda: monitor.counts() == (0, 3), "3 idle workers before any request", detail=monitor.state)
    statuses = monitor.statuses()
    master = master_status(statuses, server.pid)
    assert master == {"state": "master", "pid": server.pid, "workers": 3, "spawned": 3, "exited": 0}
    assert_slots_belong_to_workers(statuses, server)
    assert sorted(s.split("-")[1] for s in slots(statuses)) == ["1", "1", "1"]
    metrics = monitor.metrics()
    assert 'scoreboard_workers_by_state{state="master"} 1\n' in metrics, metrics
    assert 'scoreboard_worker_status_field{id="master-%d",field="spawned"} 3\n' % server.pid in metrics
    assert all(v == {"state": "idle", "requests": 0} for v in slots(statuses).values())

    busy_auto, idle_auto = check_busy_then_idle(monitor, port, gate_dir, 3, "sync")
    print("\ngunicorn sync, 3 slow requests in flight:\n" + busy_auto + "after:\n" + idle_auto)
    assert "BusyWorkers: 3\nIdleWorkers: 0\nScoreboard: " in busy_auto
    assert "BusyWorkers: 0\nIdleWorkers: 3\nScoreboard: " in idle_auto
    # The master's entry is neither busy nor idle: `?` in the grid.
    assert sorted(busy_auto.rsplit("Scoreboard: ", 1)[1].strip()) == ["?", "W", "W", "W"]
    assert_slots_belong_to_workers(monitor.statuses(), server)

    # An application that raises: its slot comes back idle, with no code.
    status, _ = http_get(port, "/fail")
    assert status == 500
    failed = eventually(
        lambda: [v for v in slots(monitor.statuses()).values() if v.get("last_outcome") == "error"],
        "the failed request's slot")
    assert failed[0]["last_code"] is None
    assert monitor.counts() == (0, 3)


def test_gthread_workers_a_slot_per_request_in_flight(gunicorn, monitor, gate_dir):
    # Not preloaded, not wrapped by the application: gunicorn.conf.py wraps
    # it in each worker.
    server, port = gunicorn(workers=2, worker_class="gthread", threads=4)
    eventually(lambda: monitor.counts() == (0, 2), "2 idle workers before any request", detail=monitor.state)
    busy_auto, idle_auto = check_busy_then_idle(monitor, port, gate_dir, 4, "gthread")
    print("\ngunicorn gthread, 4 slow requests in flight:\n" + busy_auto + "after:\n" + idle_auto)
    assert "BusyWorkers: 4\nIdleWorkers: " in busy_auto
    statuses = monitor.statuses()
    assert_slots_belong_to_workers(statuses, server)
    by_pid: dict = {}
    for slot_id in slots(statuses):
        by_pid.setdefault(slot_pid(slot_id), []).append(int(slot_id.split("-")[1]))
    # Each process numbers its slots 1..k: the peak of its requests in flight.
    assert len(by_pid) == 2, statuses
    for numbers in by_pid.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), statuses
    assert sum(len(n) for n in by_pid.values()) >= 4

    # Sequential requests reuse an idle slot: no new slot is made.
    before = set(slots(statuses))
    for _ in range(6):
        assert http_get(port, "/")[0] == 200
    eventually(lambda: sum(v["requests"] for v in slots(monitor.statuses()).values()) == 10,
               "10 requests counted")
    assert set(slots(monitor.statuses())) == before


def test_sigkilled_worker_leaves_and_its_replacement_joins(gunicorn, monitor, gate_dir):
    server, port = gunicorn(workers=2)
    eventually(lambda: monitor.counts() == (0, 2), "2 idle workers", detail=monitor.state)
    held = SlowRequests(port, gate_dir, 1, "kill")
    try:
        busy = eventually(
            lambda: [k for k, v in slots(monitor.statuses()).items() if v["state"] == "busy"],
            "the held request's slot")
        victim = slot_pid(busy[0])
        os.kill(victim, signal.SIGKILL)

        def replaced():
            statuses = monitor.statuses()
            pids = {slot_pid(s) for s in slots(statuses)}
            master = master_status(statuses, server.pid)
            return (victim not in pids and len(pids) == 2 and monitor.counts() == (0, 2)
                    and master["spawned"] == 3 and master["exited"] == 1) and statuses

        statuses = eventually(replaced, "the killed worker gone and its replacement idle", detail=monitor.state)
    finally:
        results = held.release()
    # The killed worker's request got no answer.
    assert isinstance(results["kill-0"], Exception), results
    assert_slots_belong_to_workers(statuses, server)
    assert victim not in worker_pids(server.pid)
    print("\nafter SIGKILL of worker %d:\n%s" % (victim, monitor.auto_text()))

    # One worker fewer (TTOU): it exits in order, dropping the master's
    # handle it inherited, which leaves the master's entry alone.
    os.kill(server.pid, signal.SIGTTOU)

    def shrunk():
        statuses = monitor.statuses()
        master = statuses.get("master-%d" % server.pid)
        return (master is not None and master["workers"] == 1 and master["exited"] == 2
                and len(slots(statuses)) == 1 and statuses)

    statuses = eventually(shrunk, "one worker left, the master still shown", detail=monitor.state)
    assert_slots_belong_to_workers(statuses, server)
    before = set(slots(statuses))

    # A reload (HUP) reads the configuration again (2 workers, as the command
    # line says) and replaces the workers: the master's entry, kept on the
    # arbiter, goes on counting.
    os.kill(server.pid, signal.SIGHUP)

    def reloaded():
        statuses = monitor.statuses()
        master = statuses.get("master-%d" % server.pid)
        now = set(slots(statuses))
        return (master is not None and master["workers"] == 2 and master["spawned"] == 5
                and master["exited"] == 3 and len(now) == 2 and not now & before and statuses)

    statuses = eventually(reloaded, "the reloaded worker, the master still shown", detail=monitor.state)
    assert_slots_belong_to_workers(statuses, server)
