"""The one clock: aware UTC now. Domain functions take ``now`` as an argument;
only the edges (actors, views, CLI, daemons) read the clock, through this."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)
