"""Process middleware: heartbeats for /health and Prometheus metrics for every worker.

``tasks/broker.py`` calls ``setup_middleware(broker)`` once, after building the
broker. What each process gets:

- a Dramatiq worker process (``dramatiq tasks -Q ...``) beats every
  HEARTBEAT_STALE_SECONDS / 3 as the kinds its queues serve (``dialing`` ->
  ``dialer``; ``drain``/``finalize`` -> ``lifecycle``; no ``-Q`` -> both), for
  as long as its consumer and worker threads are alive;
- the scheduler (``periodiq tasks``) beats as ``scheduler`` once it has sent its
  first periodic message (periodiq has no hook of its own), then on the same
  period;
- every ``dramatiq`` launcher serves Dramatiq's Prometheus metrics on
  METRICS_PORT (0: none) from a forked exposition process;
- a worker process logs through app/logs.py as its kind (JSON in production);
- the launcher's children (worker and exposition processes) get SIGTERM when the
  launcher dies, so a ``kill -9`` of it leaves no orphan consuming messages or
  holding the metrics port while supervisord starts a new launcher.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import signal
import tempfile
import threading
from pathlib import Path

from dramatiq.middleware import Middleware
from dramatiq.middleware import prometheus as dramatiq_prometheus

from app import heartbeats
from app.clock import utcnow
from app.config import get_settings
from app.db import database, init_database

log = logging.getLogger(__name__)

KIND_BY_QUEUE = {"dialing": "dialer", "drain": "lifecycle", "finalize": "lifecycle"}
WORKER_KINDS = ("dialer", "lifecycle")
SCHEDULER_KIND = "scheduler"
MIN_INTERVAL = 0.5
MAX_INTERVAL = 30.0


def kinds_for_queues(queues) -> list[str]:
    """Heartbeat kinds of a worker that consumes ``queues`` (None or empty: every queue)."""
    if not queues:
        return list(WORKER_KINDS)
    kinds = set()
    for queue in queues:
        # Dramatiq's delay (.DQ) and dead-letter (.XQ) queues belong to their base queue.
        base = queue.split(".", 1)[0]
        if base in KIND_BY_QUEUE:
            kinds.add(KIND_BY_QUEUE[base])
    return sorted(kinds)


def beat_interval(settings) -> float:
    """Seconds between two beats: three beats per stale window, within sane bounds."""
    return min(MAX_INTERVAL, max(MIN_INTERVAL, settings.heartbeat_stale_seconds / 3))


class _Beater(threading.Thread):
    """Beat ``kinds`` every ``interval`` seconds while ``alive()`` says so."""

    def __init__(self, kinds, interval, alive, info):
        super().__init__(name=f"heartbeat-{'+'.join(kinds)}", daemon=True)
        self.kinds, self.interval, self.alive, self.info = kinds, interval, alive, info
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            if self.alive():
                self.beat_once()
            else:
                log.warning("not beating %s: a worker thread died", "+".join(self.kinds))
            self.stopping.wait(self.interval)

    def beat_once(self):
        try:
            if database.obj is None:
                init_database()
            now = utcnow()
            with database.connection_context():
                for kind in self.kinds:
                    heartbeats.beat(kind, now, self.info())
        except Exception:  # a heartbeat never breaks the process it reports on
            log.exception("heartbeat failed kinds=%s", ",".join(self.kinds))

    def stop(self, timeout=5.0):
        self.stopping.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout)


class Heartbeat(Middleware):
    """Keep a heartbeat row per process so /health can name a missing one."""

    def __init__(self, interval: float | None = None):
        self.interval = interval
        self._lock = threading.Lock()
        self._worker_booted = False
        self._beater = None

    def _interval(self):
        return self.interval if self.interval is not None else beat_interval(get_settings())

    def after_worker_boot(self, broker, worker):
        queues = sorted(worker.consumer_whitelist or [])
        kinds = kinds_for_queues(queues)
        with self._lock:
            self._worker_booted = True
        if not kinds:
            return

        def alive():
            threads = list(worker.consumers.values()) + list(worker.workers)
            return bool(threads) and all(t.is_alive() for t in threads)

        def info():
            return {"queues": queues, "threads": len(worker.workers)}

        with self._lock:
            self._start(_Beater(kinds, self._interval(), alive, info))

    def before_worker_shutdown(self, broker, worker):
        with self._lock:
            beater, self._beater = self._beater, None
        if beater is not None:
            beater.stop()

    def after_enqueue(self, broker, message, delay):
        # Only periodiq's scheduler sends messages carrying "scheduled_at" from a
        # process without a worker (a worker retrying one has booted a worker).
        if "scheduled_at" not in message.options or self._beater is not None:
            return
        with self._lock:
            if self._worker_booted or self._beater is not None:
                return
            self._start(_Beater([SCHEDULER_KIND], self._interval(), lambda: True, dict))

    def _start(self, beater):
        if self._beater is not None:
            self._beater.stop(timeout=0)
        self._beater = beater
        beater.beat_once()  # /health sees the process at once, not one period later
        beater.start()


# --- children die with their launcher -------------------------------------------

PR_SET_PDEATHSIG = 1


def die_with_parent(sig=signal.SIGTERM) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):  # not Linux
        return False
    if os.getppid() == 1:  # the launcher died before we asked
        os.kill(os.getpid(), sig)
    return True


class WorkerProcess(Middleware):
    """Set-up of a ``dramatiq`` worker process (never of an in-process test worker).

    It stops (gracefully, SIGTERM) when its launcher is killed, and logs through
    app/logs.py as its kind (dialer, lifecycle): JSON in production.
    """

    def __init__(self):
        self.booted = False

    def after_process_boot(self, broker):
        self.booted = True
        if not die_with_parent():
            log.warning("cannot tie this worker to its launcher (prctl unavailable)")

    def after_worker_boot(self, broker, worker):
        if not self.booted:
            return
        from app.logs import configure_logging

        kinds = kinds_for_queues(sorted(worker.consumer_whitelist or []))
        configure_logging(get_settings(), "+".join(kinds) or "worker")


# --- Prometheus ---------------------------------------------------------------

_PID_FILE = re.compile(r"_(\d+)\.db$")


def metrics_dir(port: int) -> Path:
    """prometheus_client's multiprocess folder of the launcher serving ``port``."""
    return Path(tempfile.gettempdir()) / f"callcast-prometheus-{port}"


