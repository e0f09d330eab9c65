"""The holiday table (app.holidays): dates on which a campaign, or every campaign, dials nothing.

``campaign_id`` is a plain integer, null for a holiday of every campaign, as the
outbound tables keep theirs: models.py imports this module, so it cannot point
at the Campaign model.
"""

from __future__ import annotations

from peewee import CharField, DateField, IntegerField

from app.clock import utcnow
from app.modelbase import BaseModel, UTCDateTimeField


class Holiday(BaseModel):
    """A local date (in each campaign's own zone) on which nothing is dialled."""

    campaign_id = IntegerField(null=True)  # null: every campaign
    day = DateField()
    name = CharField(max_length=100)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("campaign_id", "day"), False),)


HOLIDAY_MODELS = [Holiday]
