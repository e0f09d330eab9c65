"""The campaign domain: one API the back office, the CLI and the actors all call.

Functions take ids, values and ``now``; they raise ``ValidationError`` (naming
the field), ``IllegalTransitionError``, ``StaleStateError`` or ``NotFoundError``
and never touch the broker (the edges start the tick chain afterwards).

    states      the lifecycle: TRANSITIONS, can_transition, get_campaign, transition
    rules       what fields, options and windows must be: validate, LIMITS
    editing     create, update
    activation  problems, populate, activate, pause, resume, finish
"""

# states first: modules that import `from app.campaigns import transition` while
# this package is still loading (through activation's imports) find it bound
from app.campaigns.states import STAMPS, TRANSITIONS, can_transition, get_campaign, transition
from app.campaigns.rules import (
    EDITABLE_STATES,
    LIMITS,
    LOCKED_AFTER_DRAFT,
    MAX_LENGTHS,
    RETRY_CHOICES,
    caller_id_problems,
    date_problems,
    field_problems,
    validate,
)
from app.campaigns.editing import create, update
from app.campaigns.activation import activate, finish, pause, populate, problems, resume

__all__ = [
    "EDITABLE_STATES",
    "LIMITS",
    "LOCKED_AFTER_DRAFT",
    "MAX_LENGTHS",
    "RETRY_CHOICES",
    "STAMPS",
    "TRANSITIONS",
    "activate",
    "caller_id_problems",
    "can_transition",
    "create",
    "date_problems",
    "field_problems",
    "finish",
    "get_campaign",
    "pause",
    "populate",
    "problems",
    "resume",
    "transition",
    "update",
    "validate",
]