def _configure_exposition(settings) -> None:
    # dramatiq's module reads dramatiq_prom_* at import; point it at our settings.
    path = metrics_dir(settings.metrics_port)
    path.mkdir(parents=True, exist_ok=True)
    dramatiq_prometheus.HTTP_PORT = settings.metrics_port
    dramatiq_prometheus.DB_PATH = str(path)


def forget_dead_processes(path) -> list[int]:
    """Drop the live-gauge files of processes that died without cleaning up (kill -9)."""
    from prometheus_client import multiprocess

    dead = set()
    for file in Path(path).glob("*.db"):
        match = _PID_FILE.search(file.name)
        if not match:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            dead.add(pid)
        except PermissionError:
            pass  # alive, someone else's
    for pid in dead:
        multiprocess.mark_process_dead(pid, str(path))
    return sorted(dead)


def serve_metrics():
    """Fork function of the dramatiq launcher: Prometheus exposition on METRICS_PORT."""
    die_with_parent()
    _configure_exposition(get_settings())
    return dramatiq_prometheus._run_exposition_server()


class Prometheus(dramatiq_prometheus.Prometheus):
    """Dramatiq's Prometheus middleware on METRICS_PORT; inert until process boot.

    Dramatiq only emits ``process_boot`` in ``dramatiq`` worker processes, so in
    the web process, the scheduler and in-process test workers the metric hooks
    do nothing instead of failing on metrics that were never created.
    """

    def __init__(self):
        super().__init__()
        self.booted = False

    @property
    def forks(self):
        return [serve_metrics] if get_settings().metrics_port else []

    def after_process_boot(self, broker):
        settings = get_settings()
        _configure_exposition(settings)
        try:
            forget_dead_processes(metrics_dir(settings.metrics_port))
        except Exception:
            log.exception("cannot clean the metrics folder %s", metrics_dir(settings.metrics_port))
        super().after_process_boot(broker)
        self.booted = True

    def after_worker_shutdown(self, broker, worker):
        if self.booted:
            super().after_worker_shutdown(broker, worker)

    def after_nack(self, broker, message):
        if self.booted:
            super().after_nack(broker, message)

    def after_enqueue(self, broker, message, delay):
        if self.booted:
            super().after_enqueue(broker, message, delay)

    def before_delay_message(self, broker, message):
        if self.booted:
            super().before_delay_message(broker, message)

    def before_process_message(self, broker, message):
        if self.booted:
            super().before_process_message(broker, message)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if self.booted:
            super().after_process_message(broker, message, result=result, exception=exception)

    after_skip_message = after_process_message


def setup_middleware(broker) -> None:
    """Add the heartbeat, launcher-death and Prometheus middleware to ``broker`` (tasks/broker.py)."""
    broker.add_middleware(WorkerProcess())
    broker.add_middleware(Heartbeat())
    broker.add_middleware(Prometheus())
