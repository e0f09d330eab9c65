"""The tables of personalised messages (working tables: purged when the campaign closes).

``campaign_id`` and ``contact_id`` are plain integers, as in ``call_event``: the
rows are written by activation and the ``tts`` actor and deleted by the purge.
"""

from __future__ import annotations

from peewee import CharField, IntegerField, TextField

from app.clock import utcnow
from app.modelbase import BaseModel, JSONField, UTCDateTimeField

PENDING, READY, FAILED = "pending", "ready", "failed"


class MessageAudio(BaseModel):
    """One distinct text of a campaign to synthesize, named by its content hash."""

    campaign_id = IntegerField()
    digest = CharField(max_length=64)
    text = TextField()
    state = CharField(max_length=16, default=PENDING)
    rank = IntegerField(default=0)  # the first position in the list that needs it: made first
    duration_ms = IntegerField(default=0)
    error = CharField(max_length=300, default="")
    created_at = UTCDateTimeField(default=utcnow)
    ready_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = (
            (("campaign_id", "digest"), True),
            (("campaign_id", "state", "rank"), False),
        )


class ContactMessage(BaseModel):
    """One contact's message in one campaign: its channel variables, its text, its problem."""

    campaign_id = IntegerField()
    contact_id = IntegerField()
    variables = JSONField(default=dict)  # CC_V<n> -> value, set by the Originate
    text = TextField(default="")  # what it says, for the contact view
    problem = CharField(max_length=500, default="")  # why it is skipped ("": it is not)

    class Meta:
        indexes = ((("campaign_id", "contact_id"), True),)


class ContactAudio(BaseModel):
    """A contact's message needs this synthesized text (one row per contact and digest)."""

    campaign_id = IntegerField()
    contact_id = IntegerField()
    digest = CharField(max_length=64)

    class Meta:
        indexes = (
            (("campaign_id", "contact_id", "digest"), True),
            (("campaign_id", "digest"), False),
        )


MESSAGE_MODELS = [MessageAudio, ContactMessage, ContactAudio]
