"""The UserEvent recorder's AMI sessions: one per enabled PBX of the pool, kept in step with it.

``python -m agi.amievents`` watches every PBX: each session logs in with
``Events: user`` and hands the dialplan's ``UserEvent(CallcastEvent)`` reports
to a ``UserEventRecorder`` naming that PBX; all of them share one writer (one
journal, one database). ``sync`` follows the pool (a PBX added, changed,
disabled) each keep-alive round; ``ping`` says which PBXs did not answer.
"""

from __future__ import annotations

import logging

from app.pbx import pool
from app.pbx.ami import AmiClient
from app.pbx.errors import PbxError

log = logging.getLogger(__name__)


class PbxWatch:
    def __init__(self, settings, make_recorder):
        self.settings = settings
        self.make_recorder = make_recorder  # peer text -> a UserEventRecorder
        self.sessions = {}  # pbx id -> (key, name, AmiClient, recorder)

    def sync(self, db) -> None:
        """Sessions for exactly the enabled PBXs (the pool seeded from AMI_* when empty)."""
        try:
            with db.connection_context():
                pool.ensure_seeded(self.settings)
                rows = pool.enabled_pbxs()
        except Exception as exc:  # the database away: keep the sessions we have
            log.warning("cannot read the PBX pool, keeping %d sessions: %s",
                        len(self.sessions), exc)
            return
        wanted = {}
        for row in rows:
            key = (row.ami_host, int(row.ami_port), row.ami_user, row.ami_secret)
            current = self.sessions.pop(row.id, None)
            if current is not None and current[0] == key:
                wanted[row.id] = current
                continue
            if current is not None:
                current[2].close()
            wanted[row.id] = self._open(row, key)
        for _, name, client, _ in self.sessions.values():
            log.info("no longer watching pbx %s", name)
            client.close()
        self.sessions = wanted

    def _open(self, row, key):
        peer = f"ami {row.name} {row.ami_host}:{row.ami_port}"
        recorder = self.make_recorder(peer)
        client = AmiClient(*key, timeout=self.settings.ami_timeout, events="user",
                           name=f"ami-events-{row.name}")
        client.add_listener(recorder)
        log.info("recording AMI UserEvents from pbx %s (%s:%s)", row.name, row.ami_host,
                 row.ami_port)
        return key, row.name, client, recorder

    def ping(self) -> list[str]:
        """The PBXs whose session did not answer a Ping (it reconnects by itself)."""
        down = []
        for _, name, client, _ in self.sessions.values():
            try:
                client.ping()
            except PbxError as exc:
                log.warning("pbx %s: AMI not reachable, retrying: %s", name, exc)
                down.append(name)
        return down

    def flush_logs(self) -> None:
        for _, _, _, recorder in self.sessions.values():
            recorder.flush_log()

    def close(self) -> None:
        for _, _, client, _ in self.sessions.values():
            client.close()
        self.sessions = {}
