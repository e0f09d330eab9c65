"""The import of a contact list: create it, stream its file in, record progress and the result.

    main process: records -> chunks -> normalised rows (``normalising``)
                  one writer, batched INSERT ... ON CONFLICT DO NOTHING (``writer``),
                  rejects CSV (``rejects``), progress counters on the ContactList row

Nothing keeps a per-row structure: duplicates are found by the database's
unique (contact_list, phone) index, not by a set in memory.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from app.contacts.deleting import refuse_if_used
from app.contacts.normalising import CHUNK_ROWS, normalised_rows
from app.contacts.plan import ImportPlan, plan_import
from app.contacts.rejects import RejectsWriter, rejects_path_for
from app.contacts.writer import ContactWriter
from app.db import database
from app.errors import NotFoundError, ValidationError
from app.models import Contact, ContactList
from app.quoting import cut

log = logging.getLogger(__name__)

IMPORTING, READY, FAILED = "importing", "ready", "failed"
# Normalised rows are inserted (and the progress counters saved) in one
# transaction per this many rows, or at least once per COMMIT_SECONDS.
COMMIT_ROWS = 20_000
COMMIT_SECONDS = 1.0
NAME_CHARS = ContactList.name.max_length  # PostgreSQL refuses a longer one
ERROR_CHARS = 2000  # of a failed import's message, kept on the list


def check_list_name(name) -> str:
    """The name of a new list, stripped.

    Raises:
        ValidationError: empty, longer than NAME_CHARS or not printable; the message says which.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError("list name: a contact list needs a name")
    if len(name) > NAME_CHARS:
        raise ValidationError(
            f"list name: at most {NAME_CHARS} characters (this one has {len(name)})"
        )
    if not name.isprintable():  # a NUL would fail on PostgreSQL; a newline breaks the pages
        raise ValidationError("list name: one line of printable characters")
    return name


def create_contact_list(
    name: str,
    path,
    country: str = "US",
    phone_column: str | None = None,
    source_filename: str = "",
    created_by=None,
    **overrides,
) -> tuple[ContactList, ImportPlan]:
    """Check an uploaded file and create its list in status ``importing``.

    The caller then sends ``import_contact_list`` (after the commit).

    Raises:
        ValidationError: a bad name, or a file that cannot be imported (no phone column, ...).
    """
    name = check_list_name(name)
    plan = plan_import(path, country, phone_column, **overrides)
    contact_list = ContactList.create(
        name=name,
        source_filename=(source_filename or Path(path).name)[:255],
        default_country=plan.country,
        phone_column=plan.phone_column,
        columns=plan.other_columns,
        status=IMPORTING,
        created_by=created_by,
    )
    log.info("contact list created list=%s file=%s", contact_list.id, path)
    return contact_list, plan


def _save_progress(list_id, **counters):
    """Store the list's status and counters."""
    ContactList.update(**counters).where(ContactList.id == list_id).execute()


