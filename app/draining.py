"""Draining: a finished campaign waits until the PBX has none of its calls left.

One poll (``poll``) of a DRAINING campaign:

1. asks the PBX for its live channels with the campaign's account code (an
   unreachable PBX raises ``PbxError``: the caller retries later, it never
   finalizes blind);
2. folds the events that arrived since the last poll (the dialer's fold);
3. calls still up and the maximum drain time not reached: "wait";
4. otherwise closes in-flight attempts by the dialer's reconciliation rule and,
   in one transaction, moves the campaign to FINALIZING, hands the finalize
   chain its lease and records in the report how the drain ended, including
   the calls still up when the maximum drain time forced the end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from app.campaigns import get_campaign, transition
from app.chains import claim_lease, renew_lease
from app.clock import utcnow
from app.config import get_settings
from app.db import write_transaction
from app.dialer.folding import fold_events
from app.dialer.reconcile import reconcile
from app.errors import IllegalTransitionError, StaleStateError
from app.models import DRAINING, FINALIZING, Campaign, CampaignReport
from app.pbx.ami.channels import calls_by_account

log = logging.getLogger(__name__)

WAIT, FINALIZE, GONE = "wait", "finalize", "gone"


@dataclass
class DrainResult:
    action: str  # WAIT, FINALIZE or GONE (not DRAINING any more, or not this chain's)
    live: int = 0
    waited_s: float = 0.0
    still_up: list = field(default_factory=list)
    token: str = ""  # the finalize chain's token when action is FINALIZE


def live_channels(campaign: Campaign, ami, timeout=None) -> list[dict]:
    """The campaign's live calls on the PBX, one dict per call (both Local halves merged).

    Raises:
        PbxError: AMI unreachable, refusing or timing out.
    """
    calls = calls_by_account(ami.core_show_channels(timeout)).get(campaign.account_code, {})
    return [
        {
            "call_id": call_id,
            "channel": channel.get("Channel", ""),
            "state": channel.get("ChannelStateDesc", ""),
            "duration": channel.get("Duration", ""),
            **_attempt_of(call_id, campaign.id),
        }
        for call_id, channel in sorted(calls.items())
    ]


def _attempt_of(call_id: str, campaign_id: int) -> dict:
    """contact and attempt from a ChannelId ``cc-<campaign>-<contact>-<number>``."""
    parts = call_id.split("-")
    if len(parts) == 4 and parts[0] == "cc" and parts[1] == str(campaign_id):
        try:
            return {"contact_id": int(parts[2]), "attempt": int(parts[3])}
        except ValueError:
            pass
    return {"contact_id": None, "attempt": None}


def poll(campaign_id: int, token: str, now, ami, drain_max_s: int | None = None) -> DrainResult:
    """One drain poll of the chain holding ``token`` (see the module docstring).

    Raises:
        PbxError: the PBX cannot say which calls are up; retry later.
    """
    if drain_max_s is None:
        drain_max_s = get_settings().drain_max_seconds
    campaign = get_campaign(campaign_id)
    if campaign.state != DRAINING or campaign.tick_token != token:
        return DrainResult(GONE)
    # the PBX first, the fold after: an attempt whose last event lands in
    # between is then folded, not reconciled as lost
    calls = live_channels(campaign, ami)
    # when the PBX answered: the report's end of the drain (``now`` was taken
    # before the question, and a last call may hang up during its round trip)
    answered_at = max(now, utcnow())
    if not renew_lease(campaign_id, DRAINING, token, now):
        return DrainResult(GONE)  # another chain took over while we asked the PBX
    fold_events(campaign_id, now)
    started = campaign.drain_started_at or now
    waited = max(0.0, (now - started).total_seconds())
    if calls and waited < drain_max_s:
        return DrainResult(WAIT, live=len(calls), waited_s=waited)

    reconcile(campaign_id, now, {c["call_id"] for c in calls})
    drain = {
        "started_at": started.isoformat(),
        "ended_at": answered_at.isoformat(),
        "waited_seconds": round(waited, 1),
        "forced": bool(calls),
    }
    with write_transaction():
        try:
            transition(campaign_id, FINALIZING, now)
        except (StaleStateError, IllegalTransitionError):
            return DrainResult(GONE)  # another drain poll got there first
        new_token = claim_lease(campaign_id, FINALIZING, now, force=True)
        CampaignReport.insert(
            campaign=campaign_id,
            step="",
            data={"drain": drain, "still_up": calls},
            created_at=now,
            updated_at=now,
        ).on_conflict(
            conflict_target=[CampaignReport.campaign],
            update={CampaignReport.data: {"drain": drain, "still_up": calls},
                    CampaignReport.updated_at: now},
        ).execute()
    if calls:
        log.warning(
            "campaign=%s drain forced after %.0fs: %d calls still up (%s)",
            campaign_id, waited, len(calls), ", ".join(c["call_id"] for c in calls),
        )
    else:
        log.info("campaign=%s drained after %.0fs", campaign_id, waited)
    return DrainResult(FINALIZE, live=len(calls), waited_s=waited, still_up=calls, token=new_token)
