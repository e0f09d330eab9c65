"""The first schema: every table of the domain (frozen DDL per dialect)."""

from app.migrations import run_sql_file


def upgrade(db):
    run_sql_file(db, "0001_initial")
