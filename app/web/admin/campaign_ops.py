"""The operator's campaign actions: activate, pause, resume, finish now.

Each names the states it starts from, so "resume" on a DRAFT is refused even
though DRAFT -> ACTIVE is a legal move for "activate". The work is the
dialer's: app.activation for the state change and dialplan, tasks.dialing to
start the tick chain after activate / resume.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app import activation
from app.web.admin.errors import ActionRefusedError
from app.campaigns import get_campaign
from app.models import ACTIVE, DRAFT, FINISHED, PAUSED

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
    campaign = get_campaign(campaign_id)
    if campaign.state not in op.sources:
        raise ActionRefusedError(campaign_id, campaign.state, op.target, op.label, op.sources)
    if op_name == "activate":
        # validates, fills the dial states, writes + reloads the dialplan, starts the tick chain
        from tasks.dialing import activate_campaign

        result = activate_campaign(campaign_id, user_id=user_id)
    elif op_name == "resume":
        from tasks.dialing import resume_campaign

        result = resume_campaign(campaign_id, user_id=user_id)
    elif op_name == "pause":
        result = activation.pause(campaign_id, now, user_id)
    else:
        result = activation.finish(campaign_id, now, user_id)
    log.info("operator action %s campaign=%s user=%s", op_name, campaign_id, user_id)
    return result
