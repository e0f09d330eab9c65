"""Campaign rules: what a campaign's fields, digit options and call windows must be.

``validate`` is the one check: ``create`` and ``update`` run it, the CLI runs it
before it imports a file, and activation's readiness check reuses the same
problem lists. The option rule lives in ``app.menu`` and the window rule in
``app.windows`` (the dialplan generator checks options there too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from app.amd import amd_problems, normalised_amd
from app.callee_hours import window_problems as callee_window_problems
from app.db import row_id
from app.errors import ValidationError
from app.events import FAILURE_REASONS, LOST
from app.menu import menu_problems
from app.messages.template import template_problems
from app.models import ACTIVE, DRAFT, PAUSED, ContactList
from app.windows import EARLIEST, LATEST, window_problems, zone

UTC = timezone.utc
DAY = 24 * 3600


@dataclass(frozen=True)
class Limit:
    """The whole numbers a field takes: ``low``..``high``.

    ``offered`` is the narrower range the back-office form offers an operator;
    the rule itself is ``low``..``high``, which the CLI and tests may use fully.
    """

    low: int
    high: int
    offered: tuple[int, int] | None = None

    def form_range(self) -> tuple[int, int]:
        return self.offered or (self.low, self.high)

    def problems(self, name: str, value) -> list[str]:
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{name} must be a whole number, not {_shown(value)}"]
        if not self.low <= value <= self.high:
            return [f"{name} must be between {self.low} and {self.high}"]
        return []


# Every count and duration has a top: a retry a billion seconds away overflowed the
# dialer's date sums on every tick; a 32-bit PostgreSQL column holds ~2.1e9 at most.
LIMITS = {
    "max_channels": Limit(1, 10_000, offered=(1, 1000)),
    "max_attempts": Limit(1, 20),
    "weight": Limit(1, 1000, offered=(1, 100)),  # share of the global capacity
    "retry_busy_s": Limit(0, 30 * DAY),
    "retry_noanswer_s": Limit(0, 30 * DAY),
    "retry_failed_s": Limit(0, 30 * DAY),
    "ring_timeout_s": Limit(1, 600, offered=(5, 120)),
    "max_call_s": Limit(1, DAY, offered=(10, 3600)),
    "digit_timeout_s": Limit(1, 600, offered=(1, 60)),
    "message_repeats": Limit(1, 100, offered=(1, 10)),
}
# the text columns' sizes: PostgreSQL refuses a longer value outright
MAX_LENGTHS = {"name": 200, "caller_id": 100, "retry_on": 100, "message_file": 500,
               "message_sound": 200, "callee_window": 11}
DATE_FIELDS = ("starts_at", "ends_at")
# what the campaign dates lie between (UTC), as the messages name them
DATE_RANGE = f"{EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
# a caller ID is '"Name" <number>', 'Name <number>' or a bare number: it becomes one
# header of the AMI Originate, so a line break in it would forge the rest of the action
CALLER_NUMBER = r"\+?[0-9]{1,20}"
CALLER_NAME = r'"[^"<>\\]{0,50}"|[^"<>\\]{1,50}?'
CALLER_ID_RE = re.compile(rf"(?:(?:{CALLER_NAME})?\s*<{CALLER_NUMBER}>|{CALLER_NUMBER})")
# what a campaign may retry on; a lost attempt is retried while attempts remain anyway
RETRY_CHOICES = (*FAILURE_REASONS, LOST)
# the fields create and update take (contact_list is the list's id)
FIELDS = (
    "name", "contact_list", "timezone", "starts_at", "ends_at", *LIMITS, "retry_on",
    "caller_id", "message_file", "message_sound", "message_template", "amd", "callee_window",
)
# what a running campaign's dialplan and contact rows were built from: changing
# them after activation would corrupt it, so they (and the options) change only in DRAFT
LOCKED_AFTER_DRAFT = (
    "contact_list", "timezone", "message_file", "message_sound", "digit_timeout_s",
    "message_repeats", "message_template", "amd",
)
# once it is finishing or closed, nothing changes any more
EDITABLE_STATES = (DRAFT, ACTIVE, PAUSED)


def retry_problems(retry_on) -> list[str]:
    """What is wrong with a retry policy (empty: fine)."""
    unknown = set(_outcomes(retry_on)) - set(RETRY_CHOICES)
    if unknown:
        return [f"retry_on names unknown outcomes: {', '.join(sorted(unknown))}"]
    return []


def _outcomes(retry_on) -> list[str]:
    if isinstance(retry_on, str):
        retry_on = retry_on.split(",")
    return [o.strip() for o in retry_on or () if o and o.strip()]


def _shown(value) -> str:
    """A value as a message quotes it: repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def caller_id_problems(value) -> list[str]:
    """What is wrong with a caller ID (empty: fine; no caller ID is fine too)."""
    text = str(value or "")
    found = CALLER_ID_RE.fullmatch(text) if text.isprintable() else None
    if text and found is None:
        return [f'caller_id {_shown(text)} is not "Name" <number> or a number (digits with an '
                "optional +, at most 20; a name of at most 50 printable characters without "
                'quotes, < > or \\)']
    return []


