"""The local journal: fsync'd appends, ordered replay, truncation only after commit."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timezone

import pytest

from agi.errors import JournalError
from agi.journal import Journal
from agi.protocol import Event

NOW = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=timezone.utc)


def events(n, start=1):
    return [Event(9, i, 1, "hangup", NOW, f"u{i}", "Local/1@x-01;2", "agi",
                  {"hangupcause": "16"}) for i in range(start, start + n)]


def test_it_replays_what_it_appended_in_order(tmp_path):
    journal = Journal(tmp_path / "j.jsonl").open()
    journal.append(events(3))
    journal.append(events(2, start=4))
    assert journal.depth == 5
    got, offset, lines = journal.pending(10)
    assert got == events(5)
    assert lines == 5
    journal.replayed(lines, offset)
    assert journal.depth == 0
    assert (tmp_path / "j.jsonl").stat().st_size == 0


def test_it_keeps_the_file_until_everything_is_replayed(tmp_path):
    journal = Journal(tmp_path / "j.jsonl").open()
    journal.append(events(5))
    first, offset, lines = journal.pending(2)
    assert [e.contact_id for e in first] == [1, 2]
    journal.replayed(lines, offset)
    assert journal.depth == 3
    assert (tmp_path / "j.jsonl").stat().st_size > 0
    journal.append(events(1, start=6))  # arrives while replaying: goes behind
    rest, offset, lines = journal.pending(10)
    assert [e.contact_id for e in rest] == [3, 4, 5, 6]
    journal.replayed(lines, offset)
    assert journal.depth == 0


def test_it_survives_a_restart_and_drops_a_torn_last_line(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = Journal(path).open()
    journal.append(events(2))
    journal.close()
    with open(path, "ab") as f:
        f.write(b'{"campaign_id": 9, "contact_id": 3, "att')  # crash mid-write
    reopened = Journal(path).open()
    assert reopened.depth == 2
    got, _, _ = reopened.pending(10)
    assert got == events(2)
    reopened.append(events(1, start=3))
    got, _, _ = reopened.pending(10)
    assert [e.contact_id for e in got] == [1, 2, 3]


def test_it_refuses_a_journal_held_by_another_daemon(tmp_path):
    holder = Journal(tmp_path / "j.jsonl").open()
    with pytest.raises(JournalError):
        Journal(tmp_path / "j.jsonl").open()
    holder.close()
    Journal(tmp_path / "j.jsonl").open().close()



def test_it_keeps_the_journal_owner_only(tmp_path):
    path = tmp_path / "spool" / "agi-journal.jsonl"
    journal = Journal(path).open()
    journal.append(events(1))
    journal.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # one written by an older version (0640) is tightened when opened
    os.chmod(path, 0o640)
    Journal(path).open().close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
