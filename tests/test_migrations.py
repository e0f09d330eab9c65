"""Schema migrations on SQLite and PostgreSQL: from empty, twice, and in step with the models."""

import peewee
import pytest

from app.clock import utcnow
from app.migrations import TABLE, applied, available, dialect, upgrade
from app.models import MODELS, CallAttempt, CallEvent, Campaign, Contact, ContactList


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


def test_it_upgrades_an_empty_database_to_the_schema_the_models_declare(empty_db):
    # 0001 stays frozen for good: a model change ships with a migration, and a fresh
    # database must come out of upgrade() as the models would create it.
    db = empty_db
    upgrade(db)
    assert set(db.get_tables()) == {m._meta.table_name for m in MODELS} | {TABLE}
    upgraded = schema(db)

    db.drop_tables(MODELS, cascade=dialect(db) == "postgresql")
    db.execute_sql(f"DROP TABLE {TABLE}")
    db.create_tables(MODELS)
    declared = schema(db)

    for table, part in sorted(declared):
        assert upgraded[table, part] == declared[table, part], (
            f"{table} {part}: upgrade() builds them unlike the models declare them; add a "
            f"migration (`python -m app.migrations sql {dialect(db)}` prints the models' DDL)"
        )


def schema(db):
    """{(table, part): ...} of every model table, as the engine tells it.

    Columns (type, null, primary key, auto-increment), indexes (columns, unique)
    and foreign keys (target, rules). Not defaults: a column added to a table that
    has rows needs one in its migration that the models (defaults in Python) lack.
    """
    found = {}
    for model in MODELS:
        table = model._meta.table_name
        found[table, "columns"] = {
            c.name: (column_type(db, c), c.null, c.primary_key, c.identity)
            for c in db.get_columns(table)
        }
        found[table, "indexes"] = {
            i.name: (tuple(i.columns), i.unique) for i in db.get_indexes(table)
        }
        found[table, "foreign keys"] = {
            (f.column, f.dest_table, f.dest_column, f.on_delete, f.on_update)
            for f in db.get_foreign_keys(table)
        }
    return found


def column_type(db, column):
    """The type as the engine applies it: PostgreSQL's (with length), SQLite's affinity.

    SQLite keeps any declared name (BOOLEAN, INTEGER, DATETIME) and stores by its
    affinity (sqlite.org/datatype3.html, 3.1); INTEGER and NUMERIC store alike.
    """
    if dialect(db) == "postgresql":
        return column.full_type
    declared = column.data_type.upper()
    if "INT" in declared:
        return "NUMERIC"
    if any(word in declared for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in declared or not declared:
        return "BLOB"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


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
