"""``python -m agi.amievents``: the outcome path that does not need FastAGI.

When no FastAGI daemon confirmed a report, the dialplan sends
``UserEvent(CallcastEvent,campaign: ..,contact: ..,attempt: ..,event: ..,arg: ..,token: ..)``
on AMI. This process logs in to the AMI of every enabled PBX of the pool
(``agi.amipool``) with ``Events: user`` and stores each such
event in ``call_event`` with source ``ami`` through the daemon's own writer:
the same validation, the same call-token check (any AMI user with ``write =
user`` can send a UserEvent: one without the call's token goes to
``quarantined_report``, never to ``call_event``), the same group commit, the
same journal when the database is unreachable, and the same idempotent insert,
so an event that also reached a FastAGI daemon is stored once.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from datetime import datetime, timezone

from agi import quarantine
from agi.admission import RejectLog
from agi.daemon import call_token_secret_allowed
from agi.errors import AgiError, AgiProtocolError
from agi.journal import Journal
from agi.metrics import Metrics
from agi.protocol import AgiRequest, event_from_request, token_of
from agi.amipool import PbxWatch
from agi.refill import Nudger
from agi.writer import EventWriter
from app import heartbeats
from app.calltokens import CallTokens
from app.config import settings_or_exit
from app.db import init_database
from app.events import USER_EVENT
from app.logs import configure_logging

log = logging.getLogger(__name__)

HEARTBEAT_KIND = "ami-events"
SOURCE = "ami"
KEEPALIVE_SECONDS = 5.0  # a Ping this often notices a restarted PBX and logs in again


def request_from_userevent(message):
    """The FastAGI request a ``UserEvent: CallcastEvent`` stands for, or None for other events."""
    if message.event != "UserEvent" or message.get("UserEvent") != USER_EVENT:
        return None
    script = "/".join(
        (message.get(key) or "").strip() for key in ("campaign", "contact", "attempt", "event")
    )
    # Built as the FastAGI request it stands for, so both paths validate alike.
    return AgiRequest(
        env={
            "agi_network_script": script,
            "agi_uniqueid": message.get("Uniqueid") or "",
            "agi_channel": message.get("Channel") or "",
            "agi_accountcode": message.get("AccountCode") or "",
        },
        args=((message.get("arg") or "").strip(), (message.get("token") or "").strip()),
    )


def event_from_userevent(message, received_at):
    """The Event a ``UserEvent: CallcastEvent`` message reports, or None for other events.

    Raises:
        AgiProtocolError: a CallcastEvent whose ids or event name are not valid.
    """
    request = request_from_userevent(message)
    if request is None:
        return None
    return event_from_request(request, received_at=received_at, source=SOURCE)


class UserEventRecorder:
    """An AMI listener that hands every CallcastEvent bearing its call's token to the writer."""

    def __init__(self, writer, metrics, call_token_secret, peer="ami"):
        self.writer = writer
        self.metrics = metrics
        self.tokens = CallTokens(call_token_secret)
        self.peer = peer  # the AMI server the events came from
        self.gate = quarantine.RateGate()
        self.reject_log = RejectLog(log)  # a flood of forgeries logs a line per interval
        self._log_lock = threading.Lock()  # AMI's reader thread notes, the main thread flushes

    def __call__(self, message):
        request = request_from_userevent(message)
        if request is None:
            return
        try:
            event = event_from_request(request, received_at=datetime.now(timezone.utc),
                                       source=SOURCE)
        except AgiProtocolError as exc:
            self._refused(exc.reason, f"UserEvent uniqueid={message.get('Uniqueid')}: {exc}")
            return
        token = token_of(request)
        refused = quarantine.token_verdict(self.tokens, event, token)
        if refused is None:
            self.writer.submit(event, None)
            return
        self._refused(refused, f"UserEvent uniqueid={message.get('Uniqueid')} "
                               f"campaign={event.campaign_id} contact={event.contact_id} "
                               f"attempt={event.attempt} event={event.name}")
        if self.gate.take(time.monotonic()):
            self.metrics.quarantined.inc()
            self.writer.quarantine(quarantine.quarantined(event, refused, self.peer,
                                                          request.env, token))
        else:
            self.metrics.quarantine_dropped.inc()

    def _refused(self, reason, detail):
        self.metrics.reject(reason)
        with self._log_lock:
            self.reject_log.note(self.peer, reason, detail, time.monotonic())

    def flush_log(self):
        """Log the refusal counts of the interval that ended (main thread)."""
        with self._log_lock:
            self.reject_log.flush(time.monotonic())


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
    nudger = Nudger(settings.broker_url)  # a stored end refills its slot at once
    writer = EventWriter(db, journal, metrics, lambda waiters, stored: None,
                         on_stored=nudger.stored)
    writer.start()
    watch = PbxWatch(settings, lambda peer: UserEventRecorder(
        writer, metrics, settings.call_token_secret, peer=peer))
    log.info("recording AMI UserEvents from every enabled PBX journal=%s", journal_path)
    name = heartbeats.process_name(HEARTBEAT_KIND)
    while not stop.is_set():
        watch.sync(db)
        if not watch.ping() and watch.sessions:
            beat(db, name, journal.depth)  # alive means: every PBX logged in and listening
        watch.flush_logs()
        stop.wait(KEEPALIVE_SECONDS)
    watch.close()
    stopped = writer.stop(timeout=10)
    nudger.stop()
    if stopped:
        journal.close()
    log.info("stopped writer_stopped=%s journal_depth=%d", stopped, journal.depth)
    return 0 if stopped else 1


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = settings_or_exit()
    configure_logging(settings, HEARTBEAT_KIND)
    if not call_token_secret_allowed(settings, log):
        return 2
    path = settings.agi_journal_path
    journal_path = args.journal or path.with_name(f"{path.stem}-ami{path.suffix}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return run(settings, journal_path, args.database_url or settings.database_url, stop)


if __name__ == "__main__":
    sys.exit(main())
