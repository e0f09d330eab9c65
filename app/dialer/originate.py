"""Originating claimed calls: pipelined Originates, and the claims given back when none happened."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from app.db import database
from app.dialer.claims import Claim, unclaim
from app.messages.prepare import message_variables
from app.models import CALLING, DONE, FINAL, CallAttempt, Campaign, CampaignContact
from app.pbx.errors import AmiActionError, DialplanError, PbxError
from app.pbx.originate import originate_args

log = logging.getLogger(__name__)


def originate_claims(campaign: Campaign, claims, ami, now: datetime, settings) -> tuple[int, str]:
    """Originate every claim (pipelined); give back those that never reached the PBX.

    Returns (originated, error text or ""). A sent originate whose answer does
    not come (timeout, dropped connection) stays in flight: the PBX may have it,
    and reconciliation settles it.
    """
    pending = []
    error = ""
    unsent = []
    messages = message_variables(campaign, [c.contact_id for c in claims])
    for index, c in enumerate(claims):
        try:
            args = originate_args(campaign, c.contact_id, c.number, c.phone, settings,
                                  messages.get(c.contact_id))
        except DialplanError as exc:
            log.warning("undialable campaign=%s contact=%s: %s", campaign.id, c.contact_id, exc)
            close_undialable(campaign, c, now)
            continue
        try:
            pending.append((c, ami.originate(**args, wait=False)))
        except PbxError as exc:
            error = f"{type(exc).__name__}: {exc}"
            unsent = claims[index:]
            break
    originated = 0
    # one deadline for all answers: a hung PBX costs one timeout, not one per call
    deadline = time.monotonic() + settings.ami_timeout
    for c, p in pending:
        try:
            p.result(max(0.001, deadline - time.monotonic()))
            originated += 1
        except AmiActionError as exc:
            # the PBX refused it (e.g. the dialplan is not loaded): no call happened
            error = f"PBX refused originate: {exc.message}"
            unsent.append(c)
        except PbxError as exc:
            error = f"{type(exc).__name__}: {exc}"
            originated += 1  # may be up on the PBX: reconciliation decides
    for c in unsent:
        unclaim(campaign.id, c, now)
    if unsent:
        log.warning(
            "originate failed campaign=%s given_back=%d error=%s", campaign.id, len(unsent), error
        )
    return originated, error


def close_undialable(campaign: Campaign, c: Claim, now: datetime) -> None:
    """Close a claim whose number cannot be dialed: failed, no retry (the number is bad)."""
    attempt = CallAttempt.get(
        (CallAttempt.campaign == campaign.id)
        & (CallAttempt.contact == c.contact_id)
        & (CallAttempt.number == c.number)
    )
    with database.atomic():
        CallAttempt.update(state=DONE, outcome="failed", finished_at=now).where(
            CallAttempt.id == attempt.id
        ).execute()
        CampaignContact.update(state=FINAL, last_outcome="failed", updated_at=now).where(
            (CampaignContact.campaign == campaign.id)
            & (CampaignContact.contact == c.contact_id)
            & (CampaignContact.state == CALLING)
        ).execute()
