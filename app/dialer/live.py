"""Live calls: what the PBX has up (one ``CoreShowChannels``) and the database has in flight."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.dialer.outcomes import IN_FLIGHT
from app.models import CallAttempt, Campaign
from app.pbx.ami.channels import calls_by_account


@dataclass
class PbxSnapshot:
    calls_by_account: dict = field(default_factory=dict)  # account code -> live calls
    call_ids: set = field(default_factory=set)  # ChannelIds of live calls


def pbx_snapshot(ami, timeout=None) -> PbxSnapshot:
    """One CoreShowChannels: live calls per account code and the set of call ids.

    Raises:
        PbxError: AMI unreachable, refusing or timing out.
    """
    return snapshot_of(ami.core_show_channels(timeout))


def snapshot_of(channel_events) -> PbxSnapshot:
    """A PbxSnapshot from CoreShowChannel events."""
    calls = calls_by_account(channel_events)
    return PbxSnapshot(
        {code: len(per_call) for code, per_call in calls.items()},
        {call_id for per_call in calls.values() for call_id in per_call},
    )


def in_flight_count(campaign_ids) -> int:
    """Attempts without a terminal outcome, over the given campaigns."""
    ids = list(campaign_ids)
    if not ids:
        return 0
    return (
        CallAttempt.select()
        .where((CallAttempt.campaign.in_(ids)) & (CallAttempt.state.in_(IN_FLIGHT)))
        .count()
    )


def live_calls(campaign: Campaign, snapshot: PbxSnapshot | None) -> int:
    """max(PBX calls with the campaign's account code, attempts in flight in the DB)."""
    db_count = in_flight_count([campaign.id])
    pbx_count = snapshot.calls_by_account.get(campaign.account_code, 0) if snapshot else 0
    return max(db_count, pbx_count)
