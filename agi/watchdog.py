"""``python -m agi.watchdog``: kill an AGI daemon whose event loop stopped beating.

It watches the liveness files (``agi.liveness``) of the primary daemon and of
the fallback instance, on the host they run on. When one has not been touched
for ``AGI_WATCHDOG_STALE_SECONDS`` and its pid is still the process that
wrote it (same start time), the watchdog sends it SIGKILL: the only signal a
stopped (SIGSTOP) process acts on at once. The kernel then resets every
connection waiting in its backlog, Asterisk reads no ``STORED`` and takes the
dialplan's fallback, and supervisord restarts the daemon. Under honcho (the
Procfile) the whole stack stops instead: honcho restarts nothing.

It needs no database, so it works while the database is away.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import psutil

from agi.journal import fallback_journal_path
from agi.liveness import liveness_path, process_started, read
from app.config import settings_or_exit
from app.logs import configure_logging

log = logging.getLogger(__name__)


def default_paths(settings):
    """The liveness files of the primary and the fallback daemon (their default journals)."""
    journal = settings.agi_journal_path
    return [liveness_path(journal), liveness_path(fallback_journal_path(journal))]


class Watchdog:
    """Checks liveness files and kills the daemons whose heartbeat is stale."""

    def __init__(self, paths, stale_after):
        self.paths = [Path(p) for p in paths]
        self.stale_after = stale_after
        self.killed = []  # (pid, path) of every daemon killed, for tests and logs
        self._noted = set()  # (path, pid) already reported as gone

    def check(self, now=None):
        """One pass over every file; return the pids killed in it."""
        now = time.time() if now is None else now
        return [pid for pid in (self._check(path, now) for path in self.paths) if pid]

    def _check(self, path, now):
        found = read(path)
        if found is None:
            return None  # not started, or stopped cleanly
        info, mtime = found
        age = now - mtime
        if age <= self.stale_after:
            return None
        pid = info["pid"]
        try:
            same = process_started(pid) == info.get("started")
            zombie = psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.Error:
            same, zombie = False, False
        if not same or zombie:
            if (path, pid) not in self._noted:
                self._noted.add((path, pid))
                log.warning("liveness file %s is %.1f s old and its daemon pid=%s is gone",
                            path, age, pid)
            return None
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        self.killed.append((pid, path))
        log.critical("agi daemon pid=%s source=%s port=%s: no loop heartbeat for %.1f s "
                     "(stopped or frozen); killed so its waiting connections are reset and "
                     "Asterisk takes the fallback", pid, info.get("source"), info.get("port"),
                     age)
        return pid

    def run(self, stop, interval):
        """Check every ``interval`` seconds until ``stop`` is set."""
        log.info("watching %s, stale after %.1f s", ", ".join(map(str, self.paths)),
                 self.stale_after)
        while not stop.is_set():
            try:
                self.check()
            except Exception:  # one bad pass must not end the watch
                log.exception("watchdog pass failed")
            stop.wait(interval)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m agi.watchdog",
                                description=__doc__.splitlines()[0])
    p.add_argument("--watch", type=Path, action="append",
                   help="a liveness file to watch (repeatable; default: the primary's and the "
                   "fallback's, next to AGI_JOURNAL_PATH)")
    p.add_argument("--stale-seconds", type=float,
                   help="heartbeat age that gets a daemon killed (AGI_WATCHDOG_STALE_SECONDS)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = settings_or_exit()
    configure_logging(settings, "agi-watchdog")
    stale = args.stale_seconds or settings.agi_watchdog_stale_seconds
    watchdog = Watchdog(args.watch or default_paths(settings), stale)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    watchdog.run(stop, interval=max(stale / 6, 0.1))
    log.info("stopped after killing %d daemons", len(watchdog.killed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
