"""The callee's time zones (app.callee_hours): the sets of zones numbers map to, and which
sets each contact list holds.

``contact.zone_set`` and ``campaign_contact.zone_set`` name a ``zone_set`` row by
its id (0: unknown, the campaign's own zone); models.py imports this module, so
these are plain integers, as the outbound tables keep theirs.
"""

from __future__ import annotations

from peewee import CharField, IntegerField

from app.modelbase import BaseModel


class ZoneSet(BaseModel):
    """The IANA zones a number may be in, space-separated and sorted (one row per set)."""

    zones = CharField(max_length=1000, unique=True)


class ListZoneSet(BaseModel):
    """A zone set some contact of a list is in: the tick evaluates these few, not the contacts."""

    contact_list_id = IntegerField()
    zone_set_id = IntegerField()

    class Meta:
        indexes = ((("contact_list_id", "zone_set_id"), True),)


CALLEE_MODELS = [ZoneSet, ListZoneSet]
