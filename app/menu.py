"""Digit options: the key menu a campaign plays, and the one rule every option follows.

The campaign rules (``app.campaigns.rules``) and the dialplan generator
(``app.pbx.dialplan``) both check options here, so the rule exists once and the
generator needs nothing from the campaign domain above it.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.models import OPTION_ACTIONS, OPTION_DIGITS

LABEL_MAX = 100
TARGET_MAX = 100


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


def menu_problems(options) -> list[str]:
    """Everything wrong with a campaign's options (empty: fine): keys, targets, text lengths."""
    menu = [option_of(o) for o in options]
    found = key_problems(menu)
    for option in menu:
        if option.action == "transfer" and not option.target:
            found.append(f"option {option.digit}: a transfer needs a target")
        if len(option.label) > LABEL_MAX:
            found.append(f"option {option.digit}: the label is longer than {LABEL_MAX} characters")
        if len(option.target) > TARGET_MAX:
            found.append(f"option {option.digit}: the target is longer than {TARGET_MAX} "
                         "characters")
    return found
