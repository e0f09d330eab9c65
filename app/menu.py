"""Digit options: the key menu a campaign plays, and the one rule every option follows.

The campaign rules (``app.campaigns.rules``) and the dialplan generator
(``app.pbx.dialplan``) both check options here, so the rule exists once and the
generator needs nothing from the campaign domain above it.

A transfer goes to a phone number, dialled through ``DIAL_TEMPLATE`` like a
contact, or to ``EXTEN@CONTEXT`` for a context the administrator listed in
``TRANSFER_CONTEXTS``; never to a dial string an operator typed
(``Local/s@from-internal-admin`` or ``IAX2/user:secret@host`` would let a
campaign call anything the PBX can reach: toll fraud).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.callbacks import option_problems
from app.config import get_settings
from app.errors import ValidationError
from app.models import OPTION_ACTIONS, OPTION_DIGITS

LABEL_MAX = 100
TARGET_MAX = 100
TRANSFER_NUMBER_RE = re.compile(r"\+?[0-9]{1,20}\Z")
TRANSFER_EXTEN_RE = re.compile(
    r"(?P<exten>[A-Za-z0-9+*#]{1,40})@(?P<context>[A-Za-z0-9_-]{1,79})\Z"
)


@dataclass(frozen=True)
class Option:
    """One key of the menu: the digit, its label and what pressing it does."""

    digit: str
    label: str = ""
    action: str = "record"
    target: str = ""


def _get(obj, name, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def option_of(value) -> Option:
    """An Option from a dict, a CampaignOption row or an Option (no action means record)."""
    if isinstance(value, Option):
        return value
    return Option(
        digit=str(_get(value, "digit", "") or ""),
        label=str(_get(value, "label", "") or ""),
        action=str(_get(value, "action", "record") or "record"),
        target=str(_get(value, "target", "") or "").strip(),
    )


@dataclass(frozen=True)
class Transfer:
    """Where a transfer goes: a phone number, or an extension in an allowed context."""

    number: str = ""
    exten: str = ""
    context: str = ""


def transfer_of(target: str, contexts) -> Transfer:
    """The transfer ``target`` names, given the contexts transfers may use.

    Raises:
        ValidationError: neither a phone number nor EXTEN@CONTEXT of an allowed context.
    """
    target = (target or "").strip()
    if TRANSFER_NUMBER_RE.match(target):
        return Transfer(number=target)
    found = TRANSFER_EXTEN_RE.match(target)
    if found and found["context"] in contexts:
        return Transfer(exten=found["exten"], context=found["context"])
    allowed = ", ".join(contexts) if contexts else "none set"
    raise ValidationError(
        f"transfer target {target[:TARGET_MAX]!r} is neither a phone number (up to 20 digits, "
        f"optional +) nor EXTEN@CONTEXT for a context in TRANSFER_CONTEXTS ({allowed})"
    )


def key_problems(options) -> list[str]:
    """Options no dialplan can be built from: unknown keys or actions, a key used twice."""
    menu = [option_of(o) for o in options]
    found = []
    for option in menu:
        if option.digit not in OPTION_DIGITS:
            found.append(f"option digit {option.digit!r} is not 0-9, * or #")
        if option.action not in OPTION_ACTIONS:
            found.append(f"option {option.digit}: action {option.action!r} is not one of "
                         f"{', '.join(OPTION_ACTIONS)}")
    digits = [o.digit for o in menu]
    duplicates = sorted({d for d in digits if digits.count(d) > 1})
    if duplicates:
        found.append(f"digit {', '.join(duplicates)} is used by two options")
    return found


def menu_problems(options, contexts=None) -> list[str]:
    """Everything wrong with a campaign's options (empty: fine): keys, targets, texts.

    ``contexts``: where a transfer may go as EXTEN@CONTEXT (default: TRANSFER_CONTEXTS).
    """
    menu = [option_of(o) for o in options]
    found = key_problems(menu)
    if contexts is None:
        contexts = get_settings().transfer_contexts
    for option in menu:
        found += option_problems(option)  # a call-back's delay (app.callbacks)
        if option.action == "transfer" and not option.target:
            found.append(f"option {option.digit}: a transfer needs a target")
        elif option.action == "transfer":
            try:
                transfer_of(option.target, contexts)
            except ValidationError as exc:
                found.append(f"option {option.digit}: {exc}")
        if not option.label.isprintable():
            found.append(f"option {option.digit}: the label must be one line of printable "
                         "characters")
        if len(option.label) > LABEL_MAX:
            found.append(f"option {option.digit}: the label is longer than {LABEL_MAX} characters")
        if len(option.target) > TARGET_MAX:
            found.append(f"option {option.digit}: the target is longer than {TARGET_MAX} "
                         "characters")
    return found
