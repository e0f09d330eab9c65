"""The processes' own tables: heartbeats, and supervisord's transitions of our programs."""

from __future__ import annotations

from peewee import BooleanField, CharField, IntegerField

from app.clock import utcnow
from app.modelbase import BaseModel, JSONField, UTCDateTimeField


class Heartbeat(BaseModel):
    """The last sign of life of one process (name like ``agi@host:pid``)."""

    name = CharField(max_length=128, primary_key=True)
    kind = CharField(max_length=32, index=True)  # web, dialer, lifecycle, scheduler, agi
    host = CharField(max_length=128, default="")
    pid = IntegerField(default=0)
    seen_at = UTCDateTimeField(default=utcnow)
    info = JSONField(default=dict)


class ProcessTransition(BaseModel):
    """A PROCESS_STATE_* event of one of our supervisord programs (python -m supervision)."""
    at = UTCDateTimeField(default=utcnow, index=True)
    host = CharField(max_length=128)
    program = CharField(max_length=128)  # group:process, e.g. callcast-dialer:callcast-dialer_00
    from_state = CharField(max_length=16)
    to_state = CharField(max_length=16)  # STARTING, RUNNING, BACKOFF, STOPPING, EXITED, ...
    pid = IntegerField(null=True)
    expected = BooleanField(null=True)  # EXITED only: the exit code was one of exitcodes
