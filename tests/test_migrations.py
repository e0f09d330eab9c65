"""Schema migrations on SQLite and PostgreSQL: from empty, twice, and in step with the models."""

from pathlib import Path

import peewee
import pytest

from app.clock import utcnow
from app.migrations import applied, available, model_ddl, upgrade
from app.models import MODELS, CallAttempt, CallEvent, Campaign, Contact, ContactList

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "app" / "migrations"


def test_it_creates_the_schema_from_empty_and_a_second_run_changes_nothing(empty_db):
    db = empty_db
    assert db.get_tables() == []

    first = upgrade(db)
    tables_after_first = sorted(db.get_tables())
    second = upgrade(db)

    assert first == available()
    assert second == []
    assert sorted(db.get_tables()) == tables_after_first
    assert set(applied(db)) == set(available())
    assert {m._meta.table_name for m in MODELS} <= set(tables_after_first)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_it_keeps_the_frozen_initial_ddl_in_step_with_the_models(engine):
    # A model change without a migration would make a fresh database differ
    # from what the code expects; this catches it before it ships.
    frozen = (MIGRATIONS_DIR / f"0001_initial.{engine}.sql").read_text()
    assert frozen == model_ddl(engine), (
        "models changed: add a migration, or regenerate 0001 before its first release "
        f"with `python -m app.migrations sql {engine}`"
    )


def test_it_gives_every_model_its_columns_in_the_database(db):
    for model in MODELS:
        columns = {c.name for c in db.get_columns(model._meta.table_name)}
        assert columns == {f.column_name for f in model._meta.sorted_fields}, model.__name__


def make_attempt_parents():
    contact_list = ContactList.create(name="l")
    contact = Contact.create(contact_list=contact_list, phone="+15550000001", position=1)
    campaign = Campaign.create(name="c", contact_list=contact_list)
    return campaign, contact


def test_it_refuses_a_second_attempt_with_the_same_number(db):
    campaign, contact = make_attempt_parents()
    CallAttempt.create(
        campaign=campaign, contact=contact, number=1, channel_id="cc-a", originated_at=utcnow()
    )
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            CallAttempt.create(
                campaign=campaign,
                contact=contact,
                number=1,
                channel_id="cc-b",
                originated_at=utcnow(),
            )
    assert CallAttempt.select().count() == 1


def test_it_refuses_a_duplicate_event_and_ignores_it_on_replay(db):
    row = dict(campaign_id=1, contact_id=2, attempt=1, name="answered", received_at=utcnow())
    CallEvent.insert(**row).execute()
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            CallEvent.insert(**row).execute()
    CallEvent.insert_many([row, {**row, "name": "hangup"}]).on_conflict_ignore().execute()
    assert sorted(e.name for e in CallEvent.select()) == ["answered", "hangup"]


def test_it_refuses_the_same_phone_twice_in_one_list(db):
    contact_list = ContactList.create(name="l")
    Contact.create(contact_list=contact_list, phone="+15550000001", position=1)
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            Contact.create(contact_list=contact_list, phone="+15550000001", position=2)
    other = ContactList.create(name="other")
    Contact.create(contact_list=other, phone="+15550000001", position=1)
    assert Contact.select().count() == 2


def test_it_stores_datetimes_as_utc_and_refuses_naive_ones(db):
    from datetime import datetime, timedelta, timezone

    paris_summer = timezone(timedelta(hours=2))
    starts = datetime(2026, 7, 1, 9, 0, tzinfo=paris_summer)
    campaign = Campaign.create(name="c", starts_at=starts)
    stored = Campaign.get_by_id(campaign.id).starts_at
    assert stored == starts
    assert stored.utcoffset() == timedelta(0)
    assert stored.hour == 7
    with pytest.raises(TypeError, match="naive"):
        Campaign.create(name="bad", starts_at=datetime(2026, 7, 1, 9, 0))


def test_it_turns_on_wal_and_foreign_keys_on_sqlite(sqlite_db):
    db = sqlite_db
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
