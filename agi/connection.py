"""One FastAGI connection: feed the parser, check the call token, hand the event over.

A complete block becomes an ``Event``. Its call token (the request's second
argument, ``app.calltokens``) must be the named attempt's: otherwise the
request is quarantined (``agi.quarantine``) and closed without a confirmation.
A good one goes to the writer thread; only when the writer reports it durable
does the connection send ``SET VARIABLE CALLCAST_AGI_STATUS STORED`` and close.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from agi import quarantine
from agi.errors import AgiProtocolError
from agi.protocol import CONFIRM_COMMAND, RequestParser, event_from_request, token_of
from agi.writer import LOST

log = logging.getLogger("agi.server")


class Connection(asyncio.Protocol):
    __slots__ = ("server", "transport", "parser", "event", "host", "port", "opened_at",
                 "state")

    def __init__(self, server, host, port, opened_at):
        self.server = server
        self.transport = None
        self.parser = RequestParser()
        self.event = None
        self.host = host
        self.port = port
        self.opened_at = opened_at  # loop time of the accept: the read deadlines count from it
        self.state = "reading"  # reading -> writing -> closed

    @property
    def started(self):
        return self.parser.started

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if self.state != "reading":
            return  # an unprompted HANGUP after the block, or junk: not our business
        server = self.server
        try:
            request = self.parser.feed(data)
            if request is None:
                return
            event = event_from_request(request, received_at=datetime.now(timezone.utc),
                                       source=server.source)
        except AgiProtocolError as exc:
            self._reject(exc.reason, exc.detail)
            return
        token = token_of(request)
        refused = quarantine.token_verdict(server.tokens, event, token)
        if refused is not None:
            self.event = event
            server.quarantine(event, refused, self.peer, request.env, token)
            self._reject(refused, f"campaign={event.campaign_id} contact={event.contact_id} "
                                  f"attempt={event.attempt} event={event.name}")
            return
        self.state = "writing"
        self.event = event
        server.admission.done_reading(self)
        server.writer.submit(event, self)

    def eof_received(self):
        return False  # close our side too; a half-written block counts as truncated

    def durable(self, stored):
        """Called on the loop once the writer has stored (or failed to store) the event."""
        server = self.server
        if stored == LOST:
            server.metrics.lost.inc()
            e = self.event
            self._log().critical(
                "event not stored (database and journal both failed) campaign=%s contact=%s "
                "attempt=%s event=%s; left unconfirmed for the dialplan's fallback",
                e.campaign_id, e.contact_id, e.attempt, e.name)
            # No confirmation: the dialplan sees no STORED and takes its fallback.
            self.state = "closed"
            self.transport.close()
            return
        server.metrics.event(self.event.name, stored)
        if self.transport.is_closing():
            self.state = "closed"
            return
        # Send the confirmation and close at once: Asterisk reads the command
        # before it sees our FIN, runs it, and its "200 result=1" reply only
        # meets a closed socket (a RST it reads as a normal end of script).
        # Waiting for that reply would cost a wake-up per request for nothing.
        self.state = "closed"
        self.transport.write(CONFIRM_COMMAND)
        self.transport.close()

    def _reject(self, reason, detail=""):
        """Close without a confirmation, counted and logged (once per peer and interval)."""
        self.state = "closed"
        self.server.refused(self, reason, detail)
        self.transport.abort()

    def timed_out(self):
        if self.state == "reading" and self.transport is not None:
            reason = "read_timeout" if self.parser.started else "idle_timeout"
            self._reject(reason, "no complete block in time")

    def evict(self):
        """Make room for a newer connection of the same peer at its cap."""
        if self.state == "reading" and self.transport is not None:
            self._reject("evicted", "peer at its connection cap")

    @property
    def peer(self):
        return f"{self.host}:{self.port}"

    def _log(self):
        """A logger carrying this connection's ids (uniqueid, campaign, peer)."""
        env = self.parser.env
        event = self.event
        return logging.LoggerAdapter(log, {
            "peer": self.peer,
            "uniqueid": event.uniqueid if event else env.get("agi_uniqueid"),
            "campaign_id": event.campaign_id if event else None,
        })

    def connection_lost(self, exc):
        server = self.server
        if self.state == "reading":
            # The peer left before the blank line: nothing to record.
            self.state = "closed"
            server.refused(self, "truncated" if self.parser.started else "empty",
                           "closed before a complete block")
        server.released(self)
