"""Versioned schema migrations, the same on SQLite and PostgreSQL.

Each migration is a module ``NNNN_name.py`` in this package with
``upgrade(db)``; applied versions are recorded in ``schema_migration``, so
running ``upgrade`` again is a no-op. ``python -m app.migrations sql DIALECT``
prints the DDL of the current models, the starting point of a new migration.
A released migration never changes (0001's frozen SQL included): a model change
comes with a new one, and tests/test_migrations.py checks that ``upgrade`` on an
empty database builds the schema the models declare.
"""

from __future__ import annotations

import importlib
import logging
import re
from datetime import datetime, timezone
from pathlib import Path

from peewee import PostgresqlDatabase, SqliteDatabase, sort_models

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TABLE = "schema_migration"
NAME_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.py$")


def available() -> list[str]:
    """Migration module names, oldest first."""
    return sorted(p.stem for p in HERE.iterdir() if NAME_RE.match(p.name))


def dialect(db) -> str:
    return "postgresql" if isinstance(db, PostgresqlDatabase) else "sqlite"


def applied(db) -> list[str]:
    if not db.table_exists(TABLE):
        return []
    return [row[0] for row in db.execute_sql(f"SELECT version FROM {TABLE} ORDER BY version")]


def upgrade(db) -> list[str]:
    """Apply every pending migration, each in its own transaction; return their names."""
    db.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {TABLE} "
        "(version VARCHAR(64) PRIMARY KEY, applied_at VARCHAR(32) NOT NULL)"
    )
    done = set(applied(db))
    ran = []
    for name in available():
        if name in done:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        with db.atomic():
            module.upgrade(db)
            db.execute_sql(
                f"INSERT INTO {TABLE} (version, applied_at) VALUES ({db.param}, {db.param})",
                (name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
            )
        log.info("applied migration %s", name)
        ran.append(name)
    return ran


def run_sql_file(db, stem: str) -> None:
    """Run the frozen DDL ``<stem>.<dialect>.sql`` statement by statement."""
    text = (HERE / f"{stem}.{dialect(db)}.sql").read_text()
    for statement in text.split(";\n"):
        if statement.strip():
            db.execute_sql(statement)


def model_ddl(name: str) -> str:
    """The DDL the current models would create on ``name`` (sqlite|postgresql)."""
    from app.models import MODELS

    db = PostgresqlDatabase(None) if name == "postgresql" else SqliteDatabase(None)
    statements = []
    with db.bind_ctx(MODELS):
        for model in sort_models(MODELS):
            ctx = db.get_sql_context()
            statements.append(ctx.sql(model._schema._create_table(safe=False)).query()[0])
            for index in model._schema._create_indexes(safe=False):
                statements.append(db.get_sql_context().sql(index).query()[0])
    return ";\n".join(statements) + ";\n"
