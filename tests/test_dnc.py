"""The do-not-call list: add, remove, search, upload, lookups."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app import dnc
from app.errors import NotFoundError, ValidationError
from app.models import DoNotCall

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def test_it_adds_a_number_in_e164_once(db):
    entry, created = dnc.add_number("06 12 34 56 78", "FR", note="asked twice", now=NOW)
    assert (entry.phone, entry.source, entry.note, created) == (
        "+33612345678",
        "manual",
        "asked twice",
        True,
    )
    again, created = dnc.add_number("+33 6 12 34 56 78", "US", now=NOW)
    assert (again.id, created) == (entry.id, False)
    assert DoNotCall.select().count() == 1
    assert DoNotCall.get_by_id(entry.id).created_at == NOW


def test_it_refuses_a_number_that_does_not_normalise(db):
    with pytest.raises(ValidationError, match="too short"):
        dnc.add_number("123", "FR")
    with pytest.raises(ValidationError, match="not a phone number"):
        dnc.add_number("call me", "FR")
    assert DoNotCall.select().count() == 0


def test_it_refuses_a_note_a_database_cannot_store(db):
    # PostgreSQL refuses a NUL in text: a clear refusal, never a 500
    with pytest.raises(ValidationError, match="note: one line of printable characters"):
        dnc.add_number("0612345678", "FR", note="called\x00in")
    assert DoNotCall.select().count() == 0


def test_it_removes_a_number_written_any_way(db):
    dnc.add_number("0612345678", "FR")
    assert dnc.remove_number("+33 6 12 34 56 78", "FR") is True
    assert dnc.remove_number("0612345678", "FR") is False
    entry, _ = dnc.add_number("0612345679", "FR")
    dnc.remove_entry(entry.id)
    with pytest.raises(NotFoundError):
        dnc.remove_entry(entry.id)


def test_it_removes_entries_in_bulk_and_logs_each_number_and_who(db, caplog):
    caplog.set_level("INFO", logger="app.dnc")
    ids = [dnc.add_number(f"061234567{i}", "FR")[0].id for i in range(3)]
    removed = dnc.remove_entries([ids[0], ids[2], 999_999], by="ann")
    assert removed == ["+33612345670", "+33612345672"]
    assert [p for (p,) in DoNotCall.select(DoNotCall.phone).tuples()] == ["+33612345671"]
    lines = [r.getMessage() for r in caplog.records if "removed" in r.getMessage()]
    assert lines == [
        f"do-not-call removed phone=+33612345670 entry={ids[0]} by=ann",
        f"do-not-call removed phone=+33612345672 entry={ids[2]} by=ann",
    ]
    assert "do-not-call bulk removal count=2 of=3 by=ann" in caplog.messages
    assert dnc.remove_entries([]) == []


def test_it_searches_by_digits_and_by_note(db):
    dnc.add_number("0612345678", "FR", note="complaint")
    dnc.add_number("(212) 555-1234", "US", source="api")
    assert [e.phone for e in dnc.search("12 34 56")] == ["+33612345678"]
    assert [e.phone for e in dnc.search("555-12")] == ["+12125551234"]
    assert [e.phone for e in dnc.search("complaint")] == ["+33612345678"]
    assert len(dnc.search("")) == 2
    assert len(dnc.search("", limit=1, offset=1)) == 1


def test_it_tells_which_numbers_are_blocked(db):
    dnc.add_number("0612345678", "FR")
    assert dnc.is_blocked("+33612345678")
    assert not dnc.is_blocked("+33612345679")
    assert dnc.blocked_among(["+33612345678", "+33612345679"]) == {"+33612345678"}


def test_it_uploads_a_file_with_rejects_and_duplicates(db, tmp_path):
    dnc.add_number("0612345678", "FR")
    path = tmp_path / "dnc.csv"
    path.write_bytes(
        "nom;téléphone\nRené;06 12 34 56 78\nZoé;0612345679\nbad;12345\nZoé bis;+33612345679\n"
        "Luc;06 12 34 56 70\n".encode("latin-1")
    )
    result = dnc.upload(path, "FR", now=NOW)
    assert (result.rows_total, result.added, result.already, result.rejected) == (5, 2, 2, 1)
    assert result.rejects == [(4, "12345", "too short")]
    assert {e.phone for e in DoNotCall.select()} == {
        "+33612345678",
        "+33612345679",
        "+33612345670",
    }
    assert DoNotCall.get(DoNotCall.phone == "+33612345670").source == "upload"


def test_it_refuses_an_upload_with_no_phone_column(db, tmp_path):
    path = tmp_path / "dnc.csv"
    path.write_text("name,city\nJean,Paris\n")
    with pytest.raises(ValidationError, match="no phone column"):
        dnc.upload(path, "FR")
