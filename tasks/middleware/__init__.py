"""Process middleware of every Dramatiq process, one class a module (as Dramatiq does).

``tasks/broker.py`` calls ``setup_middleware(broker)`` once, after building the
broker:

- ``heartbeat``: heartbeat rows for /health, per worker kind and for the scheduler;
- ``worker_process``: a ``dramatiq`` worker process dies with its launcher and
  logs as its kind;
- ``prometheus``: Dramatiq's Prometheus metrics on METRICS_PORT.
"""

from __future__ import annotations

from tasks.middleware.heartbeat import Heartbeat, beat_interval, kinds_for_queues
from tasks.middleware.prometheus import Prometheus, forget_dead_processes, metrics_dir
from tasks.middleware.worker_process import WorkerProcess, die_with_parent

__all__ = [
    "Heartbeat",
    "Prometheus",
    "WorkerProcess",
    "beat_interval",
    "die_with_parent",
    "forget_dead_processes",
    "kinds_for_queues",
    "metrics_dir",
    "setup_middleware",
]


def setup_middleware(broker) -> None:
    """Add the launcher-death, heartbeat and Prometheus middleware to ``broker``."""
    broker.add_middleware(WorkerProcess())
    broker.add_middleware(Heartbeat())
    broker.add_middleware(Prometheus())