def date_problems(name: str, value) -> list[str]:
    """What is wrong with a start or end date (empty: fine; none is fine)."""
    if value is None:
        return []
    if not isinstance(value, datetime):
        return [f"{name} must be a date and time, not {_shown(value)}"]
    # aware: stored; naive: the zone could not place it (the zone's own problem is
    # named then, unless the date is out of range too)
    low, high = (EARLIEST, LATEST) if value.tzinfo else (_naive(EARLIEST), _naive(LATEST))
    if not low <= value <= high:
        return [f"{name} must be between {DATE_RANGE}"]
    return []


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def _text_problems(values: dict) -> list[str]:
    found = []
    if "name" in values and not str(values["name"] or "").strip():
        found.append("name is required")
    elif "name" in values and not str(values["name"]).isprintable():
        found.append("name must be one line of printable characters")
    for name, most in MAX_LENGTHS.items():
        if len(str(values.get(name) or "")) > most:
            found.append(f"{name} is longer than {most} characters")
    if "caller_id" in values:
        found += caller_id_problems(values["caller_id"])
    if values.get("contact_list") is not None and row_id(values["contact_list"]) is None:
        found.append(f"contact_list must be a list's id, not {_shown(values['contact_list'])}")
    return found


def list_columns(contact_list) -> list | None:
    """The columns of a contact list (an id), the fields a template may name; None: unknown."""
    found = row_id(contact_list) if contact_list is not None else None
    row = ContactList.get_or_none(ContactList.id == found) if found is not None else None
    return None if row is None else list(row.columns)


def field_problems(values: dict) -> list[str]:
    """What is wrong with the campaign fields in ``values`` (only those given; empty: fine)."""
    found = []
    unknown = set(values) - set(FIELDS)
    if unknown:
        found.append(f"a campaign has no field {', '.join(sorted(map(str, unknown)))[:200]}")
    found += _text_problems(values)
    if "timezone" in values:
        try:
            zone(values["timezone"])
        except ValidationError as exc:
            found.append(str(exc))
    for name, limit in LIMITS.items():
        if name in values:
            found += limit.problems(name, values[name])
    if "retry_on" in values:
        found += retry_problems(values["retry_on"])
    if "amd" in values:
        found += amd_problems(values["amd"])
    if "message_template" in values:  # and again at activation, on the list's columns
        found += template_problems(values["message_template"],
                                   list_columns(values.get("contact_list")))
    if "callee_window" in values:
        found += callee_window_problems(values["callee_window"])
    dates = [p for name in DATE_FIELDS if name in values
             for p in date_problems(name, values[name])]
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if not dates and _aware(starts) and _aware(ends) and ends <= starts:
        dates.append("ends_at: the end must come after the start")
    return found + dates


def _aware(value) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def normalised(values: dict) -> dict:
    """``values`` as stored: naive start/end read in the campaign's zone (to UTC), retry_on
    as text in a fixed order, a contact list as its id."""
    values = dict(values)
    if isinstance(values.get("retry_on"), (list, tuple, set, frozenset)):
        chosen = set(_outcomes(values["retry_on"]))
        known = [o for o in RETRY_CHOICES if o in chosen]
        values["retry_on"] = ",".join(known + sorted(chosen - set(known)))
    if "amd" in values:
        values["amd"] = normalised_amd(values["amd"])
    if hasattr(values.get("contact_list"), "id"):
        values["contact_list"] = values["contact_list"].id
    try:
        tz = zone(values.get("timezone") or "UTC")
    except ValidationError:
        return values  # field_problems names the zone; the dates wait for a good one
    # a day of slack each side: no zone is a day off UTC, so in here nothing overflows
    # and date_problems still sees a date just outside the bounds
    low, high = _naive(EARLIEST) - timedelta(days=1), _naive(LATEST) + timedelta(days=1)
    for name in DATE_FIELDS:
        value = values.get(name)
        if isinstance(value, datetime) and value.tzinfo is None and low <= value <= high:
            values[name] = value.replace(tzinfo=tz).astimezone(UTC)
    return values


def validate(values: dict, options=(), windows=()) -> dict:
    """Check a campaign's fields, digit options and call windows; return the values as stored.

    Raises:
        ValidationError: every problem found, each naming its field, option or window.
    """
    values = normalised(values)
    found = field_problems(values) + menu_problems(options) + window_problems(windows)
    if found:
        raise ValidationError("; ".join(found))
    return values
