"""Contacts added to a list while campaigns dial it: they get their dial state at once.

A campaign's dial states (``campaign_contact``) are seeded from its list at
activation; a contact appended afterwards had none, so the dialer never saw it.
``seed_added`` gives the contacts just written (positions past ``after``) a
pending dial state in every campaign that dials the list, in the transaction
that wrote them. A campaign that can no longer dial (FINISHED and later) keeps
its list as it ended: appending to it is refused (``refuse_if_finishing``).

Contacts are never deleted while such a campaign uses the list (migration
0005's guard); one that must not be called any more is stopped in that
campaign (``app.contacts.stopping``) or put on the do-not-call list, which the
dialer reads at every claim.
"""

from __future__ import annotations

import logging

from peewee import Value, fn

from app.contacts.errors import ContactListInUseError
from app.models import (
    ACTIVE,
    DRAFT,
    DRAINING,
    FINALIZING,
    FINISHED,
    PAUSED,
    PENDING,
    Campaign,
    CampaignContact,
    Contact,
)

log = logging.getLogger(__name__)

DIALING = (ACTIVE, PAUSED)
ENDING = (FINISHED, DRAINING, FINALIZING)


def refuse_if_finishing(list_id: int, name: str) -> None:
    """Raises: ContactListInUseError when a FINISHED..FINALIZING campaign uses the list."""
    users = list(Campaign.select(Campaign.id, Campaign.name, Campaign.state)
                 .where((Campaign.contact_list == list_id) & Campaign.state.in_(ENDING))
                 .order_by(Campaign.id))
    if users:
        raise ContactListInUseError(list_id, name, users, action="changed")


def seeded_campaigns(list_id: int) -> list[int]:
    """The campaigns with dial states built from the list: dialing, or a DRAFT mid-activation."""
    seeded_draft = CampaignContact.select(Value(1)).where(CampaignContact.campaign == Campaign.id)
    query = Campaign.select(Campaign.id).where(
        (Campaign.contact_list == list_id)
        & (Campaign.state.in_(DIALING) | ((Campaign.state == DRAFT) & fn.EXISTS(seeded_draft)))
    )
    return [campaign_id for (campaign_id,) in query.order_by(Campaign.id).tuples()]


def seed_added(list_id: int, after: int, now) -> dict[int, int]:
    """Pending dial states for the list's contacts past position ``after``; {campaign: added}.

    Run in the transaction that wrote them. Idempotent (the unique (campaign,
    contact) index): a contact that has a dial state keeps it.
    """
    added = {}
    for campaign_id in seeded_campaigns(list_id):
        rows = Contact.select(
            Value(campaign_id), Contact.id, Value(PENDING), Value(0),
            Value(CampaignContact.next_attempt_at.db_value(now)), Value(""),
            Value(CampaignContact.updated_at.db_value(now)), Contact.zone_set,
        ).where((Contact.contact_list == list_id) & (Contact.position > after))
        added[campaign_id] = (
            CampaignContact.insert_from(rows, [
                CampaignContact.campaign, CampaignContact.contact, CampaignContact.state,
                CampaignContact.attempts, CampaignContact.next_attempt_at,
                CampaignContact.last_outcome, CampaignContact.updated_at, CampaignContact.zone_set,
            ]).on_conflict_ignore().as_rowcount().execute()
        )
        log.info("contacts added while dialing list=%s campaign=%s added=%s", list_id,
                 campaign_id, added[campaign_id])
    return added
