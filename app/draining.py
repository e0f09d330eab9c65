"""Draining: a finished campaign waits until the PBX has none of its calls left.

One poll (``poll``) of a DRAINING campaign:

1. asks the PBX for its live channels with the campaign's account code (an
   unreachable PBX raises ``PbxError``: the caller retries later, it never
   finalizes blind; the campaign's status says it waits for the PBX);
2. folds the events that arrived since the last poll (the dialer's fold);
3. calls still up and the maximum drain time not reached: "wait";
4. otherwise closes in-flight attempts by the dialer's reconciliation rule and,
   in one transaction, moves the campaign to FINALIZING, hands the finalize
   chain its lease and records in the report how the drain ended, including
   the calls still up when the maximum drain time forced the end.

A fold or reconciliation that fails on the campaign's data (anything but the
database's errors) would fail the same way at every poll: the drain goes on
without it, on the PBX's word, and the report (``drain.error``) and the status
say what failed; finalization folds the results from the events on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from peewee import InterfaceError, OperationalError

from app.campaigns import transition
from app.chains import claim_lease, renew_lease
from app.clock import utcnow
from app.config import get_settings
from app.db import write_transaction
from app.dialer.folding import fold_events
from app.dialer.readout import set_status
from app.dialer.reconcile import reconcile
from app.errors import IllegalTransitionError, StaleStateError
from app.models import DRAINING, FINALIZING, Campaign, CampaignReport
from app.pbx.ami.channels import calls_by_account
from app.pbx.errors import PbxError

log = logging.getLogger(__name__)

WAIT, FINALIZE, GONE = "wait", "finalize", "gone"
# the database away or locked: the poll is retried, never skipped
DATABASE_ERRORS = (OperationalError, InterfaceError)


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
        PbxError: the PBX cannot say which calls are up; retry later (the
            campaign's status says so).
    """
    if drain_max_s is None:
        drain_max_s = get_settings().drain_max_seconds
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is None or campaign.state != DRAINING or campaign.tick_token != token:
        return DrainResult(GONE)
    started = campaign.drain_started_at or now
    waited = max(0.0, (now - started).total_seconds())
    # the PBX first, the fold after: an attempt whose last event lands in
    # between is then folded, not reconciled as lost
    try:
        calls = live_channels(campaign, ami)
    except PbxError as exc:
        # never finalize blind, however long it takes: say so where operators look
        set_status(campaign_id, f"draining: PBX unreachable ({type(exc).__name__}: {exc}); "
                                f"waiting for its word after {waited:.0f}s", now)
        raise
    # when the PBX answered: the report's end of the drain (``now`` was taken
    # before the question, and a last call may hang up during its round trip)
    answered_at = max(now, utcnow())
    if not renew_lease(campaign_id, DRAINING, token, now):
        return DrainResult(GONE)  # another chain took over while we asked the PBX
    error = _unless_it_fails(fold_events, campaign_id, now)
    if calls and waited < drain_max_s:
        return DrainResult(WAIT, live=len(calls), waited_s=waited)
    error = error or _unless_it_fails(reconcile, campaign_id, now, {c["call_id"] for c in calls})
    drain = {
        "started_at": started.isoformat(),
        "ended_at": answered_at.isoformat(),
        "waited_seconds": round(waited, 1),
        "forced": bool(calls),
    }
    if error:
        drain["error"] = error
    new_token = _hand_over(campaign_id, now, drain, calls)
    if new_token is None:
        return DrainResult(GONE)  # another drain poll got there first
    if calls:
        log.warning(
            "campaign=%s drain forced after %.0fs: %d calls still up (%s)",
            campaign_id, waited, len(calls), ", ".join(c["call_id"] for c in calls),
        )
    else:
        log.info("campaign=%s drained after %.0fs", campaign_id, waited)
    return DrainResult(FINALIZE, live=len(calls), waited_s=waited, still_up=calls, token=new_token)


def _unless_it_fails(step, campaign_id: int, *args) -> str:
    """Run the dialer's ``step`` (fold, reconcile); the error text when the campaign's data
    makes it fail ("" when it ran).

    Its data will not change by waiting, so the drain goes on without it, on the
    PBX's word, and the report says what failed (the final results are folded
    from the events again). The database's own errors are raised: retried.
    """
    try:
        step(campaign_id, *args)
    except DATABASE_ERRORS:
        raise
    except Exception as exc:
        log.exception("campaign=%s drain: %s failed; going on without it",
                      campaign_id, step.__name__)
        return f"{step.__name__}: {type(exc).__name__}: {exc}"
    return ""


def _hand_over(campaign_id: int, now, drain: dict, calls: list) -> str | None:
    """DRAINING -> FINALIZING with the finalize chain's new token and the drain's report,
    in one transaction; None when another poll got there first."""
    with write_transaction():
        try:
            transition(campaign_id, FINALIZING, now)
        except (StaleStateError, IllegalTransitionError):
            return None
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
    if drain.get("error"):
        set_status(campaign_id, f"drained without the dialer's fold ({drain['error']}); "
                                "finalizing from the events", now)
    return new_token
