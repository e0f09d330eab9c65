"""Campaign reports: the figures and the per-contact CSV (the charts: ``app.report_charts``).

Everything here reads ``contact_result`` (built by finalization's results step)
plus, for the report, the campaign's events while they are still in the
working table. Queries aggregate in the database or page through an index, so
memory stays bounded whatever the campaign's size.
"""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from app import csvcells
from app.amd_figures import amd_figures, format_lines as amd_format_lines
from app.callbacks import report_figures as callback_figures
from app.db import database, is_postgres
from app.events import ANSWERED, FAILED_PREFIX, OUTCOMES
from app.models import Campaign, CampaignOption, CampaignReport, ContactList
from app.private_files import open_private
from app.windows import zone

log = logging.getLogger(__name__)

UTC = timezone.utc
NOT_CALLED = "not_called"  # the campaign ended before this contact was dialed
REPORT_OUTCOMES = (*OUTCOMES, NOT_CALLED)
PAGE = 20_000  # rows per keyset page when streaming
CSV_RESULT_COLUMNS = (
    "outcome",
    "attempts",
    "digit",
    "digit_label",
    "answered_at",
    "talk_seconds",
    "last_attempt_at",
    "amd_verdict", "amd_cause",  # AMDSTATUS and AMDCAUSE of the last verdict (app.amd)
)
CHARTS = ("outcomes", "digits", "answered_per_attempt")
CAMPAIGN_DATES = ("starts_at", "ends_at", "activated_at", "finished_at", "drain_started_at")


# --- small helpers --------------------------------------------------------------


def sql(text: str) -> str:
    """Our SQL uses ``?`` placeholders; psycopg2 wants ``%s`` (and ``%%`` for a literal %)."""
    return text.replace("%", "%%").replace("?", "%s") if is_postgres() else text


def rows(query: str, params=()):
    """Run ``query`` and return all rows (only for small, aggregated results)."""
    return database.execute_sql(sql(query), params).fetchall()


def as_utc(value):
    """A DB datetime value (text on SQLite, naive datetime on PostgreSQL) as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class LocalTimes:
    """DB datetimes as ``YYYY-MM-DD HH:MM:SS+HH:MM`` in one zone; '' for none.

    The CSV's hot loop: the zone lookup is done once per UTC minute (offsets
    only change on minute boundaries), the rest is string slicing.
    """

    def __init__(self, tz):
        self.tz = tz
        self.minutes = {}

    def __call__(self, value) -> str:
        if value is None or value == "":
            return ""
        text = value if isinstance(value, str) else value.isoformat(sep=" ")
        minute = text[:16]
        local = self.minutes.get(minute)
        if local is None:
            if len(self.minutes) > 100_000:
                self.minutes.clear()
            moment = as_utc(minute).astimezone(self.tz)
            local = self.minutes[minute] = (moment.strftime("%Y-%m-%d %H:%M:"), moment.isoformat()[-6:])
        return f"{local[0]}{text[17:19]}{local[1]}"


def write_atomically(path: Path, write) -> Path:
    """Call ``write(binary_file)`` on a temporary file, fsync it, rename it to ``path``.

    A crash leaves either the old file or the new one, never half of one; two
    processes writing the same content both end with that content. Exports hold
    phone numbers: the file is 0600, the folders it creates 0700.
    """
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open_private(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def export_folder(export_dir: Path, campaign_id: int) -> Path:
    return Path(export_dir) / f"campaign-{campaign_id}"


# --- the report -----------------------------------------------------------------


def _hour_bucket_sql() -> str:
    if is_postgres():
        return "to_char(received_at, 'YYYY-MM-DD HH24')"
    return "substr(received_at, 1, 13)"


def build_report(campaign_id: int) -> dict:
    """The campaign's figures from its results (and its events, still in the working table)."""
    campaign = Campaign.get_by_id(campaign_id)
    # one pass over the results and one over the events; the rest is arithmetic
    report = {"campaign": _campaign_facts(campaign), **_result_figures(campaign_id)}
    events = _events_by_name(campaign_id)
    report["calls_per_hour"] = _calls_per_hour(campaign_id, zone(campaign.timezone))
    report["amd"] = amd_figures(campaign_id)
    report["events"], report["events_total"] = events, sum(events.values())
    report.update(callback_figures(campaign_id, events))  # the call-back options pressed
    return report


