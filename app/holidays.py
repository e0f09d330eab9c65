"""Holidays: local dates on which nothing is dialled, for one campaign or for every campaign.

A holiday is a date, read in each campaign's own time zone: "2026-12-25" stops a
New York campaign from 00:00 to 24:00 New York time and a Paris campaign from
00:00 to 24:00 Paris time. ``campaign_opening`` is the windows' opening with the
holidays taken out: the dialer, activation and the expiry scan all read it, so a
holiday stops the calls, names itself in the "why not dialing" status, and a
campaign whose remaining windows all fall on holidays is over.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

from peewee import fn

from app.db import row_id, write_transaction
from app.errors import NotFoundError, ValidationError
from app.holiday_tables import Holiday
from app.models import CallWindow, Campaign
from app.windows import EARLIEST, LATEST, Opening, opening, spans_of, zone

log = logging.getLogger(__name__)

UTC = timezone.utc
MAX_NAME = 100
# holidays skipped in a row while looking for the next window: more than a year of them
MAX_SKIPS = 400


def parse_day(value) -> date:
    """A date (``date`` or ISO ``YYYY-MM-DD`` text) between the campaign date bounds.

    Raises:
        ValidationError: not one (the message names ``day``).
    """
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError(f"day: not a date (YYYY-MM-DD): {str(value)[:40]!r}") from None
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValidationError(f"day must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


def _checked_name(name) -> str:
    text = str(name or "").strip()
    if not text:
        raise ValidationError("name is required")
    if not text.isprintable():
        raise ValidationError("name must be one line of printable characters")
    if len(text) > MAX_NAME:
        raise ValidationError(f"name is longer than {MAX_NAME} characters")
    return text


def add_holiday(day, name, now, campaign_id=None) -> Holiday:
    """Store a holiday of one campaign (``campaign_id``) or of every campaign (None).

    Raises:
        ValidationError: a bad day or name, or that date is already a holiday there.
        NotFoundError: no such campaign.
    """
    day, name = parse_day(day), _checked_name(name)
    with write_transaction():
        if campaign_id is not None:
            campaign_id = check_campaign(campaign_id)
        if _scope(Holiday.select(), campaign_id).where(Holiday.day == day).exists():
            where = f"campaign {campaign_id}" if campaign_id else "every campaign"
            raise ValidationError(f"day: {day} is already a holiday of {where}")
        holiday = Holiday.create(campaign_id=campaign_id, day=day, name=name, created_at=now)
    log.info("holiday added id=%s day=%s campaign=%s", holiday.id, day, campaign_id)
    return holiday


def check_campaign(value) -> int:
    """The campaign's id. Raises: NotFoundError when no campaign has it."""
    # not app.campaigns.get_campaign: activation imports this module
    found = row_id(value)
    if found is None or not Campaign.select().where(Campaign.id == found).exists():
        raise NotFoundError(f"campaign {str(value)[:40]} does not exist")
    return found


def _scope(query, campaign_id):
    if campaign_id is None:
        return query.where(Holiday.campaign_id.is_null())
    return query.where(Holiday.campaign_id == campaign_id)


def get_holiday(holiday_id) -> Holiday:
    """Raises: NotFoundError when no holiday has that id."""
    found = row_id(holiday_id)
    holiday = Holiday.get_or_none(Holiday.id == found) if found else None
    if holiday is None:
        raise NotFoundError(f"holiday {str(holiday_id)[:40]} does not exist")
    return holiday


def remove_holiday(holiday_id) -> None:
    """Raises: NotFoundError when no holiday has that id."""
    found = row_id(holiday_id)
    deleted = Holiday.delete().where(Holiday.id == found).execute() if found else 0
    if not deleted:
        raise NotFoundError(f"holiday {str(holiday_id)[:40]} does not exist")
    log.info("holiday removed id=%s", found)


def list_holidays(campaign_id=None, with_global: bool = True) -> list[Holiday]:
    """A campaign's holidays (and the global ones), or only the global ones, by date."""
    query = Holiday.select()
    if campaign_id is None:
        query = query.where(Holiday.campaign_id.is_null())
    elif with_global:
        query = query.where((Holiday.campaign_id == campaign_id) | Holiday.campaign_id.is_null())
    else:
        query = query.where(Holiday.campaign_id == campaign_id)
    return list(query.order_by(Holiday.day, fn.COALESCE(Holiday.campaign_id, 0), Holiday.id))


def holidays_from(campaign_id: int, first: date) -> dict[date, str]:
    """{local date: name} of the campaign's and the global holidays from ``first`` on."""
    query = Holiday.select(Holiday.day, Holiday.name).where(
        ((Holiday.campaign_id == campaign_id) | Holiday.campaign_id.is_null())
        & (Holiday.day >= first)
    ).order_by(fn.COALESCE(Holiday.campaign_id, 0).desc())  # the campaign's name wins
    found = {}
    for day, name in query.tuples():
        found.setdefault(day if isinstance(day, date) else date.fromisoformat(str(day)), name)
    return found


def campaign_opening(campaign, now: datetime, windows=None) -> Opening:
    """``windows.campaign_opening`` with the holidays taken out.

    Not open on a holiday: the reason names it (``holiday NAME (DATE)``) and
    ``next_start`` is the first window on a day that is not one.
    """
    if windows is None:
        windows = CallWindow.select().where(CallWindow.campaign == campaign.id)
    spans = spans_of(windows)
    found = opening(spans, campaign.timezone, now, campaign.starts_at, campaign.ends_at)
    tz = zone(campaign.timezone)
    days = holidays_from(campaign.id, now.astimezone(tz).date() - timedelta(days=1))
    if not days:
        return found
    skipped = None
    for _ in range(MAX_SKIPS):
        start = found.next_start
        day = start.astimezone(tz).date() if start is not None else None
        if day not in days:
            break
        skipped = skipped or f"holiday {days[day]} ({day})"
        at = _local_midnight(day + timedelta(days=1), tz)
        found = opening(spans, campaign.timezone, at, campaign.starts_at, campaign.ends_at)
    else:
        return Opening(False, None, None, skipped)
    if skipped is None:
        return _cut_at_holiday(found, days, tz)
    return Opening(False, found.next_start, None, skipped)


def _cut_at_holiday(found: Opening, days, tz) -> Opening:
    """An open window closes at the midnight a holiday starts, if that comes first."""
    if not found.open or found.closes_at is None:
        return found
    day = found.next_start.astimezone(tz).date() + timedelta(days=1)
    midnight = _local_midnight(day, tz)
    if day in days and midnight < found.closes_at:
        return Opening(True, found.next_start, midnight, found.reason)
    return found


def _local_midnight(day: date, tz) -> datetime:
    """The first instant of local ``day`` (after a gap if midnight does not exist), in UTC."""
    naive = datetime.combine(day, datetime.min.time())
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
