"""The loop heartbeat of an AGI daemon: a file whose mtime its event loop refreshes.

A daemon that is stopped (SIGSTOP), deadlocked or stuck in a blocking call
still looks RUNNING to supervisord, and the kernel goes on completing
Asterisk's connects into its listen backlog, where they wait: ``run_agi`` has
no timeout, so every such channel stays pinned in ``AGI()``, takes no
fallback and sends no UserEvent. The watchdog (``python -m agi.watchdog``)
kills a daemon whose file has gone stale; the kernel then resets the waiting
connections, Asterisk reads no ``STORED`` and takes the fallback, and
supervisord starts the daemon again.

The file sits next to the daemon's journal (``<journal>.alive``, so the
primary and the fallback instance each have one) and holds JSON: ``pid``,
``started`` (the process's start time, so a recycled pid is never killed),
``port`` and ``source``. The loop touches it every ``BEAT_INTERVAL``; a clean
stop removes it. It is a local file on purpose: a daemon journaling while the
database is away is alive and must not be killed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

BEAT_INTERVAL = 0.25


def liveness_path(journal_path) -> Path:
    """Where the daemon that owns ``journal_path`` keeps its loop heartbeat."""
    path = Path(journal_path)
    return path.with_name(path.name + ".alive")


def process_started(pid) -> float:
    """The start time of process ``pid`` as the kernel records it (psutil).

    Raises:
        psutil.Error: no such process, or not readable.
    """
    return psutil.Process(pid).create_time()


def read(path):
    """(info, mtime) of a liveness file, or None when there is none (or it is unreadable)."""
    try:
        mtime = os.stat(path).st_mtime
        info = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        return None
    return info, mtime


class Liveness:
    """This process's liveness file: published at start, touched by the loop, removed at stop."""

    def __init__(self, path):
        self.path = Path(path)
        self._info = None
        self._failing = False

    def publish(self, port, source):
        """Write the file (atomically) naming this process; a failure is logged, not raised."""
        pid = os.getpid()
        self._info = {"pid": pid, "started": process_started(pid), "port": port,
                      "source": source}
        try:
            self._write()
        except OSError:
            # A side hook: the daemon serves on without it (unwatched, which the log says).
            log.exception("cannot write the liveness file %s; the watchdog cannot see this "
                          "daemon", self.path)
            self._failing = True

    def _write(self):
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(self._info) + "\n")
        os.replace(tmp, self.path)

    def touch(self):
        """Refresh the mtime (write the file again if someone removed it)."""
        try:
            try:
                os.utime(self.path)
            except FileNotFoundError:
                self._write()
            self._failing = False
        except OSError:
            if not self._failing:  # a side hook: log once, never stop the daemon
                log.exception("cannot refresh the liveness file %s", self.path)
            self._failing = True

    async def run(self):
        """Touch the file every BEAT_INTERVAL until cancelled."""
        while True:
            self.touch()
            await asyncio.sleep(BEAT_INTERVAL)

    def remove(self):
        try:
            self.path.unlink()
        except OSError:
            pass  # never written, or already gone
