"""The parts of finalization's SQL that SQLite and PostgreSQL need written differently.

Each function returns the SQLite form and the PostgreSQL form side by side;
the statements themselves (``results``, ``archive``) are written once.
"""

from __future__ import annotations

from app.db import database, is_postgres


def event_id() -> str:
    """``call_event.id`` wide enough to multiply by 16 without overflow."""
    return "CAST(id AS BIGINT)" if is_postgres() else "id"


def name_starts_with(prefix: str) -> str:
    """A test that ``name`` starts with ``prefix`` (which ends with '-')."""
    if is_postgres():
        # a locale collation may ignore punctuation when comparing: match the pattern
        return f"name LIKE '{prefix}%'"
    # SQLite compares bytes: a range is cheaper than LIKE on every row
    # ('.' follows '-', so every 'dtmf-X' lies between 'dtmf-' and 'dtmf.')
    return f"(name > '{prefix}' AND name < '{prefix[:-1]}.')"


def seconds_between(start: str, end: str) -> str:
    """Whole seconds from ``start`` to ``end`` (two datetime columns), as an integer."""
    if is_postgres():
        return f"CAST(ROUND(EXTRACT(EPOCH FROM ({end} - {start}))) AS INTEGER)"
    return f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400) AS INTEGER)"


def aggregate_join() -> str:
    """The join from the per-contact aggregate to its contacts."""
    # SQLite: a CROSS JOIN keeps the aggregate as the outer loop
    return "JOIN" if is_postgres() else "CROSS JOIN"


def refresh_statistics(tables: str) -> None:
    """PostgreSQL: ANALYZE ``tables`` (comma-separated) before a plan depends on them."""
    if is_postgres():
        database.execute_sql(f"ANALYZE {tables}")


def sort_in_memory() -> None:
    """SQLite: keep temporary b-trees (sorts, groups) in memory rather than in temp files."""
    if not is_postgres():
        database.execute_sql("PRAGMA temp_store = MEMORY")
