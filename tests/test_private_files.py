"""Owner-only files: the SQLite database, contact uploads, rejects and exports (not the audio)."""

from __future__ import annotations

import io
import os
import stat
from datetime import timedelta

import pytest
from peewee import OperationalError

from app import uploads
from app.clock import utcnow
from app.config import get_settings
from app.db import connect_database
from app.finalization import archive_late_events, finalize
from app.models import CLOSED, FINALIZING, CallEvent, Campaign, CampaignReport
from app.private_files import make_dirs
from tests.campaign_end_support import T0, call, contact_ids, make_campaign


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def export_dir(tmp_path, monkeypatch):
    """A fresh EXPORT_DIR, not made yet."""
    folder = tmp_path / "fresh" / "exports"
    monkeypatch.setenv("EXPORT_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    monkeypatch.undo()
    get_settings.cache_clear()


def test_it_creates_the_sqlite_database_and_its_wal_and_shm_owner_only(tmp_path):
    path = tmp_path / "var" / "callcast.db"
    db = connect_database(f"sqlite:///{path}")
    with db.connection_context():
        db.execute_sql("CREATE TABLE t (x INTEGER)")
        db.execute_sql("INSERT INTO t VALUES (1)")
        side = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
        assert all(p.exists() for p in side)  # WAL mode, connection open
        assert [mode(p) for p in [path, *side]] == [0o600, 0o600, 0o600]
    assert mode(path.parent) == 0o700


def test_it_makes_an_existing_database_of_ours_owner_only(tmp_path):
    path = tmp_path / "old.db"
    first = connect_database(f"sqlite:///{path}")
    with first.connection_context():
        first.execute_sql("CREATE TABLE t (x INTEGER)")
    wal = path.with_name("old.db-wal")
    wal.write_bytes(b"")
    for p in (path, wal):
        os.chmod(p, 0o644)  # made before this rule
    db = connect_database(f"sqlite:///{path}")
    assert mode(path) == 0o644  # building a Database touches no file
    with db.connection_context():
        assert (mode(path), mode(wal)) == (0o600, 0o600)
        assert db.execute_sql("SELECT COUNT(*) FROM t").fetchone() == (0,)


def test_it_leaves_a_folder_where_the_database_should_be_alone(tmp_path):
    folder = tmp_path / "a-folder"
    db = connect_database(f"sqlite:///{folder}")
    folder.mkdir(mode=0o755)
    with pytest.raises(OperationalError):
        db.connect()
    assert mode(folder) == 0o755


def test_it_stores_uploaded_csvs_owner_only_and_leaves_media_dir_open(tmp_path):
    media = tmp_path / "media"
    token, path = uploads.save_by_token(io.BytesIO(b"phone\n0612345678\n"), media)
    copied = uploads.save_upload(io.BytesIO(b"phone\n0612345678\n"), "list.csv", media)
    assert (mode(path), mode(copied)) == (0o600, 0o600)
    assert (mode(media / "uploads"), mode(media / "imports")) == (0o700, 0o700)
    assert mode(media) == 0o755  # Asterisk goes through it to the campaign messages


def test_it_keeps_campaign_messages_readable_by_asterisk(tmp_path):
    target = tmp_path / "media" / "campaigns" / "7" / "message.gsm"
    old = os.umask(0o077)
    try:
        uploads.store_bytes(target, b"\xd3" * 33)
    finally:
        os.umask(old)
    assert mode(target) == 0o644


def test_it_writes_the_rejects_of_a_list_owner_only(db, export_dir, tmp_path):
    from app import contacts

    path = tmp_path / "list.csv"
    path.write_text("phone\n0612345678\n12\n")
    contact_list, _ = contacts.create_contact_list("list", path, "FR")
    done = contacts.import_contact_list(contact_list.id, path, workers=0)
    assert done.rows_rejected == 1
    assert mode(done.rejects_path) == 0o600
    assert mode(export_dir / "rejects") == mode(export_dir) == mode(export_dir.parent) == 0o700


def test_it_writes_every_export_of_a_campaign_owner_only(db, export_dir):
    campaign = make_campaign(3, state=FINALIZING)
    first = contact_ids(campaign)[0]
    call(campaign, first, 1, [("answered", 0), ("dtmf-1", 5), ("hangup", 20)], outcome="answered")
    finalize(campaign.id, T0 + timedelta(hours=5))
    assert Campaign.get_by_id(campaign.id).state == CLOSED
    report = CampaignReport.get(CampaignReport.campaign == campaign.id)
    CallEvent.create(campaign_id=campaign.id, contact_id=first, attempt=1, name="late",
                     received_at=utcnow())
    assert archive_late_events(campaign.id, T0 + timedelta(hours=6)) == 1
    folder = export_dir / f"campaign-{campaign.id}"
    files = [report.csv_path, report.archive_path, *report.charts.values()]
    files += [str(p) for p in folder.glob("late-events-*.zip")]
    # the CSV, the archive, five charts (outcomes, digits, answered per attempt, attempts
    # per contact, calls per hour) and the late events' zip
    assert len(files) == 8
    assert {path: mode(path) for path in files} == {path: 0o600 for path in files}
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    assert mode(folder) == mode(export_dir) == 0o700


def test_it_creates_private_folders_below_a_shared_one_only(tmp_path):
    old = os.umask(0o077)
    try:
        make_dirs(tmp_path / "media" / "uploads" / "x", shared=tmp_path / "media")
    finally:
        os.umask(old)
    assert mode(tmp_path / "media") == 0o755
    uploads_dir = tmp_path / "media" / "uploads"
    assert mode(uploads_dir) == mode(uploads_dir / "x") == 0o700


def test_it_keeps_the_setgid_bit_a_folder_inherits(tmp_path):
    # the deployment makes MEDIA_DIR 02750 so that Asterisk's group reads the messages
    media = tmp_path / "media"
    media.mkdir()
    os.chmod(media, 0o2750)
    target = media / "campaigns" / "7" / "message.gsm"
    uploads.store_bytes(target, b"\xd3" * 33)
    assert mode(target.parent) == mode(target.parent.parent) == 0o2755
    _, path = uploads.save_by_token(io.BytesIO(b"phone\n0612345678\n"), media)
    assert (mode(path.parent), mode(path)) == (0o2700, 0o600)
