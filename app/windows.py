"""Call windows: when a campaign may start calls, in its own time zone.

A window is a span of local wall-clock time on one weekday (0 = Monday). Each
span is turned into an absolute UTC interval for a given local date through
``zoneinfo``, so a window keeps its local hours across DST changes (09:00 New
York is 14:00 UTC in winter and 13:00 UTC in summer). A window whose end is not
after its start runs past midnight (``22:00-02:00``, ``00:00-00:00`` = all day).
On a DST gap day a start that does not exist (02:30 on a spring-forward night)
maps to the instant just after the gap; an ambiguous time (fall-back) is its
first occurrence (PEP 495 ``fold=0``).

The campaign's ``starts_at`` / ``ends_at`` (UTC) bound every window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.errors import ValidationError
from app.models import CallWindow

UTC = timezone.utc
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# how far ahead next_open looks: a week covers every weekday; one more day
# covers a window that starts late on the last day
LOOKAHEAD_DAYS = 8
# the dates a campaign may start and end between (the campaign rules hold them to
# these): far enough for any real campaign, near enough that every sum on them (a
# week of windows, a retry delay, a lease) stays far from datetime's year 9999
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Span:
    """One window as local times on a weekday."""

    weekday: int
    starts: time
    ends: time


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``.

    Raises:
        ValidationError: the name is not a known time zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r}") from None


def spans_of(windows) -> list[Span]:
    """CallWindow rows (or anything with weekday/starts/ends) as Spans."""
    return [Span(int(w.weekday), _as_time(w.starts), _as_time(w.ends)) for w in windows]


def _as_time(value) -> time:
    if isinstance(value, time):
        return value
    return parse_time(str(value))


def parse_time(text: str) -> time:
    """'9', '09:00' or '09:00:00' -> time; '24:00' is midnight at the end of the day.

    Raises:
        ValidationError: not a time of day.
    """
    text = text.strip()
    if text in ("24", "24:00", "24:00:00"):
        return time(0, 0)
    parts = text.split(":")
    try:
        numbers = [int(p) for p in parts]
        if not 1 <= len(numbers) <= 3:
            raise ValueError
        return time(*numbers)
    except (ValueError, TypeError):
        raise ValidationError(f"not a time of day: {text!r}") from None


def parse_windows(text: str) -> list[Span]:
    """Parse ``mon-fri 09:00-12:00,14:00-18:00; sat 10:00-13:00`` into Spans.

    Day parts: a day name, a range ``mon-fri``, ``daily`` or ``weekdays``.

    Raises:
        ValidationError: the text names no day or a malformed time.
    """
    result = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        try:
            days_text, times_text = part.split(None, 1)
        except ValueError:
            raise ValidationError(f"window {part!r}: expected 'DAYS HH:MM-HH:MM[,...]'") from None
        days = _parse_days(days_text.lower())
        for piece in times_text.replace(" ", "").split(","):
            try:
                start_text, end_text = piece.split("-")
            except ValueError:
                raise ValidationError(f"window {part!r}: expected HH:MM-HH:MM, got {piece!r}") from None
            starts, ends = parse_time(start_text), parse_time(end_text)
            result.extend(Span(d, starts, ends) for d in days)
    if not result:
        raise ValidationError("no call window given")
    return result


def _parse_days(text: str) -> list[int]:
    if text in ("daily", "all", "*"):
        return list(range(7))
    if text == "weekdays":
        return list(range(5))
    if text == "weekend":
        return [5, 6]
    days = []
    for item in text.split(","):
        if "-" in item:
            first, last = (_day(x) for x in item.split("-", 1))
            if last < first:
                days.extend(list(range(first, 7)) + list(range(0, last + 1)))
            else:
                days.extend(range(first, last + 1))
        else:
            days.append(_day(item))
    return days


def _day(text: str) -> int:
    key = text.strip()[:3]
    if key not in WEEKDAYS:
        raise ValidationError(f"unknown weekday {text!r} (use mon..sun)")
    return WEEKDAYS.index(key)


def intervals(spans, tz: ZoneInfo, local_day: date):
    """The UTC (start, end) intervals of the spans that begin on ``local_day``."""
    for span in spans:
        if span.weekday != local_day.weekday():
            continue
        end_day = local_day if span.ends > span.starts else local_day + timedelta(days=1)
        start = _to_utc(datetime.combine(local_day, span.starts), tz)
        end = _to_utc(datetime.combine(end_day, span.ends), tz)
        if end > start:
            yield start, end


def _to_utc(naive_local: datetime, tz: ZoneInfo) -> datetime:
    """Local wall time -> UTC; a time inside a DST gap moves past the gap."""
    aware = naive_local.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(UTC)
    # A wall time that does not exist does not round-trip; PEP 495 fold=0 then
    # gives the pre-transition offset, which lands just after the gap: keep it.
    return utc


@dataclass(frozen=True)
class Opening:
    """Whether dialing is allowed at ``now``; when not, when it next is (None: never)."""

    open: bool
    next_start: datetime | None  # == now when open
    closes_at: datetime | None  # end of the current window (open only)
    # "", "before start date", "after end date", "outside window", "no windows",
    # "date out of range" (a row stored before the rules bounded its dates)
    reason: str


def opening(spans, tz_name: str, now: datetime, starts_at=None, ends_at=None) -> Opening:
    """Is ``now`` (aware) inside a window and the date range; if not, the next start."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(UTC)
    if ends_at is not None and now >= ends_at:
        return Opening(False, None, None, "after end date")
    if not spans:
        return Opening(False, None, None, "no windows")
    tz = zone(tz_name)
    t = max(now, starts_at) if starts_at is not None else now
    if t >= LATEST:
        # nothing opens there, and a search near year 9999 would overflow
        return Opening(False, None, None, "date out of range")
    local_today = t.astimezone(tz).date()
    best = None
    best_end = None
    # start one day back: a window from yesterday may run past midnight
    for offset in range(-1, LOOKAHEAD_DAYS):
        for start, end in intervals(spans, tz, local_today + timedelta(days=offset)):
            if end <= t:
                continue
            candidate = max(start, t)
            if best is None or candidate < best or (candidate == best and end > best_end):
                best, best_end = candidate, end
    if best is None or (ends_at is not None and best >= ends_at):
        return Opening(False, None, None, "after end date" if best is not None else "no windows")
    if best == now:
        closes = best_end if ends_at is None else min(best_end, ends_at)
        return Opening(True, now, closes, "")
    reason = "before start date" if starts_at is not None and now < starts_at and best == starts_at else "outside window"
    return Opening(False, best, None, reason)


