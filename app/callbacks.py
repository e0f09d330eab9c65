"""The call-back option: "press 2 and we call you back in 30 minutes".

An option whose action is ``callback`` carries its delay as its target:
``<N>m`` (minutes) or ``<N>h`` (hours), from 1 minute to ``MAX_MINUTES``. On
the PBX it is a ``record`` option (report ``dtmf-<digit>``, hang up); the fold
(``app.dialer.folding.settle``) turns an answered attempt whose last digit is a
call-back option into one more attempt: pending again, due the delay after the
call ended, or at the next window opening when that moment falls outside the
windows (holidays included). It is charged to the campaign's ``max_attempts``
like any other: a contact with no attempt left stays final (answered). The
report counts the call-backs asked for (``report_figures``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from app.errors import ValidationError
from app.events import DTMF_PREFIX
from app.holidays import campaign_opening
from app.models import FINAL, PENDING, CampaignOption

CALLBACK = "callback"
MAX_MINUTES = 7 * 24 * 60  # a week
DELAY_RE = re.compile(r"([0-9]{1,6})\s*([mh])\Z")


def delay_of(target: str) -> timedelta:
    """The delay a call-back option's target names (``30m``, ``2h``).

    Raises:
        ValidationError: not ``<N>m`` / ``<N>h`` between 1 minute and a week.
    """
    found = DELAY_RE.match(str(target or "").strip().lower())
    minutes = int(found[1]) * (60 if found[2] == "h" else 1) if found else 0
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValidationError(
            f"call-back delay {str(target)[:20]!r} is not <N>m or <N>h between 1 minute and "
            f"{MAX_MINUTES // 60} hours (e.g. 30m, 2h)")
    return timedelta(minutes=minutes)


def option_problems(option) -> list[str]:
    """What is wrong with a call-back option (empty: fine, or not a call-back)."""
    if option.action != CALLBACK:
        return []
    try:
        delay_of(option.target)
    except ValidationError as exc:
        return [f"option {option.digit}: {exc}"]
    return []


def callback_menu(campaign_id: int) -> dict[str, timedelta]:
    """{digit: delay} of the campaign's call-back options (one query)."""
    rows = CampaignOption.select(CampaignOption.digit, CampaignOption.target).where(
        (CampaignOption.campaign == campaign_id) & (CampaignOption.action == CALLBACK))
    menu = {}
    for digit, target in rows.tuples():
        try:
            menu[digit] = delay_of(target)
        except ValidationError:
            continue  # the rules refuse it; a row stored before them calls nobody back
    return menu


def callback_state(campaign, charged: int, delay: timedelta, ended_at: datetime):
    """(state, due) after an answered call that asked for a call-back.

    ``charged``: the attempts charged to the contact so far. Pending at the
    delay's end (or the next window opening after it) while an attempt is left,
    else final.
    """
    if charged >= campaign.max_attempts:
        return FINAL, ended_at
    due = ended_at + delay
    opening = campaign_opening(campaign, due)
    if opening.open:
        return PENDING, due
    if opening.next_start is None:
        return FINAL, ended_at  # no window left to call back in
    return PENDING, opening.next_start


def report_figures(campaign_id: int, events: dict) -> dict:
    """The report's call-backs asked for: in all and per digit (from the events by name)."""
    digits = sorted(callback_menu(campaign_id))
    per_digit = {d: int(events.get(DTMF_PREFIX + d, 0)) for d in digits}
    requested = sum(per_digit.values())
    return {"callbacks": {"requested": requested, "digits": per_digit},
            "callbacks_requested": requested}
