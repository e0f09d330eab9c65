"""``python -m supervision``: the supervisord event listener that records our programs'
PROCESS_STATE_* transitions.

Subscribed with ``events=PROCESS_STATE`` in an ``[eventlistener:]`` section (the Ansible
supervisor role writes it); supervisord starts it through ``callcast-run``, so it reads the
same ``.env`` (DATABASE_URL) as every program. stdout is the protocol channel: logs go to
stderr (or LOG_DIR) only.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from app import process_states
from app.clock import utcnow
from app.config import settings_or_exit
from app.db import connection
from app.heartbeats import HOST
from app.logs import configure_logging
from supervision.protocol import (
    FAIL, MAX_HEADER_LINE, OK, READY, ListenerProtocolError, parse_header, payload_length,
    transition,
)

log = logging.getLogger("supervision")

# While the database is away an event is answered FAIL (supervisord buffers it again and
# resends it): wait a little first, growing, so the resends do not spin.
RETRY_MIN, RETRY_MAX = 0.5, 30.0
# Old transitions go at the first record after a (re)start and every this many records after.
PRUNE_EVERY = 1000


class Recorder:
    """Records the transitions of programs named ``prefix*``; OK or FAIL for each event."""

    def __init__(self, prefix: str, host: str = HOST, clock=utcnow, pause=time.sleep):
        self.prefix, self.host, self.clock, self.pause = prefix, host, clock, pause
        self.retry = 0.0
        self.recorded = 0

    def __call__(self, headers: dict, payload: bytes) -> bytes:
        found = transition(headers, payload)
        if found is None or not found.group.startswith(self.prefix):
            return OK
        try:
            with connection():
                process_states.record(self.host, found.program, found.from_state,
                                      found.to_state, self.clock(), found.pid, found.expected)
        except Exception:  # the database is away: supervisord keeps the event for us
            self.retry = min(max(self.retry * 2, RETRY_MIN), RETRY_MAX)
            log.exception("could not record %s %s -> %s; FAIL after %.1fs (resent later)",
                          found.program, found.from_state, found.to_state, self.retry)
            self.pause(self.retry)
            return FAIL
        self.retry = 0.0
        log.info("recorded program=%s %s -> %s pid=%s expected=%s", found.program,
                 found.from_state, found.to_state, found.pid, found.expected)
        if self.recorded % PRUNE_EVERY == 0:
            self.prune()
        self.recorded += 1
        return OK

    def prune(self) -> None:
        """Delete transitions past their retention; a side hook that never fails the event."""
        try:
            with connection():
                removed = process_states.prune(self.clock())
            if removed:
                log.info("pruned %d transitions older than %d days", removed,
                         process_states.RETENTION_DAYS)
        except Exception:
            log.exception("could not prune old transitions")


def read_exactly(stream, size: int) -> bytes:
    """``size`` bytes from ``stream``; fewer only at end of input."""
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def serve(stdin, stdout, handle) -> int:
    """READY, one event, RESULT, until supervisord closes our stdin; 0 then, 1 on garbage."""
    while True:
        stdout.write(READY)
        stdout.flush()
        line = stdin.readline(MAX_HEADER_LINE + 1)
        if not line:
            return 0
        try:
            headers = parse_header(line)
            payload = read_exactly(stdin, payload_length(headers))
            if len(payload) < payload_length(headers):
                return 0  # stdin closed mid-event: supervisord is going away
            answer = handle(headers, payload)
        except ListenerProtocolError as exc:
            # out of step with supervisord: exit, it restarts us on a clean stream
            log.error("eventlistener protocol error: %s", exc)
            return 1
        stdout.write(answer)
        stdout.flush()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supervision", description=__doc__)
    parser.add_argument("--prefix", default="callcast-",
                        help="record the programs whose group name starts with this")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = settings_or_exit()
    configure_logging(settings, "supervision")
    return serve(sys.stdin.buffer, sys.stdout.buffer, Recorder(args.prefix))


if __name__ == "__main__":
    sys.exit(main())
