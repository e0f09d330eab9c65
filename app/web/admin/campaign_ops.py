"""The operator's campaign actions: activate, pause, resume, finish now.

Each names the states it starts from, so "resume" on a DRAFT is refused with
the action's name. The work is the campaign domain's (``app.campaigns``: the
state change and the dialplan); after activate / resume this edge starts the
tick chain (``tasks.dialing.start_dialing``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import flash

from app import campaigns
from app.web.admin.errors import ActionRefusedError
from app.models import ACTIVE, DRAFT, FINISHED, PAUSED
from app.config import get_settings
from app.pbx.poolami import get_pool_ami

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Op:
    name: str
    label: str
    sources: tuple[str, ...]
    target: str


OPS = {
    "activate": Op("activate", "Activate", (DRAFT,), ACTIVE),
    "pause": Op("pause", "Pause", (ACTIVE,), PAUSED),
    "resume": Op("resume", "Resume", (PAUSED,), ACTIVE),
    "finish": Op("finish", "Finish now", (ACTIVE, PAUSED), FINISHED),
}


def run_op(op_name: str, campaign_id: int, now, user_id: int | None = None):
    """Apply one operator action to one campaign.

    Raises:
        KeyError: unknown action.
        NotFoundError: no such campaign.
        ActionRefusedError: the campaign is not in a state this action starts from.
        StaleStateError: another process changed it first.
        ValidationError: a DRAFT is not complete enough to activate.
        PbxError: the dialplan could not be reloaded.
    """
    op = OPS[op_name]
    campaign = campaigns.get_campaign(campaign_id)
    campaign_id = campaign.id  # the id as stored, whatever text the form sent
    if campaign.state not in op.sources:
        raise ActionRefusedError(campaign_id, campaign.state, op.target, op.label, op.sources)
    if op_name == "activate":
        # validates, fills the dial states, writes + reloads the dialplan
        pool = get_pool_ami(get_settings())
        result = campaigns.activate(campaign_id, now, user_id, ami=pool)
        for line in pool.left_out:  # PBXs that did not take the dialplan get no calls
            flash(f"PBX left out: {line}", "warning")
    elif op_name == "resume":
        result = campaigns.resume(campaign_id, now, user_id)
    elif op_name == "pause":
        result = campaigns.pause(campaign_id, now, user_id)
    else:
        result = campaigns.finish(campaign_id, now, user_id)
    if op_name in ("activate", "resume"):
        # imported here: the broker is built on first use, not with the web app
        from tasks.dialing import start_dialing

        start_dialing(campaign_id)
    log.info("operator action %s campaign=%s user=%s", op_name, campaign_id, user_id)
    return result
