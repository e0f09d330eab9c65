"""tasks/middleware/: heartbeats per worker kind, the worker process and Prometheus."""

import subprocess
import time
from datetime import datetime, timezone

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from app.heartbeats import alive
from app.models import Heartbeat
from tasks.middleware.heartbeat import Heartbeat as HeartbeatMiddleware
from tasks.middleware.heartbeat import kinds_for_queues
from tasks.middleware.prometheus import Prometheus, forget_dead_processes


def wait_until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)  # polling with a deadline, not a fixed wait


def now():
    return datetime.now(timezone.utc)


def test_it_maps_queues_to_heartbeat_kinds():
    assert kinds_for_queues({"dialing"}) == ["dialer"]
    assert kinds_for_queues({"drain", "finalize"}) == ["lifecycle"]
    assert kinds_for_queues({"dialing.DQ", "drain"}) == ["dialer", "lifecycle"]
    assert kinds_for_queues(None) == ["dialer", "lifecycle"]
    assert kinds_for_queues({"default"}) == []


def test_it_beats_as_the_kind_of_the_queues_a_worker_consumes(sqlite_db):
    broker = StubBroker()
    middleware = HeartbeatMiddleware(interval=0.05)
    broker.add_middleware(middleware)

    @dramatiq.actor(broker=broker, queue_name="dialing")
    def tick():
        pass

    worker = dramatiq.Worker(broker, queues={"dialing"}, worker_threads=1)
    worker.start()
    try:
        wait_until(lambda: alive("dialer", now(), 5), what="a dialer heartbeat")
        first = Heartbeat.get(Heartbeat.kind == "dialer").seen_at
        wait_until(lambda: Heartbeat.get(Heartbeat.kind == "dialer").seen_at > first,
                   what="a second beat")
        assert alive("lifecycle", now(), 5) == []
        beat = Heartbeat.get(Heartbeat.kind == "dialer")
        assert beat.info == {"queues": ["dialing"], "threads": 1}
    finally:
        worker.stop()
    assert middleware._beater is None  # stopped with the worker


def test_it_beats_as_scheduler_once_periodiq_sends_a_periodic_message(sqlite_db):
    broker = StubBroker()
    broker.add_middleware(HeartbeatMiddleware(interval=60))

    @dramatiq.actor(broker=broker, queue_name="drain")
    def scan():
        pass

    scan.send()
    assert alive("scheduler", now(), 5) == []  # an ordinary send is not the scheduler
    scan.send_with_options(scheduled_at="2026-11-23T23:00:00+00:00")
    assert [b.kind for b in alive("scheduler", now(), 5)] == ["scheduler"]


def test_it_keeps_prometheus_hooks_inert_outside_dramatiq_worker_processes(sqlite_db):
    broker = StubBroker()
    broker.add_middleware(Prometheus())
    done = []

    @dramatiq.actor(broker=broker, max_retries=1, min_backoff=1, max_backoff=1)
    def flaky():
        done.append(1)
        if len(done) == 1:
            raise RuntimeError("first try fails")

    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    try:
        flaky.send()
        broker.join(flaky.queue_name)
        worker.join()
    finally:
        worker.stop()
    assert len(done) == 2  # failed once, retried (after_enqueue with retries) and succeeded


def test_it_forgets_the_live_gauges_of_killed_processes(tmp_path):
    proc = subprocess.Popen(["true"])
    proc.wait()
    dead = proc.pid
    for name in (f"gauge_livesum_{dead}.db", f"counter_{dead}.db", "gauge_livesum_1.db"):
        (tmp_path / name).write_bytes(b"")
    assert forget_dead_processes(tmp_path) == [dead]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([f"counter_{dead}.db", "gauge_livesum_1.db"])


def test_it_stops_a_child_process_when_its_parent_is_killed(tmp_path):
    # A parent starts a child that asks for SIGTERM on parent death; the parent
    # is SIGKILLed (like a dramatiq launcher): the child must go away by itself.
    import os
    import signal
    import sys

    import psutil

    pid_file = tmp_path / "child.pid"
    child_py = tmp_path / "child.py"
    child_py.write_text(
        "import os, threading\n"
        "from tasks.middleware.worker_process import die_with_parent\n"
        "assert die_with_parent()\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "threading.Event().wait(60)\n"
    )
    parent_py = tmp_path / "parent.py"
    parent_py.write_text(
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, {str(child_py)!r}]).wait()\n"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    parent = subprocess.Popen([sys.executable, str(parent_py)], env=env)
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), what="the child")
        child = psutil.Process(int(pid_file.read_text()))
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        child.wait(10)  # raises TimeoutExpired if the child outlived its parent
    finally:
        if parent.poll() is None:
            parent.kill()


def listening_addresses(port):
    import psutil

    return {c.laddr.ip for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


@pytest.mark.parametrize("bind, expected", [(None, "127.0.0.1"), ("0.0.0.0", "0.0.0.0")])
def test_it_serves_worker_metrics_on_loopback_unless_told_otherwise(tmp_path, bind, expected):
    import os
    import signal
    import sys
    import urllib.request
    from pathlib import Path

    from tests.waiting import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "METRICS_BIND"}
    env.update(METRICS_PORT=str(port), PYTHONPATH=os.getcwd())
    if bind:
        env["METRICS_BIND"] = bind
    dramatiq_bin = str(Path(sys.executable).parent / "dramatiq")
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen([dramatiq_bin, "tasks.dialing", "-Q", "dialing", "-p", "1",
                                   "-t", "1"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        # a deadline, not a wait: a loaded machine took over 30 s to boot the worker once
        wait_until(lambda: listening_addresses(port), 120, "the metrics exposition process")
        assert listening_addresses(port) == {expected}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            assert reply.status == 200
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
