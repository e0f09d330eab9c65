"""Stopping one contact of a campaign (e.g. the person called in to opt out).

Its dial state becomes final with the outcome ``stopped`` whatever it was
(pending, or calling: the call already up goes on, and its events no longer
move the contact, as the fold only moves a contact that is calling); the
report counts it as ``stopped``. Optionally its number goes on the do-not-call
list, which every campaign's dialer reads at each claim.
"""

from __future__ import annotations

import logging

from app.campaigns.states import get_campaign
from app.db import row_id, write_transaction
from app.dnc import add_number
from app.errors import NotFoundError, ValidationError
from app.events import STOPPED
from app.models import ACTIVE, FINAL, PAUSED, CampaignContact, Contact

log = logging.getLogger(__name__)

STOPPABLE = (ACTIVE, PAUSED)


def find_contact(campaign, contact) -> Contact:
    """The campaign list's contact named by id or by phone number.

    Raises:
        NotFoundError: the list has no such contact.
    """
    query = Contact.select().where(Contact.contact_list == campaign.contact_list_id)
    found = row_id(contact)
    if found is not None:
        row = query.where(Contact.id == found).first()
    else:
        phone = str(contact or "").strip()[:40]
        row = query.where(Contact.phone == phone).first() if phone.isprintable() else None
    if row is None:
        raise NotFoundError(f"contact {str(contact)[:40]!r} is not in campaign {campaign.id}'s list")
    return row


def stop_contact(campaign_id, contact, now, dnc: bool = False, note: str = "",
                 user_id: int | None = None) -> dict:
    """Make one contact of an ACTIVE or PAUSED campaign final with outcome ``stopped``.

    ``contact``: its id or its phone number (as stored, E.164). ``dnc``: also put
    the number on the do-not-call list (``note`` goes with it).

    Returns ``{"contact_id", "phone", "was", "dnc"}`` (``was``: the dial state it
    left; ``final`` when it was final already, which stays as it was).

    Raises:
        NotFoundError: no such campaign, or no such contact in its list.
        ValidationError: the campaign is not dialing (ACTIVE or PAUSED), or a bad note.
    """
    with write_transaction():
        campaign = get_campaign(campaign_id)
        if campaign.state not in STOPPABLE:
            raise ValidationError(f"campaign {campaign.id} is {campaign.state}: a contact can "
                                  "be stopped while it is ACTIVE or PAUSED")
        row = find_contact(campaign, contact)
        state = CampaignContact.get_or_none((CampaignContact.campaign == campaign.id)
                                            & (CampaignContact.contact == row.id))
        was = state.state if state else "none"
        if state is not None and state.state != FINAL:
            (CampaignContact.update(state=FINAL, last_outcome=STOPPED, updated_at=now)
             .where((CampaignContact.id == state.id) & (CampaignContact.state == state.state))
             .execute())
        listed = False
        if dnc:
            listed = add_number(row.phone, source="stopped", note=note, now=now)[1]
    log.info("contact stopped campaign=%s contact=%s was=%s dnc=%s user=%s", campaign.id,
             row.id, was, dnc, user_id)
    return {"contact_id": row.id, "phone": row.phone, "was": was, "dnc": dnc,
            "dnc_added": listed}