def _campaign_facts(campaign: Campaign) -> dict:
    """The campaign's name, zone and dates, as the report keeps them."""
    facts = {"id": campaign.id, "name": campaign.name, "timezone": campaign.timezone}
    return {**facts, **{name: _iso(getattr(campaign, name)) for name in CAMPAIGN_DATES}}


def _result_figures(campaign_id: int) -> dict:
    """Contacts, outcomes, attempts, talk time and digits, from one GROUP BY over the results."""
    outcomes = dict.fromkeys(REPORT_OUTCOMES, 0)
    contacts = attempted = attempts_total = talk_total = talked = no_digit = 0
    pressed, histogram, answered_per_attempt = Counter(), Counter(), Counter()
    for outcome, attempts, digit, count, talk, talks in rows(
        "SELECT outcome, attempts, digit, COUNT(*), SUM(talk_seconds), COUNT(talk_seconds) "
        "FROM contact_result WHERE campaign_id = ? GROUP BY outcome, attempts, digit",
        (campaign_id,),
    ):
        outcomes[outcome] = outcomes.get(outcome, 0) + count
        contacts += count
        attempted += count if attempts > 0 else 0
        attempts_total += attempts * count
        talk_total += talk or 0
        talked += talks
        histogram[attempts] += count
        if digit:
            pressed[digit] += count
        if outcome == ANSWERED:
            # an answered contact is never called again: its attempts are the answering one
            answered_per_attempt[attempts] += count
            no_digit += 0 if digit else count
    answered = outcomes.get(ANSWERED, 0)
    return {
        "contacts": contacts,
        "attempted": attempted,
        "answered": answered,
        "answer_rate": round(answered / attempted, 4) if attempted else 0.0,
        "attempts_total": attempts_total,
        "talk_seconds_total": talk_total,
        "talk_seconds_average": round(talk_total / talked, 1) if talked else None,
        "outcomes": outcomes,
        "digits": _digits(campaign_id, pressed),
        "answered_without_digit": no_digit,
        "attempts_histogram": {str(k): v for k, v in sorted(histogram.items())},
        "answered_per_attempt": {str(k): v for k, v in sorted(answered_per_attempt.items())},
    }


def _digits(campaign_id: int, pressed: Counter) -> list[dict]:
    """Each option's digit, label and count, plus any other digit pressed, in keypad order."""
    options = CampaignOption.select().where(CampaignOption.campaign == campaign_id)
    labels = {o.digit: o.label for o in options}
    return [
        {"digit": d, "label": labels.get(d, ""), "count": pressed.get(d, 0)}
        for d in sorted(set(labels) | set(pressed), key=_digit_order)
    ]


def _events_by_name(campaign_id: int) -> dict:
    """How many events of each name (read from the (campaign, contact, attempt, name) index)."""
    query = (
        "SELECT name, COUNT(*) FROM call_event WHERE campaign_id = ? GROUP BY name ORDER BY name"
    )
    return dict(rows(query, (campaign_id,)))


def _calls_per_hour(campaign_id: int, tz) -> list[dict]:
    """Calls and answers per hour, the hours in the campaign's zone."""
    # every call that reached the PBX ends in exactly one 'answered' or 'failed-*'
    calls, answers = Counter(), Counter()
    for hour, answered_calls, failed_calls in rows(
        f"SELECT {_hour_bucket_sql()} AS hour, "
        "SUM(CASE WHEN name = 'answered' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN name = 'answered' THEN 0 ELSE 1 END) FROM call_event "
        "WHERE campaign_id = ? AND (name = 'answered' OR name LIKE ?) GROUP BY hour",
        (campaign_id, FAILED_PREFIX + "%"),
    ):
        calls[hour] += answered_calls + failed_calls
        answers[hour] += answered_calls
    return [
        {
            "hour": datetime.strptime(hour, "%Y-%m-%d %H")
            .replace(tzinfo=UTC)
            .astimezone(tz)
            .isoformat(timespec="minutes"),
            "calls": calls[hour],
            "answered": answers[hour],
        }
        for hour in sorted(calls)
    ]


def _iso(value):
    return value.isoformat() if value is not None else None


def _digit_order(digit: str):
    return "0123456789*#".find(digit) if digit in "0123456789*#" else 99


