"""The writer thread and the journal against the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timezone

from agi.journal import Journal, decode
from agi.protocol import Event
from tests.agi.conftest import call, stored_rows, wait_until

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def test_it_replays_a_journal_at_start_and_sets_a_poison_event_aside(agi_daemon, agi_db,
                                                                   tmp_path):
    _db, url = agi_db
    path = tmp_path / "journal0.jsonl"
    journal = Journal(path).open()
    good = [Event(60, i, 1, "answered", NOW, f"u{i}", "Local/x", "agi", {}) for i in range(1, 6)]
    # A row the database refuses for good (NOT NULL name): it must not block the rest.
    poison = Event(60, 99, 1, None, NOW, "u99", "Local/x", "agi", {})
    journal.append(good[:2] + [poison] + good[2:])
    journal.close()

    daemon = agi_daemon(journal_path=path)
    wait_until(lambda: len(stored_rows(url, 60)) == 5, what="the replay")
    wait_until(lambda: path.stat().st_size == 0, what="the truncation")
    assert set(stored_rows(url, 60)) == {(i, 1, "answered") for i in range(1, 6)}
    rejected = journal.rejected_path.read_text().splitlines()
    assert [decode(line) for line in rejected] == [poison]
    assert daemon.metrics.value("agi_events_set_aside_total") == 1
    assert daemon.metrics.value("agi_journal_replayed_total") == 5
    # New traffic flows once the journal is empty.
    call(daemon.port, "60/7/1/answered")
    assert (7, 1, "answered") in stored_rows(url, 60)