def campaign_opening(campaign, now: datetime, windows=None) -> Opening:
    """``opening`` for a Campaign row (its CallWindow rows unless given)."""
    if windows is None:
        windows = CallWindow.select().where(CallWindow.campaign == campaign.id)
    return opening(spans_of(windows), campaign.timezone, now, campaign.starts_at, campaign.ends_at)


def window_problems(windows) -> list[str]:
    """What is wrong with a campaign's windows (empty: fine; having none is not checked here)."""
    found = []
    for w in windows:
        if not isinstance(w.weekday, int) or not 0 <= w.weekday <= 6:
            found.append(f"call window weekday {w.weekday} is not 0..6")
        for name in ("starts", "ends"):
            value = getattr(w, name)
            if not isinstance(value, time):
                try:
                    _as_time(value)
                except ValidationError as exc:
                    found.append(f"call window {name}: {exc}")
    return found


def describe_windows(campaign_id: int) -> list[str]:
    """A campaign's windows as text, e.g. ``mon 09:00-12:00``, by weekday and start."""
    rows = CallWindow.select().where(CallWindow.campaign == campaign_id).order_by(
        CallWindow.weekday, CallWindow.starts
    )
    return [
        f"{WEEKDAYS[s.weekday]} {s.starts.strftime('%H:%M')}-{s.ends.strftime('%H:%M')}"
        for s in spans_of(rows)
    ]
