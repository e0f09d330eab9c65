"""DATABASE_URL forms reach the driver whole: query options, encoded credentials."""

from peewee import PostgresqlDatabase, SqliteDatabase

from app.db import connect_database


def test_it_passes_query_options_and_decodes_credentials():
    db = connect_database("postgresql://us%40er:p%3Aw%2Fd@db.example:5433/callcast?sslmode=require")
    assert isinstance(db, PostgresqlDatabase)
    assert db.database == "callcast"
    assert db.connect_params == {
        "connect_timeout": 5,
        "user": "us@er",
        "password": "p:w/d",
        "host": "db.example",
        "port": 5433,
        "sslmode": "require",
    }


def test_it_lets_the_url_override_the_connect_timeout():
    db = connect_database("postgresql+psycopg2://callcast@db.example/callcast?connect_timeout=2")
    assert db.connect_params["connect_timeout"] == 2


def test_it_builds_sqlite_with_wal_and_creates_the_folder(tmp_path):
    target = tmp_path / "deep" / "callcast.db"
    db = connect_database(f"sqlite:///{target}", sqlite_synchronous="normal")
    assert isinstance(db, SqliteDatabase)
    assert db.database == str(target)
    assert target.parent.is_dir()
    pragmas = dict(db._pragmas)
    assert pragmas["journal_mode"] == "wal" and pragmas["foreign_keys"] == 1
    assert pragmas["synchronous"] == "normal"
