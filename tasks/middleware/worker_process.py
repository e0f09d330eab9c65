"""WorkerProcess middleware: set-up of a ``dramatiq`` worker process.

The launcher's children (worker and exposition processes) get SIGTERM when the
launcher dies, so a ``kill -9`` of it leaves no orphan consuming messages or
holding the metrics port while supervisord starts a new launcher. A worker
process logs through app/logs.py as its kind (JSON in production).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal

from dramatiq.middleware import Middleware

from app.config import get_settings
from app.logs import configure_logging
from tasks.middleware.heartbeat import kinds_for_queues

log = logging.getLogger(__name__)

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
        kinds = kinds_for_queues(sorted(worker.consumer_whitelist or []))
        configure_logging(get_settings(), "+".join(kinds) or "worker")