def import_contact_list(
    list_id: int,
    path,
    delimiter: str | None = None,
    has_header: bool | None = None,
    encoding: str | None = None,
    workers: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ContactList:
    """Import ``path`` into list ``list_id`` and mark it ready (or failed).

    Safe to run again: a list already ``ready`` is left alone; a list left
    ``importing`` by a crash is emptied and imported from the start.
    ``workers``: normalising processes (default: one per core for files over
    2 MB, none for smaller files).

    Raises:
        NotFoundError: no such list.
        ContactListInUseError: a campaign past DRAFT uses the unfinished list; untouched.
        ValidationError: the file cannot be imported; the list is marked failed.
    """
    contact_list = ContactList.get_or_none(ContactList.id == list_id)
    if contact_list is None:
        raise NotFoundError(f"contact list {list_id} does not exist")
    if contact_list.status == READY:
        log.info("contact list already imported list=%s", list_id)
        return contact_list
    # starting over empties the list: never under a campaign that dials it (a
    # DRAFT only names it, and the import brings the same file back)
    refuse_if_used(list_id, contact_list.name, action="emptied", drafts=False)
    db = database.obj
    try:
        plan = plan_import(
            path,
            contact_list.default_country,
            contact_list.phone_column or None,
            delimiter=delimiter,
            has_header=has_header,
            encoding=encoding,
        )
        _start_over(db, list_id, plan)
        counts = _run_import(db, list_id, plan, workers, chunk_rows)
        if not counts["rows_imported"]:
            _save_progress(list_id, **counts)  # the rejects stay to be looked at
            raise ValidationError(nothing_imported(counts))
    except Exception as exc:
        _mark_failed(db, list_id, exc)
        raise
    _save_progress(list_id, status=READY, **counts)
    log.info(
        "contact list imported list=%s total=%s imported=%s rejected=%s duplicate=%s",
        list_id,
        counts["rows_total"],
        counts["rows_imported"],
        counts["rows_rejected"],
        counts["rows_duplicate"],
    )
    return ContactList.get_by_id(list_id)


def _start_over(db, list_id: int, plan: ImportPlan) -> None:
    """Empty the list and zero its counters: a previous run that died half-way left rows."""
    with db.atomic():
        Contact.delete().where(Contact.contact_list == list_id).execute()
        _save_progress(
            list_id,
            status=IMPORTING,
            phone_column=plan.phone_column,
            columns=plan.other_columns,
            rows_total=0,
            rows_imported=0,
            rows_rejected=0,
            rows_duplicate=0,
            rejects_path="",
            error="",
        )


def _mark_failed(db, list_id: int, exc: Exception) -> None:
    """Log the failure being handled and store its message on the list (status failed)."""
    log.exception("contact import failed list=%s", list_id)
    message = str(exc) if isinstance(exc, ValidationError) else f"import failed: {exc}"
    if db.in_transaction():
        db.rollback()
    _save_progress(list_id, status=FAILED, error=cut(message, ERROR_CHARS))


def nothing_imported(counts: dict) -> str:
    """Why an import that ended with no contact failed: no rows, or every row refused."""
    total = counts["rows_total"]
    if not total:
        return "nothing to import: the file has no data rows (only a header line, or blank lines)"
    return f"no contacts imported: all {total} rows were rejected (see the rejects for why)"


def _run_import(db, list_id, plan, workers, chunk_rows) -> dict:
    """Normalise, insert and count every record of the file; return the list's counters."""
    rejects = RejectsWriter(rejects_path_for(list_id), plan.columns)
    writer = ContactWriter(db, list_id)
    counts = dict(rows_total=0, rows_imported=0, rows_rejected=0, rows_duplicate=0)
    results = normalised_rows(plan, workers, chunk_rows)
    buffered, rejected = [], 0  # normalised rows not inserted yet
    since = time.monotonic()

    def flush():
        # One short transaction per COMMIT_ROWS rows: each commit writes every
        # index page it dirtied to the WAL, and random phones dirty pages all
        # over the unique index, so 5,000-row transactions rewrote it again and
        # again. The rows wait in memory, not in an open transaction, so other
        # writers (the AGI daemon's 250 ms busy timeout) only wait for the insert.
        nonlocal buffered, rejected, since
        with db.atomic():
            inserted = writer.write(buffered)
            counts["rows_total"] += len(buffered) + rejected
            counts["rows_imported"] += inserted
            counts["rows_rejected"] += rejected
            counts["rows_duplicate"] += len(buffered) - inserted
            _save_progress(list_id, **counts)
        buffered, rejected, since = [], 0, time.monotonic()

    try:
        for good, bad in results:
            rejects.write(bad)
            buffered += good
            rejected += len(bad)
            if len(buffered) >= COMMIT_ROWS or time.monotonic() - since >= COMMIT_SECONDS:
                flush()
        flush()
    finally:
        results.close()  # stops the workers if an insert failed
        rejects.close()
    if rejects.count:
        counts["rejects_path"] = str(rejects.path)
    return counts
