"""The PBX pool as data: add, list, enable, disable, and the row seeded from today's settings.

One set of rules for the console, ``flask pbx`` and the dialer: every field is
checked and bounded where it enters (``validate``), errors name the field, and
nothing with a line break or a control character reaches AMI or the dialplan.
When the table is empty the first reader seeds one PBX named ``default`` from
``AMI_*`` and ``AGI_HOST`` (``ensure_seeded``), its dial template empty: an
empty template means ``DIAL_TEMPLATE`` as the settings say it at each call, so
a one-machine install runs as it did. Down and up are written by the dialer
(``mark_down``, ``mark_up``) only when they change.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import string
from datetime import datetime

from peewee import IntegrityError

from app.db import database, row_id
from app.envreaders import DIAL_PLACEHOLDERS
from app.errors import NotFoundError, ValidationError
from app.pbx.tables import Pbx

log = logging.getLogger(__name__)

SEED_NAME = "default"
# channel capacity of the seeded PBX when GLOBAL_MAX_CHANNELS is 0: the campaign
# caps rule, as they did before the pool
SEED_CAPACITY = 1000
# bounds of what an operator may enter
LIMITS = {"ami_port": (1, 65535), "capacity": (1, 5000), "originate_rate": (0, 1000),
          "weight": (1, 100)}
FIELDS = ("name", "ami_host", "ami_port", "ami_user", "ami_secret", "agi_host",
          "dial_template", "capacity", "originate_rate", "weight", "enabled", "agent")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}\Z")
HOST_RE = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                     r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")
# AMI header values: printable, never a space, CR or LF (they would end the header)
AMI_TEXT_RE = re.compile(r"[\x21-\x7e]{1,128}\Z")
TEMPLATE_RE = re.compile(r"[\x21-\x7e]{1,200}\Z")  # no space, no control character


def _host_problem(name: str, value) -> str | None:
    text = str(value or "").strip()
    try:
        ipaddress.ip_address(text)
        return None
    except ValueError:
        pass
    if HOST_RE.match(text):
        return None
    return f"{name}: {text[:60]!r} is neither an IP address nor a host name"


def _int_problem(name: str, value) -> str | None:
    low, high = LIMITS[name]
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return f"{name}: {str(value)[:20]!r} is not a whole number"
    if not low <= number <= high:
        return f"{name}: {number} is outside {low}..{high}"
    return None


def template_problem(value) -> str | None:
    """Why ``value`` is not a dial template (None: it is one, or "": DIAL_TEMPLATE's)."""
    text = str(value or "")
    if not text:
        return None  # this PBX dials with DIAL_TEMPLATE, as the settings say now
    known = ", ".join("{%s}" % p for p in DIAL_PLACEHOLDERS)
    if not TEMPLATE_RE.match(text):
        return "dial_template: 1 to 200 printable characters, no space or line break"
    try:
        parts = [(f, s, c) for _, f, s, c in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        return f"dial_template: not a template: {exc}"
    if not parts:
        return f"dial_template: names no number (use one of {known})"
    if any(f not in DIAL_PLACEHOLDERS or s or c for f, s, c in parts):
        return f"dial_template: only the placeholders {known}"
    return None


def validate(values: dict, partial: bool = False) -> dict:
    """The PBX fields of ``values``, checked and normalised.

    Raises:
        ValidationError: every problem, each naming its field.
    """
    problems, clean = [], {}
    for name in FIELDS:
        if name not in values or values[name] is None:
            if not partial and name not in ("originate_rate", "weight", "enabled", "agent",
                                            "dial_template"):
                problems.append(f"{name}: required")
            continue
        value = values[name]
        if name == "name":
            problem = None if NAME_RE.match(str(value)) else (
                "name: 1 to 40 of a-z, 0-9, '_', '.', '-' (starting with a letter or digit)")
        elif name in ("ami_host", "agi_host"):
            problem = _host_problem(name, value)
            value = str(value).strip()
        elif name in LIMITS:
            problem = _int_problem(name, value)
            value = None if problem else int(str(value).strip())
        elif name in ("ami_user", "ami_secret"):
            problem = None if AMI_TEXT_RE.match(str(value)) else (
                f"{name}: 1 to 128 printable characters, no space or line break")
        elif name == "dial_template":
            problem = template_problem(value)
        else:  # enabled, agent
            problem, value = None, bool(value)
        if problem:
            problems.append(problem)
        else:
            clean[name] = value
    if problems:
        raise ValidationError("; ".join(problems))
    return clean


def add_pbx(values: dict) -> Pbx:
    """Add a PBX to the pool (enabled unless ``enabled`` says otherwise).

    Raises:
        ValidationError: a field is wrong, or the name is taken.
    """
    clean = validate(values)
    clean.setdefault("dial_template", "")
    try:
        with database.atomic():
            return Pbx.create(**clean)
    except IntegrityError:
        raise ValidationError(f"name: a PBX named {clean['name']!r} exists") from None


def update_pbx(pbx_id, values: dict) -> Pbx:
    """Change some fields of a PBX (the others stay).

    Raises:
        NotFoundError, ValidationError
    """
    pbx = get_pbx(pbx_id)
    clean = validate(values, partial=True)
    try:
        with database.atomic():
            Pbx.update(**clean).where(Pbx.id == pbx.id).execute()
    except IntegrityError:
        raise ValidationError(f"name: a PBX named {clean.get('name')!r} exists") from None
    return Pbx.get_by_id(pbx.id)


def get_pbx(key) -> Pbx:
    """A PBX by id or by name.

    Raises:
        NotFoundError
    """
    text = str(key)
    pbx = None
    if text.isdigit():
        pbx = Pbx.get_or_none(Pbx.id == row_id(text))
    if pbx is None and NAME_RE.match(text):
        pbx = Pbx.get_or_none(Pbx.name == text)
    if pbx is None:
        raise NotFoundError(f"no PBX {text[:40]!r}")
    return pbx


def set_enabled(key, enabled: bool) -> Pbx:
    """Enable or disable a PBX: a disabled one gets no new calls; its calls end as they would."""
    pbx = get_pbx(key)
    Pbx.update(enabled=bool(enabled)).where(Pbx.id == pbx.id).execute()
    log.info("pbx %s %s", pbx.name, "enabled" if enabled else "disabled")
    return Pbx.get_by_id(pbx.id)


def list_pbxs() -> list[Pbx]:
    return list(Pbx.select().order_by(Pbx.name))


def enabled_pbxs() -> list[Pbx]:
    return list(Pbx.select().where(Pbx.enabled == True).order_by(Pbx.id))  # noqa: E712


def seed_values(settings) -> dict:
    """The one PBX of today's settings (AMI_*, AGI_HOST, DIAL_TEMPLATE)."""
    return dict(name=SEED_NAME, ami_host=settings.ami_host, ami_port=settings.ami_port,
                ami_user=settings.ami_user, ami_secret=settings.ami_secret,
                agi_host=settings.agi_host, dial_template="",  # "": DIAL_TEMPLATE, as it is
                capacity=min(LIMITS["capacity"][1], settings.global_max_channels or SEED_CAPACITY),
                originate_rate=0, weight=1, enabled=True)


def ensure_seeded(settings) -> bool:
    """Seed the pool from the settings when it is empty; True when this call seeded it."""
    if Pbx.select().exists():
        return False
    try:
        with database.atomic():
            Pbx.create(**seed_values(settings))
    except IntegrityError:
        return False  # another process seeded it first
    log.info("pbx pool seeded from settings: %s %s:%s", SEED_NAME, settings.ami_host,
             settings.ami_port)
    return True


def mark_down(pbx_id: int, error: str, now: datetime) -> bool:
    """Record that the PBX's AMI stopped answering (once: True when it was up)."""
    return Pbx.update(down_since=now, last_error=error[:300]).where(
        (Pbx.id == pbx_id) & Pbx.down_since.is_null()).execute() == 1


def mark_up(pbx_id: int) -> bool:
    """Record that the PBX answers again (True when it was down)."""
    return Pbx.update(down_since=None, last_error="").where(
        (Pbx.id == pbx_id) & Pbx.down_since.is_null(False)).execute() == 1


def down_pbxs() -> list[Pbx]:
    """Enabled PBXs the dialer found down, oldest first."""
    return list(Pbx.select().where((Pbx.enabled == True) & Pbx.down_since.is_null(False))  # noqa: E712
                .order_by(Pbx.down_since))
