"""The second path for call events: ``UserEvent(CallcastEvent, ...)`` on AMI.

When the FastAGI report fails (daemon down or restarting, ``AGISTATUS`` not
SUCCESS) the generated dialplan still sends the same facts as an AMI
UserEvent. A dialer process listens for them (``UserEventCollector``, an AMI
connection of its own with ``Events: user``) and each tick stores what arrived
(``store``) as CallEvent rows with ``source = 'ami'`` before folding. The
unique (campaign, contact, attempt, name) index makes a duplicate of an event
the AGI daemon (or its fallback instance) did store a no-op.
"""

from __future__ import annotations

import collections
import logging
import os
from datetime import datetime, timezone

from app.events import HANGUP, is_event
from app.models import CallEvent

log = logging.getLogger(__name__)

USER_EVENT = "CallcastEvent"
MAX_BUFFER = 100_000  # events kept while no tick drains them (oldest dropped first)
MAX_ID = 2**31 - 1


def event_row(msg, received_at: datetime) -> dict | None:
    """A CallEvent row from one AMI ``UserEvent: CallcastEvent`` message; None if malformed."""
    if (msg.get("UserEvent") or "") != USER_EVENT:
        return None
    try:
        campaign_id = int(msg.get("campaign") or "")
        contact_id = int(msg.get("contact") or "")
        attempt = int(msg.get("attempt") or "")
    except ValueError:
        return None
    name = (msg.get("event") or "").strip()
    if not is_event(name) or not all(0 < v <= MAX_ID for v in (campaign_id, contact_id, attempt)):
        return None
    data = {"agistatus": (msg.get("agistatus") or "")[:16]}
    arg = (msg.get("arg") or "").strip()
    if name == HANGUP and arg:
        data["hangupcause"] = arg[:8]
    return dict(
        campaign_id=campaign_id, contact_id=contact_id, attempt=attempt, name=name,
        received_at=received_at, uniqueid=(msg.get("Uniqueid") or "")[:64],
        channel=(msg.get("Channel") or "")[:128], source="ami", data=data,
    )


def store(rows) -> int:
    """Insert event rows, ignoring the ones already stored; return how many were offered."""
    rows = list(rows)
    for start in range(0, len(rows), 200):
        CallEvent.insert_many(rows[start : start + 200]).on_conflict_ignore().execute()
    return len(rows)


class UserEventCollector:
    """A process-wide AMI listener that buffers CallcastEvent UserEvents for the next tick."""

    def __init__(self, client):
        self.client = client
        self.buffer = collections.deque(maxlen=MAX_BUFFER)
        self.pid = os.getpid()
        client.add_listener(self._on_event)

    @classmethod
    def from_settings(cls, settings):
        from app.pbx.ami import AmiClient

        client = AmiClient(settings.ami_host, settings.ami_port, settings.ami_user,
                           settings.ami_secret, timeout=settings.ami_timeout, events="user",
                           name="userevents")
        return cls(client)

    def _on_event(self, msg):
        if msg.event != "UserEvent":
            return
        row = event_row(msg, datetime.now(timezone.utc))
        if row is not None:
            self.buffer.append(row)

    def ensure_connected(self, wait_s: float = 0.2) -> bool:
        """Connect if not connected (the client then reconnects by itself); False while down."""
        if self.client.connected:
            return True
        try:
            self.client.connect(timeout=wait_s)
            return True
        except Exception as exc:  # the tick reports the PBX state; this only listens
            log.debug("user event listener not connected: %s", exc)
            return False

    def give_back(self, rows):
        """Put rows a failed store could not keep back in front of the buffer."""
        for row in reversed(rows):
            self.buffer.appendleft(row)

    def drain(self) -> list[dict]:
        rows = []
        while True:
            try:
                rows.append(self.buffer.popleft())
            except IndexError:
                return rows

    def close(self):
        self.client.close()
