"""``python -m agi.amievents``: the outcome path that does not need FastAGI.

When the dialplan's FastAGI report fails (``AGISTATUS`` is not ``SUCCESS``) it
sends ``UserEvent(CallcastEvent,campaign: ..,contact: ..,attempt: ..,event: ..,arg: ..)``
on AMI. This process logs in to AMI with ``Events: user`` and stores each such
event in ``call_event`` with source ``ami`` through the daemon's own writer:
the same validation, the same group commit, the same journal when the database
is unreachable, and the same idempotent insert, so an event that also reached a
FastAGI daemon is stored once.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import datetime, timezone

from agi.errors import AgiError, AgiProtocolError
from agi.journal import Journal
from agi.metrics import Metrics
from agi.protocol import AgiRequest, event_from_request
from agi.writer import EventWriter
from app import heartbeats
from app.config import settings_or_exit
from app.db import init_database
from app.events import USER_EVENT
from app.logs import configure_logging
from app.pbx.ami import AmiClient
from app.pbx.errors import PbxError

log = logging.getLogger(__name__)

HEARTBEAT_KIND = "ami-events"
SOURCE = "ami"
KEEPALIVE_SECONDS = 5.0  # a Ping this often notices a restarted PBX and logs in again


def event_from_userevent(message, received_at):
    """The Event a ``UserEvent: CallcastEvent`` message reports, or None for other events.

    Raises:
        AgiProtocolError: a CallcastEvent whose ids or event name are not valid.
    """
    if message.event != "UserEvent" or message.get("UserEvent") != USER_EVENT:
        return None
    script = "/".join(
        (message.get(key) or "").strip() for key in ("campaign", "contact", "attempt", "event")
    )
    # Built as the FastAGI request it stands for, so both paths validate alike.
    request = AgiRequest(
        env={
            "agi_network_script": script,
            "agi_uniqueid": message.get("Uniqueid") or "",
            "agi_channel": message.get("Channel") or "",
        },
        args=((message.get("arg") or "").strip(),),
    )
    return event_from_request(request, received_at=received_at, source=SOURCE)


class UserEventRecorder:
    """An AMI listener that hands every CallcastEvent to the writer."""

    def __init__(self, writer, metrics):
        self.writer = writer
        self.metrics = metrics

    def __call__(self, message):
        try:
            event = event_from_userevent(message, datetime.now(timezone.utc))
        except AgiProtocolError as exc:
            self.metrics.reject(exc.reason)
            log.warning("refused UserEvent uniqueid=%s reason=%s: %s",
                        message.get("Uniqueid"), exc.reason, exc)
            return
        if event is not None:
            self.writer.submit(event, None)


def beat(db, name, journal_depth):
    try:
        with db.connection_context():
            heartbeats.beat(HEARTBEAT_KIND, datetime.now(timezone.utc),
                            info={"journal_depth": journal_depth}, name=name)
    except Exception:  # a heartbeat never stops the recording
        log.exception("heartbeat failed")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m agi.amievents", description=__doc__.splitlines()[0])
    parser.add_argument("--journal", default=None,
                        help="journal file (default: AGI_JOURNAL_PATH with an -ami suffix)")
    parser.add_argument("--database-url", default=None, help="database (DATABASE_URL)")
    return parser.parse_args(argv)


def run(settings, journal_path, database_url, stop: threading.Event) -> int:
    """Record UserEvents until ``stop`` is set; return the exit status."""
    metrics = Metrics()
    try:
        journal = Journal(journal_path).open()
    except AgiError as exc:
        log.critical("cannot start: %s", exc)
        return 2
    db = init_database(database_url)
    writer = EventWriter(db, journal, metrics, lambda waiters, stored: None)
    writer.start()
    ami = AmiClient(settings.ami_host, settings.ami_port, settings.ami_user, settings.ami_secret,
                    timeout=settings.ami_timeout, events="user", name="ami-events")
    ami.add_listener(UserEventRecorder(writer, metrics))
    log.info("recording AMI UserEvents from %s:%s journal=%s",
             settings.ami_host, settings.ami_port, journal_path)
    name = heartbeats.process_name(HEARTBEAT_KIND)
    while not stop.is_set():
        try:
            ami.ping()
        except PbxError as exc:
            log.warning("AMI not reachable, retrying: %s", exc)
        else:
            beat(db, name, journal.depth)  # alive means: logged in and listening
        stop.wait(KEEPALIVE_SECONDS)
    ami.close()
    stopped = writer.stop(timeout=10)
    if stopped:
        journal.close()
    log.info("stopped writer_stopped=%s journal_depth=%d", stopped, journal.depth)
    return 0 if stopped else 1


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = settings_or_exit()
    configure_logging(settings, HEARTBEAT_KIND)
    path = settings.agi_journal_path
    journal_path = args.journal or path.with_name(f"{path.stem}-ami{path.suffix}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return run(settings, journal_path, args.database_url or settings.database_url, stop)


if __name__ == "__main__":
    sys.exit(main())
