"""The operator's campaign actions: activate, pause, resume, finish now.

Each names the states it starts from, so "resume" on a DRAFT is refused even
though DRAFT -> ACTIVE is a legal move for "activate". The state change itself
goes through the dialer's functions once they exist (they also start or stop
the tick chain and the dialplan); until then through app.campaigns.transition.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from app.campaigns import get_campaign, transition
from app.admin.errors import ActionRefusedError
from app.errors import ValidationError
from app.models import ACTIVE, DRAFT, FINISHED, PAUSED, ContactList

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

# where the dialer helper's functions may live, first match wins
DIALER_MODULES = ("app.dialer", "app.activation")
DIALER_FUNCTIONS = {
    "activate": ("activate", "activate_campaign"),
    "pause": ("pause", "pause_campaign"),
    "resume": ("resume", "resume_campaign"),
    "finish": ("finish_now", "finish", "finish_campaign"),
}


def dialer_function(op_name: str):
    """The dialer's function for ``op_name``, or None while it does not exist."""
    for module_name in DIALER_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for attr in DIALER_FUNCTIONS[op_name]:
            func = getattr(module, attr, None)
            if callable(func):
                return func
    return None


def check_ready_to_activate(campaign) -> None:
    """Raises: ValidationError naming what a DRAFT still lacks."""
    problems = []
    if campaign.contact_list_id is None:
        problems.append("no contact list")
    else:
        status = (
            ContactList.select(ContactList.status)
            .where(ContactList.id == campaign.contact_list_id)
            .scalar()
        )
        if status != "ready":
            problems.append(f"its contact list is {status}, not ready")
    if not campaign.message_file and not campaign.message_sound:
        problems.append("no message")
    if not campaign.options.count():
        problems.append("no digit options")
    if not campaign.windows.count():
        problems.append("no call windows")
    if problems:
        raise ValidationError(f"campaign {campaign.id} cannot be activated: {', '.join(problems)}")


def run_op(op_name: str, campaign_id: int, now, user_id: int | None = None):
    """Apply one operator action to one campaign.

    Raises:
        KeyError: unknown action.
        NotFoundError: no such campaign.
        ActionRefusedError: the campaign is not in a state this action starts from.
        StaleStateError: another process changed it first.
        ValidationError: a DRAFT is not complete enough to activate.
    """
    op = OPS[op_name]
    campaign = get_campaign(campaign_id)
    if campaign.state not in op.sources:
        raise ActionRefusedError(campaign_id, campaign.state, op.target, op.label, op.sources)
    if op_name == "activate":
        check_ready_to_activate(campaign)
    func = dialer_function(op_name)
    if func is not None:
        result = call_dialer(func, campaign_id, now, user_id)
    else:
        result = transition(campaign_id, op.target, now, user_id=user_id)
    log.info("operator action %s campaign=%s user=%s", op_name, campaign_id, user_id)
    return result


def call_dialer(func, campaign_id, now, user_id):
    """Call a dialer function that may or may not take ``user_id``."""
    try:
        return func(campaign_id, now, user_id=user_id)
    except TypeError as exc:
        if "user_id" not in str(exc):
            raise
        return func(campaign_id, now)
