"""Heartbeat middleware: a row per process so /health can name a missing one.

- a Dramatiq worker process (``dramatiq tasks -Q ...``) beats every
  HEARTBEAT_STALE_SECONDS / 3 as the kinds its queues serve (``dialing`` ->
  ``dialer``; ``drain``/``finalize`` -> ``lifecycle``; no ``-Q`` -> both), for
  as long as its consumer and worker threads are alive;
- the scheduler (``python -m tasks.scheduler``) beats as ``scheduler`` once it
  has sent its first periodic message (periodiq has no hook of its own), then
  on the same period.
"""

from __future__ import annotations

import logging
import threading

from dramatiq.middleware import Middleware

from app import heartbeats
from app.clock import utcnow
from app.config import get_settings
from app.db import database, init_database
from tasks.broker import DIALING, DRAIN, FINALIZE, MAIL, TTS, WEBHOOKS

log = logging.getLogger(__name__)

KIND_BY_QUEUE = {DIALING: "dialer", DRAIN: "lifecycle", FINALIZE: "lifecycle",
                 WEBHOOKS: "lifecycle", MAIL: "lifecycle", TTS: "lifecycle"}
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
