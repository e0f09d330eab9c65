"""The AMD verdict of each result: the last verdict's ``AMDSTATUS`` and ``AMDCAUSE``.

Run by the results step after the fold, for a campaign with AMD on: one UPDATE
reading each contact's latest verdict event through the (campaign, contact,
attempt, name) index; the cause is the event's ``data.cause`` (agi/protocol.py).
"""

from __future__ import annotations

from app.amd import AMD_PREFIX, VERDICT_EVENTS
from app.db import database, is_postgres
from app.finalization import dialect
from app.reports import sql


def _cause_of(column: str) -> str:
    if is_postgres():
        return f"({column}::json ->> 'cause')"
    return f"json_extract({column}, '$.cause')"


def fill_verdicts_sql() -> str:
    """UPDATE of the campaign's results with their last verdict (parameters: campaign x3)."""
    whens = " ".join(f"WHEN '{name}' THEN '{verdict}'"
                     for name, (verdict, _) in VERDICT_EVENTS.items())
    latest = (
        "SELECT {what} FROM call_event e WHERE e.campaign_id = ? "
        "AND e.contact_id = contact_result.contact_id AND "
        f"{dialect.name_starts_with(AMD_PREFIX).replace('name', 'e.name')} "
        "ORDER BY e.attempt DESC, e.id DESC LIMIT 1"
    )
    return sql(
        f"UPDATE contact_result SET "
        f"amd_verdict = COALESCE(({latest.format(what=f'CASE e.name {whens} END')}), ''), "
        f"amd_cause = COALESCE(({latest.format(what=_cause_of('e.data'))}), '') "
        "WHERE campaign_id = ?"
    )


def fill_verdicts(campaign_id: int) -> int:
    """Write each result's verdict and cause; return how many results were looked at."""
    cursor = database.execute_sql(fill_verdicts_sql(), (campaign_id, campaign_id, campaign_id))
    return cursor.rowcount
