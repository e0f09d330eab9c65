"""The PBX pool's table: one row per Asterisk server the dialer may send calls to.

Its own module (not ``app/models.py``) so the pool is read and written in one
place (``app.pbx.pool``); ``call_attempt.pbx_id`` names the row that carries a
call, a plain integer like ``call_event.campaign_id``: an attempt outlives a
PBX removed from the pool.
"""

from __future__ import annotations

from peewee import BlobField, BooleanField, CharField, IntegerField

from app.clock import utcnow
from app.modelbase import BaseModel, UTCDateTimeField


class Pbx(BaseModel):
    """One Asterisk server: how to reach its AMI, how it reaches the AGI daemons, its limits.

    ``down_since``/``last_error``: written by the dialer when its AMI stops
    answering and cleared when it answers again (``/health`` and the Operations
    page read them; the dialer sends a down PBX no calls).
    """

    name = CharField(max_length=40, unique=True)
    ami_host = CharField(max_length=253)
    ami_port = IntegerField()
    ami_user = CharField(max_length=80)
    ami_secret = CharField(max_length=128)
    agi_host = CharField(max_length=253)  # the AGI daemons' address as this PBX reaches them
    dial_template = CharField(max_length=200)  # "": DIAL_TEMPLATE of the settings
    capacity = IntegerField()  # channels this PBX may carry for us at once
    originate_rate = IntegerField(default=0)  # originates per second, 0: no limit of its own
    weight = IntegerField(default=1)
    enabled = BooleanField(default=True)
    # a dialplan agent (tasks.pbxagent) on its host writes the dialplan it is sent;
    # without one, the PBX reads the file the web and dialer hosts write (DIALPLAN_PATH)
    agent = BooleanField(default=False)
    dialplan_version = IntegerField(default=0)  # the last dialplan sent to its agent
    dialplan_confirmed = IntegerField(default=0)  # the last one its agent wrote and reloaded
    # the MEDIA_DIR of its agent's host, as the agent reported it at start ("": the
    # settings' own): its dialplan names the sound files there (app.pbx.media)
    media_dir = CharField(max_length=200, default="")
    down_since = UTCDateTimeField(null=True)
    last_error = CharField(max_length=300, default="")
    created_at = UTCDateTimeField(default=utcnow)


class MediaFile(BaseModel):
    """A sound file a dialplan plays, kept for the PBX hosts that do not share MEDIA_DIR.

    ``path``: relative to MEDIA_DIR, as the campaign names it; ``data``: its bytes
    (bytea on PostgreSQL), bounded where it enters (``app.pbx.media.MAX_BYTES``);
    ``campaign_id``: the campaign that keeps the row (a plain integer, as in
    ``message_audio``: the purge at close deletes it, ``app.pbx.media.release``).
    """

    path = CharField(max_length=500, unique=True)
    sha256 = CharField(max_length=64)
    size = IntegerField()
    data = BlobField()
    campaign_id = IntegerField(index=True)
    created_at = UTCDateTimeField(default=utcnow)


PBX_MODELS = [Pbx, MediaFile]
