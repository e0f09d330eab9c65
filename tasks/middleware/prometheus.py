"""Prometheus middleware: Dramatiq's metrics on METRICS_BIND:METRICS_PORT (port 0: none).

Dramatiq's exposition server binds 0.0.0.0 unless told otherwise; ours binds
METRICS_BIND (127.0.0.1 by default: a scraper on another host needs it set).

Every ``dramatiq`` launcher serves them from a forked exposition process, with
prometheus_client's multiprocess files in ``$TMPDIR/callcast-prometheus-<port>/``.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

from dramatiq.middleware import prometheus as dramatiq_prometheus

from app.config import get_settings
from tasks.middleware.worker_process import die_with_parent

log = logging.getLogger(__name__)

_PID_FILE = re.compile(r"_(\d+)\.db$")


def metrics_dir(port: int) -> Path:
    """prometheus_client's multiprocess folder of the launcher serving ``port``."""
    return Path(tempfile.gettempdir()) / f"callcast-prometheus-{port}"


def _configure_exposition(settings) -> None:
    # dramatiq's module reads dramatiq_prom_* at import; point it at our settings.
    path = metrics_dir(settings.metrics_port)
    path.mkdir(parents=True, exist_ok=True)
    dramatiq_prometheus.HTTP_HOST = settings.metrics_bind
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
    """Fork function of the dramatiq launcher: Prometheus exposition on METRICS_BIND:METRICS_PORT."""
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
