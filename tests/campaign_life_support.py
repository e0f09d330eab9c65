"""The life of a stored campaign after its input was taken: activate on pbxsim, tick,
finish, drain and close with its report.

The property tests of campaign input (the domain API, the console form, the CLI) share
it: whatever values a campaign was stored with, this life runs to CLOSED.
"""

from __future__ import annotations

from datetime import timedelta

from app import campaigns
from app.config import get_settings
from app.dialer.tick import run_tick
from app.draining import FINALIZE, poll
from app.finalization import finalize
from app.lifecycle import expiry_scan
from app.models import CLOSED, Campaign, CampaignReport


def drain_and_close(campaign_id: int, ami, now) -> None:
    """The lifecycle's path: the scan starts the drain, the drain hands over, the close."""
    later = now + timedelta(seconds=5)
    drains = dict(expiry_scan(later).drain)
    assert campaign_id in drains
    # calls still ringing are named in the report once the (short) drain limit passes
    handed = poll(campaign_id, drains[campaign_id], later + timedelta(seconds=2), ami,
                  drain_max_s=1)
    assert handed.action == FINALIZE
    assert finalize(campaign_id, later + timedelta(seconds=3), handed.token) == "closed"


def tick_drain_and_close(campaign_id: int, ami, now, contacts: int) -> None:
    """Activate a ready campaign against ``ami``, tick it twice, finish it, drain and close it."""
    campaigns.activate(campaign_id, now, ami=ami)
    result = run_tick(campaign_id, now, ami, get_settings())
    assert result.status and not result.status.startswith("tick failed"), result.status
    run_tick(campaign_id, now + timedelta(seconds=1), ami, get_settings())
    campaigns.finish(campaign_id, now + timedelta(seconds=2))
    drain_and_close(campaign_id, ami, now)
    assert Campaign.get_by_id(campaign_id).state == CLOSED
    report = CampaignReport.get(CampaignReport.campaign == campaign_id)
    assert report.data["contacts"] == contacts
