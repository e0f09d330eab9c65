"""Process heartbeats: each long-running process says it is alive."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from app.models import Heartbeat

HOST = socket.gethostname()


def process_name(kind: str) -> str:
    return f"{kind}@{HOST}:{os.getpid()}"


def beat(kind: str, now, info: dict | None = None, name: str | None = None) -> None:
    """Record that this process (of ``kind``) is alive at ``now``."""
    name = name or process_name(kind)
    (
        Heartbeat.insert(
            name=name, kind=kind, host=HOST, pid=os.getpid(), seen_at=now, info=info or {}
        )
        .on_conflict(
            conflict_target=[Heartbeat.name],
            preserve=[Heartbeat.seen_at, Heartbeat.info, Heartbeat.pid, Heartbeat.host],
        )
        .execute()
    )


def alive(kind: str, now, stale_after: int) -> list[Heartbeat]:
    """The processes of ``kind`` seen within the last ``stale_after`` seconds."""
    since = now - timedelta(seconds=stale_after)
    return list(
        Heartbeat.select()
        .where((Heartbeat.kind == kind) & (Heartbeat.seen_at >= since))
        .order_by(Heartbeat.name)
    )


def purge_stale(now, older_than: int) -> int:
    """Delete heartbeats not renewed for ``older_than`` seconds; return how many."""
    cutoff = now - timedelta(seconds=older_than)
    return Heartbeat.delete().where(Heartbeat.seen_at < cutoff).execute()
