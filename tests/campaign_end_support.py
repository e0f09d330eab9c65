"""Builders for the campaign-end tests: a campaign with its calls as the dialer and AGI leave them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.models import (
    DONE,
    FINAL,
    PENDING,
    CallAttempt,
    CallEvent,
    Campaign,
    CampaignContact,
    CampaignOption,
    Contact,
    ContactList,
)

UTC = timezone.utc
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def make_campaign(n, *, state, columns=("name", "city"), tz="Europe/Paris",
                  options=(("1", "Confirm"), ("2", "Cancel")), **fields) -> Campaign:
    """A campaign in ``state`` whose list holds ``n`` contacts (+3361234xxxx), seeded as pending."""
    contact_list = ContactList.create(name="list", status="ready", phone_column="Phone",
                                      columns=list(columns), rows_total=n, rows_imported=n)
    rows = [
        {"contact_list": contact_list.id, "phone": f"+3361234{i:04d}",
         "fields": {"name": f"Nom {i} é", "city": "Paris"}, "position": i + 2}
        for i in range(n)
    ]
    for start in range(0, n, 500):
        Contact.insert_many(rows[start:start + 500]).execute()
    values = dict(name="end test", state=state, timezone=tz, contact_list=contact_list.id,
                  max_attempts=3, starts_at=T0 - timedelta(days=1))
    values.update(fields)
    campaign = Campaign.create(**values)
    for digit, label in options:
        CampaignOption.create(campaign=campaign.id, digit=digit, label=label)
    ids = contact_ids(campaign)
    cc = [{"campaign": campaign.id, "contact": cid, "state": PENDING, "attempts": 0,
           "next_attempt_at": T0} for cid in ids]
    for start in range(0, len(cc), 500):
        CampaignContact.insert_many(cc[start:start + 500]).execute()
    return Campaign.get_by_id(campaign.id)


def contact_ids(campaign) -> list[int]:
    return [c.id for c in Contact.select(Contact.id)
            .where(Contact.contact_list == campaign.contact_list_id).order_by(Contact.position)]


def call(campaign, contact_id, number, events, *, at=T0, final=True, outcome="", state=DONE):
    """One attempt: its row, its events [(name, seconds after ``at``, data)], and the contact's counter."""
    CallAttempt.create(campaign=campaign.id, contact=contact_id, number=number, state=state,
                       channel_id=CallAttempt.make_channel_id(campaign.id, contact_id, number),
                       originated_at=at, outcome=outcome)
    for name, seconds, *data in events:
        CallEvent.create(campaign_id=campaign.id, contact_id=contact_id, attempt=number,
                         name=name, received_at=at + timedelta(seconds=seconds),
                         uniqueid=CallAttempt.make_channel_id(campaign.id, contact_id, number),
                         data=data[0] if data else {})
    CampaignContact.update(attempts=number, state=FINAL if final else PENDING,
                           last_outcome=outcome).where(
        (CampaignContact.campaign == campaign.id) & (CampaignContact.contact == contact_id)
    ).execute()


def working_rows(campaign_id) -> dict:
    return {
        "events": CallEvent.select().where(CallEvent.campaign_id == campaign_id).count(),
        "attempts": CallAttempt.select().where(CallAttempt.campaign == campaign_id).count(),
        "contacts": CampaignContact.select().where(CampaignContact.campaign == campaign_id).count(),
    }