def format_report(data: dict) -> str:
    """The report as text for a terminal."""
    c = data.get("campaign", {})
    lines = [
        f"Campaign {c.get('id')}: {c.get('name')} ({c.get('timezone')})",
        f"  contacts   {data['contacts']}",
        f"  attempted  {data['attempted']}  ({data['attempts_total']} calls)",
        f"  answered   {data['answered']}  (answer rate {data['answer_rate'] * 100:.1f}%)",
        "  outcomes",
    ]
    lines += [f"    {k:<12} {v}" for k, v in data["outcomes"].items() if v]
    if data["digits"]:
        lines.append("  digits")
        lines += [f"    {d['digit']}  {d['label'] or '-':<20} {d['count']}" for d in data["digits"]]
        lines.append(f"    no digit                {data.get('answered_without_digit', 0)}")
    lines += amd_format_lines(data.get("amd") or {})
    lines += [f"  call-backs asked for     {n}" for n in [data.get("callbacks_requested")] if n]
    lines.append("  attempts per contact")
    lines += [f"    {k:>3}  {v}" for k, v in data["attempts_histogram"].items()]
    if data["calls_per_hour"]:
        lines.append("  calls per hour (campaign time)")
        lines += [f"    {h['hour']}  {h['calls']:>6}  answered {h['answered']}" for h in data["calls_per_hour"]]
    still_up = data.get("still_up") or []
    if still_up:
        lines.append(f"  calls still up when finalized after the maximum drain time: {len(still_up)}")
        lines += [f"    {s.get('channel', '')} contact={s.get('contact_id')} attempt={s.get('attempt')}" for s in still_up]
    return "\n".join(lines)


# --- CSV -------------------------------------------------------------------------


def csv_header(contact_list: ContactList | None) -> tuple[list[str], list[str]]:
    """(header row, the contact field names in file order)."""
    fields = list(contact_list.columns or []) if contact_list else []
    phone = (contact_list.phone_column if contact_list else "") or "phone"
    return [phone, *fields, *CSV_RESULT_COLUMNS], fields


def iter_result_rows(campaign_id: int, contact_list_id: int | None):
    """Every result with its contact, in the order of the uploaded file, page by page."""
    columns = (
        "SELECT c.position, c.id, c.phone, c.fields, r.outcome, r.attempts, r.digit, "
        "r.digit_label, r.answered_at, r.talk_seconds, r.last_attempt_at, r.amd_verdict, "
        "r.amd_cause "
    )
    if contact_list_id is None:
        # results without a list: the file order is unknown, contact ids stand in
        query = sql(
            columns + "FROM contact_result r JOIN contact c ON c.id = r.contact_id "
            "WHERE r.campaign_id = ? AND r.contact_id > ? ORDER BY r.contact_id LIMIT ?"
        )
        params, after = (campaign_id,), (-1,)
    else:
        query = sql(
            columns + "FROM contact c "
            "JOIN contact_result r ON r.campaign_id = ? AND r.contact_id = c.id "
            "WHERE c.contact_list_id = ? AND (c.position, c.id) > (?, ?) "
            "ORDER BY c.position, c.id LIMIT ?"
        )
        params, after = (campaign_id, contact_list_id), (-(2**31), -1)
    while True:
        page = database.execute_sql(query, (*params, *after, PAGE)).fetchall()
        if not page:
            return
        yield from page
        last = page[-1]
        after = (last[1],) if contact_list_id is None else (last[0], last[1])


def write_csv(campaign_id: int, out) -> int:
    """Write the per-contact CSV (UTF-8, times in the campaign's zone) to binary ``out``.

    Returns the number of contact rows written.
    """
    campaign = Campaign.get_by_id(campaign_id)
    tz = zone(campaign.timezone)
    contact_list = ContactList.get_or_none(ContactList.id == campaign.contact_list_id)
    header, fields = csv_header(contact_list)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    writer = csvcells.writer(text)
    writer.writerow(header)
    count = 0
    loads = json.loads
    local = LocalTimes(tz)
    for (_pos, _id, phone, raw_fields, outcome, attempts, digit, label, answered_at,
         talk, last_at, verdict, cause) in iter_result_rows(campaign_id, campaign.contact_list_id):
        values = loads(raw_fields) if raw_fields else {}
        writer.writerow(
            [
                phone,
                *[values.get(name, "") for name in fields],
                outcome,
                attempts,
                digit,
                label,
                local(answered_at),
                talk,  # None is written as an empty field
                local(last_at),
                verdict, cause,
            ]
        )
        count += 1
    text.flush()
    text.detach()
    return count


def stored_report(campaign_id: int):
    """The CampaignReport row of a campaign, or None."""
    return CampaignReport.get_or_none(CampaignReport.campaign == campaign_id)

