"""What the dialer tells people: the status line each tick writes, and ``campaign show``."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from peewee import fn

from app.campaigns.states import get_campaign
from app.dialer.live import in_flight_count, pbx_snapshot
from app.events import LOST
from app.models import DONE, FINAL, CallAttempt, Campaign, CampaignContact
from app.pbx.errors import PbxError

STATUS_MAX = 255


def set_status(campaign_id: int, status: str, now: datetime, *,
               wants_capacity: bool = False, only_in: str | None = None) -> bool:
    """Record why the campaign is (not) dialing, and whether it wants a share of the global caps.

    ``only_in``: write it only while the campaign is in that state (a tick's "dialing 4"
    must not replace the reason of a pause that came while the tick ran). False: not written.
    """
    where = Campaign.id == campaign_id
    if only_in is not None:
        where &= Campaign.state == only_in
    return bool(Campaign.update(
        dialer_status=status[:STATUS_MAX], dialer_status_at=now, wants_capacity=wants_capacity
    ).where(where).execute())


def counts_by_outcome(campaign_id: int) -> dict:
    """Contacts by state and final outcome, and attempts by outcome."""
    contacts = defaultdict(int)
    for state, outcome, n in (
        CampaignContact.select(
            CampaignContact.state, CampaignContact.last_outcome, fn.COUNT(CampaignContact.id)
        )
        .where(CampaignContact.campaign == campaign_id)
        .group_by(CampaignContact.state, CampaignContact.last_outcome)
        .tuples()
    ):
        key = outcome if state == FINAL else state
        contacts[key] += n
    attempts = defaultdict(int)
    for state, outcome, n in (
        CallAttempt.select(CallAttempt.state, CallAttempt.outcome, fn.COUNT(CallAttempt.id))
        .where(CallAttempt.campaign == campaign_id)
        .group_by(CallAttempt.state, CallAttempt.outcome)
        .tuples()
    ):
        attempts[outcome if state == DONE else state] += n
    return {"contacts": dict(contacts), "attempts": dict(attempts)}


def status(campaign_id: int, ami=None) -> dict:
    """The campaign as the CLI and back office show it."""
    campaign = get_campaign(campaign_id)
    live_db = in_flight_count([campaign_id])
    live_pbx = None
    if ami is not None:
        try:
            live_pbx = pbx_snapshot(ami).calls_by_account.get(campaign.account_code, 0)
        except PbxError:
            live_pbx = None
    counts = counts_by_outcome(campaign_id)
    status_at = campaign.dialer_status_at
    return {
        "id": campaign.id,
        "name": campaign.name,
        "state": campaign.state,
        "dialer_status": campaign.dialer_status,
        "dialer_status_at": status_at.isoformat() if status_at else None,
        "max_channels": campaign.max_channels,
        "max_attempts": campaign.max_attempts,
        "live_calls_db": live_db,
        "live_calls_pbx": live_pbx,
        # attempts closed without an outcome from the PBX; zero while the AGI path is healthy
        "lost_attempts": counts["attempts"].get(LOST, 0),
        "contacts": counts["contacts"],
        "attempts": counts["attempts"],
    }
