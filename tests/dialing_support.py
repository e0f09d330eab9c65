"""Builders shared by the dialer tests: campaigns with contacts, events as the AGI daemon writes them."""

from __future__ import annotations

from datetime import datetime, time, timezone

from app.models import (
    CallEvent,
    CallWindow,
    Campaign,
    CampaignOption,
    Contact,
    ContactList,
)

UTC = timezone.utc


def make_campaign(phones, *, windows="all", options="1234", **fields) -> Campaign:
    """A DRAFT campaign on a new ready list holding ``phones`` (in order)."""
    contact_list = ContactList.create(name="list", status="ready", rows_total=len(phones),
                                      rows_imported=len(phones))
    rows = [
        {"contact_list": contact_list.id, "phone": phone, "fields": {}, "position": i + 2}
        for i, phone in enumerate(phones)
    ]
    for start in range(0, len(rows), 500):
        Contact.insert_many(rows[start : start + 500]).execute()
    values = dict(name="test campaign", message_sound="hello-world", contact_list=contact_list.id)
    values.update(fields)
    campaign = Campaign.create(**values)
    if windows == "all":
        CallWindow.insert_many(
            [{"campaign": campaign.id, "weekday": d, "starts": time(0), "ends": time(0)}
             for d in range(7)]
        ).execute()
    elif windows:
        CallWindow.insert_many(
            [{"campaign": campaign.id, "weekday": s.weekday, "starts": s.starts, "ends": s.ends}
             for s in windows]
        ).execute()
    for digit in options:
        CampaignOption.create(campaign=campaign.id, digit=digit, label=f"option {digit}")
    return Campaign.get_by_id(campaign.id)


def contact_ids(campaign) -> list[int]:
    return [
        c.id
        for c in Contact.select(Contact.id)
        .where(Contact.contact_list == campaign.contact_list_id)
        .order_by(Contact.position)
    ]


def event(campaign_id, contact_id, attempt, name, at: datetime, **data):
    """Store one event the way the AGI daemon does."""
    CallEvent.create(
        campaign_id=campaign_id, contact_id=contact_id, attempt=attempt, name=name,
        received_at=at, uniqueid=f"cc-{campaign_id}-{contact_id}-{attempt}", data=data,
    )


class SimPbx:
    """pbxsim on a thread (real TCP) plus an AMI client logged in to it."""

    def __init__(self, **pbx_kwargs):
        from app.config import get_settings
        from app.pbx.ami import AmiClient
        from pbxsim.server import PbxsimThread

        settings = get_settings()
        pbx_kwargs.setdefault("dialplan_path", str(settings.dialplan_path))
        pbx_kwargs.setdefault("speed", 50.0)
        pbx_kwargs.setdefault("max_channels", 1000)
        self.thread = PbxsimThread(**pbx_kwargs)
        self.port = self.thread.start()
        self.ami = AmiClient("127.0.0.1", self.port, settings.ami_user, settings.ami_secret,
                             timeout=3.0, name="test")

    def stats(self):
        return self.thread.stats()

    def close(self):
        self.ami.close()
        self.thread.stop()
