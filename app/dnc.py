"""The do-not-call list: numbers never dialled, whatever the campaign.

Numbers are stored in E.164, normalised exactly like contact lists
(``app.contacts.normalise_phone``), so a lookup by a contact's phone
is an equality test.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from app.clock import utcnow
from app.contacts import normalise_phone, plan_import, read_records, require_phone
from app.db import database
from app.errors import NotFoundError, ValidationError
from app.models import DoNotCall
from app.quoting import cut

log = logging.getLogger(__name__)

UPLOAD_BATCH = 1000
MAX_REPORTED_REJECTS = 1000
SHOWN_CELL_CHARS = 100  # of a refused cell, as the upload page shows it
_NOT_DIGITS = re.compile(r"[^0-9]")


def add_number(
    raw: str, country: str = "US", source: str = "manual", note: str = "", now=None
) -> tuple[DoNotCall, bool]:
    """Put a number on the list; return (entry, created). Adding it twice is harmless.

    Raises:
        ValidationError: the number does not normalise; the message says why.
    """
    if note and not note.isprintable():  # a NUL would fail on PostgreSQL
        raise ValidationError("note: one line of printable characters")
    phone = require_phone(raw, country)
    entry, created = DoNotCall.get_or_create(
        phone=phone,
        defaults=dict(source=source[:64], note=(note or "")[:255], created_at=now or utcnow()),
    )
    if created:
        log.info("do-not-call added phone=%s source=%s", phone, source)
    return entry, created


def remove_number(raw: str, country: str = "US", by: str = "") -> bool:
    """Take a number (raw or E.164) off the list; True when it was there.

    Raises:
        ValidationError: the number does not normalise.
    """
    phone = require_phone(raw, country)
    removed = _remove(DoNotCall.phone == phone, by)
    return bool(removed)


def remove_entry(entry_id: int, by: str = "") -> str:
    """Delete one entry by id; return its number.

    Raises:
        NotFoundError: no entry has that id.
    """
    removed = remove_entries([entry_id], by)
    if not removed:
        raise NotFoundError(f"do-not-call entry {entry_id} does not exist")
    return removed[0]


def remove_entries(entry_ids, by: str = "") -> list[str]:
    """Delete the entries with these ids (unknown ones are skipped); return their numbers."""
    ids = [int(entry_id) for entry_id in entry_ids]
    phones = _remove(DoNotCall.id.in_(ids), by) if ids else []
    if len(ids) > 1:
        log.info("do-not-call bulk removal count=%s of=%s by=%s", len(phones), len(ids), by)
    return phones


def _remove(condition, by: str) -> list[str]:
    """Delete the matching entries and write the audit line of each number; return the numbers.

    Every removal (a form, the bulk action, a script) goes through here, so each
    number taken off the list leaves the same log line saying who did it.
    """
    query = DoNotCall.delete().where(condition).returning(DoNotCall.id, DoNotCall.phone)
    removed = list(query.tuples().execute())
    for entry_id, phone in removed:
        log.info("do-not-call removed phone=%s entry=%s by=%s", phone, entry_id, by or "-")
    return [phone for _, phone in removed]


def search_query(text: str = ""):
    """The entries whose number contains the digits of ``text`` (all when it has none), newest first."""
    query = DoNotCall.select().order_by(DoNotCall.created_at.desc(), DoNotCall.id.desc())
    digits = _NOT_DIGITS.sub("", text or "")
    if digits:
        query = query.where(DoNotCall.phone.contains(digits))
    elif text and text.strip():
        # words: search the note and the source
        words = text.strip()
        query = query.where(DoNotCall.note.contains(words) | DoNotCall.source.contains(words))
    return query


def search(text: str = "", limit: int = 50, offset: int = 0) -> list[DoNotCall]:
    """One page of ``search_query(text)``."""
    return list(search_query(text).limit(limit).offset(offset))


def is_blocked(phone: str) -> bool:
    """Whether an E.164 number is on the list."""
    return DoNotCall.select().where(DoNotCall.phone == phone).exists()


def blocked_among(phones) -> set[str]:
    """The E.164 numbers of ``phones`` that are on the list."""
    phones = list(set(phones))
    found = set()
    for start in range(0, len(phones), 500):
        part = phones[start : start + 500]
        found.update(
            p
            for (p,) in DoNotCall.select(DoNotCall.phone).where(DoNotCall.phone.in_(part)).tuples()
        )
    return found


@dataclass
class UploadResult:
    rows_total: int = 0
    added: int = 0
    already: int = 0  # on the list before, or twice in the file
    rejected: int = 0
    rejects: list = field(default_factory=list)  # (line, value, reason), the first 1000


def upload(
    path, country: str = "US", source: str = "upload", now=None, **overrides
) -> UploadResult:
    """Add every number of a CSV file (sniffed like contact lists) to the list.

    Raises:
        ValidationError: the file has no phone column or cannot be read.
    """
    plan = plan_import(path, country, **overrides)
    result = UploadResult()
    stamp = now or utcnow()
    batch = []

    def flush():
        if not batch:
            return
        with database.atomic():
            inserted = (
                DoNotCall.insert_many(
                    [(phone, source[:64], "", stamp) for phone in batch],
                    fields=[
                        DoNotCall.phone,
                        DoNotCall.source,
                        DoNotCall.note,
                        DoNotCall.created_at,
                    ],
                )
                .on_conflict_ignore()
                .as_rowcount()
                .execute()
            )
        result.added += inserted
        result.already += len(batch) - inserted
        batch.clear()

    for line, cells, error in read_records(plan):
        result.rows_total += 1
        raw = ""
        if cells is not None and plan.phone_index < len(cells):
            raw = cells[plan.phone_index]
        phone, reason = normalise_phone(raw, plan.country) if cells is not None else (None, error)
        if phone is None:
            result.rejected += 1
            if len(result.rejects) < MAX_REPORTED_REJECTS:
                result.rejects.append((line, cut(raw, SHOWN_CELL_CHARS), reason))
            continue
        batch.append(phone)
        if len(batch) >= UPLOAD_BATCH:
            flush()
    flush()
    log.info(
        "do-not-call upload file=%s total=%s added=%s already=%s rejected=%s",
        path,
        result.rows_total,
        result.added,
        result.already,
        result.rejected,
    )
    return result


def entry(entry_id: int) -> DoNotCall:
    """Raises: NotFoundError when no entry has that id."""
    found = DoNotCall.get_or_none(DoNotCall.id == entry_id)
    if found is None:
        raise NotFoundError(f"do-not-call entry {entry_id} does not exist")
    return found
