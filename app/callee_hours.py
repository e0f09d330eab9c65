"""The callee's own hours: call a contact only inside a window of its own local time.

A campaign's ``callee_window`` ("09:00-20:00", empty: off) is a span of local
time in each callee's zone, on top of the campaign's windows in its own zone.
The zone comes from the number (``phonenumbers.timezone``), worked out once, when
the contact is written (``ContactWriter`` through ``zone_sets_for``), never per
tick: each contact stores the id of its *zone set* (the zones its number may be
in; 0 when unknown), and the list records which sets it holds.

A tick then evaluates the few zone sets of the list, not the contacts: a set is
open when ``now`` falls inside the window in *every* one of its zones (the most
restrictive intersection); the unknown set 0 follows the campaign's zone. The
due query reads the (campaign, state, zone_set, next_attempt_at) index once per
open set, each branch limited, merged by due time: its cost grows with the
number of sets, not with the list.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from phonenumbers import timezone as phone_zones

from app.callee_tables import ListZoneSet, ZoneSet
from app.db import database, is_postgres
from app.errors import ValidationError
from app.models import PENDING, CampaignContact

log = logging.getLogger(__name__)

UNKNOWN = 0  # the zone set of a number with no known zone: the campaign's zone
WINDOW_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})-([0-9]{1,2}):([0-9]{2})\Z")
# phonenumbers' zone tuple -> the zones this system knows, sorted (a few hundred tuples)
_ZONES_BY_DATA: dict[tuple, tuple[str, ...]] = {}


def parse_window(text: str) -> tuple[time, time]:
    """'09:00-20:00' -> (09:00, 20:00): the start before the end, both within the day.

    Raises:
        ValidationError: anything else (the message names ``callee_window``).
    """
    found = WINDOW_RE.match(str(text or "").strip())
    try:
        if not found:
            raise ValueError
        start = time(int(found[1]), int(found[2]))
        end = time(0) if found.group(3, 4) == ("24", "00") else time(int(found[3]), int(found[4]))
        if end != time(0) and end <= start:
            raise ValueError
    except ValueError:
        raise ValidationError(
            f"callee_window {str(text)[:20]!r} is not HH:MM-HH:MM with the start before the "
            "end (e.g. 09:00-20:00), or empty for no callee hours") from None
    return start, end


def window_problems(value) -> list[str]:
    """What is wrong with a campaign's callee window (empty: fine; "" is off)."""
    if not value:
        return []
    try:
        parse_window(value)
    except ValidationError as exc:
        return [str(exc)]
    return []


def zones_of_phone(phone: str) -> tuple[str, ...]:
    """The IANA zones ``phone`` (E.164) may be in, sorted; () when unknown.

    phonenumbers' own lookup (``timezone.time_zones_for_geographical_number``): the
    longest prefix of the E.164 digits in its ``TIMEZONE_DATA``, a few dict lookups,
    without parsing the number again (the import already did; parsing costs ~50 us a
    number, which made a million-row import minutes longer). A prefix not in the data
    (a non-geographic range) falls back to the country code's zones, as its
    country-level lookup does.
    """
    digits = phone[1:] if phone.startswith("+") else ""
    if not digits.isdigit():
        return ()
    for size in range(min(len(digits), phone_zones.TIMEZONE_LONGEST_PREFIX), 0, -1):
        names = phone_zones.TIMEZONE_DATA.get(digits[:size])
        if names is not None:
            break
    else:
        return ()
    found = _ZONES_BY_DATA.get(names)
    if found is None:
        found = _ZONES_BY_DATA[names] = tuple(sorted(n for n in set(names) if _known(n)))
    return found


def _known(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False  # Etc/Unknown, or a zone this system's tzdata lacks
    return True


def _cache(db) -> dict:
    """This database's {zones text: zone set id} (ids are per database)."""
    found = getattr(db, "_callcast_zone_sets", None)
    if found is None:
        found = db._callcast_zone_sets = {}
    return found


def zone_set_id(db, zones: tuple[str, ...]) -> int:
    """The id of the zone set ``zones`` (created on first use); 0 for no zone."""
    if not zones:
        return UNKNOWN
    text = " ".join(zones)
    cache = _cache(db)
    if text not in cache:
        ZoneSet.insert(zones=text).on_conflict_ignore().execute()
        cache[text] = ZoneSet.get(ZoneSet.zones == text).id
    return cache[text]


def zone_sets_for(db, list_id: int, phones) -> list[int]:
    """The zone set of each phone (in order), recorded as held by list ``list_id``."""
    ids = [zone_set_id(db, zones_of_phone(phone)) for phone in phones]
    held = sorted(set(ids) - {UNKNOWN})
    if held:
        ListZoneSet.insert_many(
            [{"contact_list_id": list_id, "zone_set_id": z} for z in held]
        ).on_conflict_ignore().execute()
    return ids


def open_zone_sets(campaign, now: datetime) -> list[int]:
    """The zone sets of the campaign's list whose window is open at ``now`` (0 included)."""
    start, end = parse_window(campaign.callee_window)
    rows = (ZoneSet.select(ZoneSet.id, ZoneSet.zones)
            .join(ListZoneSet, on=(ListZoneSet.zone_set_id == ZoneSet.id))
            .where(ListZoneSet.contact_list_id == campaign.contact_list_id))
    sets = {UNKNOWN: (campaign.timezone,)}
    sets.update((set_id, tuple(zones.split())) for set_id, zones in rows.tuples())
    return sorted(set_id for set_id, zones in sets.items()
                  if all(_inside(now, zone, start, end) for zone in zones))


def _inside(now: datetime, zone: str, start: time, end: time) -> bool:
    local = now.astimezone(ZoneInfo(zone)).time()
    return start <= local and (end == time(0) or local < end)


def _branch() -> str:
    return ('SELECT * FROM (SELECT "id", "contact_id", "attempts", "next_attempt_at" '
            'FROM "campaign_contact" WHERE "campaign_id" = ? AND "state" = ? '
            'AND "zone_set" = ? AND "next_attempt_at" <= ? '
            'ORDER BY "next_attempt_at" LIMIT ?)')


def due_rows(campaign, now: datetime, limit: int) -> list[tuple]:
    """(cc id, contact id, attempts, phone, dnc id) of due contacts inside their own hours.

    Oldest due first, as ``claims.due_contacts``; one index range per open zone set.
    """
    open_sets = open_zone_sets(campaign, now)
    if not open_sets or limit <= 0:
        return []
    due = CampaignContact.next_attempt_at.db_value(now)
    branches = " UNION ALL ".join(f"{_branch()} AS z{i}" for i in range(len(open_sets)))
    text = (f'SELECT cc."id", cc."contact_id", cc."attempts", c."phone", d."id" '
            f'FROM ({branches}) AS cc JOIN "contact" c ON c."id" = cc."contact_id" '
            'LEFT JOIN "do_not_call" d ON d."phone" = c."phone" '
            'ORDER BY cc."next_attempt_at" LIMIT ?')
    params = [v for set_id in open_sets for v in (campaign.id, PENDING, set_id, due, limit)]
    if is_postgres():
        text = text.replace("?", "%s")
    return list(database.execute_sql(text, [*params, limit]).fetchall())
