"""The tables of what goes out: the outbox, webhook endpoints and deliveries, campaign mails.

``campaign_id`` columns are plain integers, as in ``call_event``: an outbox row
written in the same transaction as a state change is never refused by a
constraint, and a delivery outlives the campaign it speaks of.
"""

from __future__ import annotations

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from app.clock import utcnow
from app.modelbase import BaseModel, JSONField, UTCDateTimeField

STATE_CHANGED, CLOSED, CONTACT_FINISHED = (
    "campaign.state_changed", "campaign.closed", "contact.finished")
EVENT_TYPES = (STATE_CHANGED, CLOSED, CONTACT_FINISHED)

# delivery and mail status
PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"


class OutboxEvent(BaseModel):
    """Something that happened, written with the change itself; dispatched once."""

    kind = CharField(max_length=32)
    campaign_id = IntegerField()
    payload = JSONField(default=dict)
    created_at = UTCDateTimeField(default=utcnow)
    dispatched_at = UTCDateTimeField(null=True, index=True)


class WebhookEndpoint(BaseModel):
    """Where the operator wants events: one campaign's (campaign_id) or every campaign's (null)."""

    url = CharField(max_length=500)
    secret = CharField(max_length=100)  # signs every delivery; the receiver holds a copy
    campaign_id = IntegerField(null=True, index=True)
    events = CharField(max_length=200, default=",".join(EVENT_TYPES))
    active = BooleanField(default=True)
    description = CharField(max_length=200, default="")
    created_at = UTCDateTimeField(default=utcnow)

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(e.strip() for e in self.events.split(",") if e.strip())

    def __str__(self):
        return self.url


class WebhookDelivery(BaseModel):
    """One event for one endpoint: its body as signed, and where its attempts stand."""

    event_id = CharField(max_length=36)  # the same for every endpoint of one event
    event_type = CharField(max_length=32)
    campaign_id = IntegerField()
    endpoint = ForeignKeyField(WebhookEndpoint, backref="deliveries", on_delete="CASCADE",
                               index=False)
    body = TextField()
    status = CharField(max_length=16, default=PENDING, index=True)
    attempts = IntegerField(default=0)
    next_attempt_at = UTCDateTimeField(default=utcnow)
    lease_until = UTCDateTimeField(null=True)  # an attempt in flight holds it
    created_at = UTCDateTimeField(default=utcnow)
    delivered_at = UTCDateTimeField(null=True)
    last_error = CharField(max_length=300, default="")

    class Meta:
        indexes = ((("endpoint", "event_id"), True),)


class WebhookAttempt(BaseModel):
    """One HTTP attempt of a delivery: what came back and how long it took."""

    delivery = ForeignKeyField(WebhookDelivery, backref="attempt_log", on_delete="CASCADE")
    number = IntegerField()
    at = UTCDateTimeField(default=utcnow)
    outcome = CharField(max_length=16)  # ok | http_error | timeout | error
    status_code = IntegerField(null=True)
    latency_ms = IntegerField(default=0)
    error = CharField(max_length=300, default="")


class MailMessage(BaseModel):
    """The mail of one closed campaign: who gets it and whether it went."""

    campaign_id = IntegerField(unique=True)
    recipients = CharField(max_length=1000)
    subject = CharField(max_length=300)
    status = CharField(max_length=16, default=PENDING, index=True)
    attempts = IntegerField(default=0)
    next_attempt_at = UTCDateTimeField(default=utcnow)
    lease_until = UTCDateTimeField(null=True)  # an attempt in flight holds it
    created_at = UTCDateTimeField(default=utcnow)
    sent_at = UTCDateTimeField(null=True)
    last_error = CharField(max_length=300, default="")


OUTBOUND_MODELS = [OutboxEvent, WebhookEndpoint, WebhookDelivery, WebhookAttempt, MailMessage]
