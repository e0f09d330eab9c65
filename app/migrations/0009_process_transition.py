"""supervisord's PROCESS_STATE_* events of our programs, recorded by ``python -m supervision``."""

from app.migrations import dialect


def upgrade(db):
    postgres = dialect(db) == "postgresql"
    key = "SERIAL NOT NULL PRIMARY KEY" if postgres else "INTEGER NOT NULL PRIMARY KEY"
    stamp = "TIMESTAMP" if postgres else "DATETIME"
    boolean = "BOOLEAN" if postgres else "INTEGER"
    db.execute_sql(
        f'CREATE TABLE "process_transition" ("id" {key}, "at" {stamp} NOT NULL, '
        '"host" VARCHAR(128) NOT NULL, "program" VARCHAR(128) NOT NULL, '
        '"from_state" VARCHAR(16) NOT NULL, "to_state" VARCHAR(16) NOT NULL, '
        f'"pid" INTEGER, "expected" {boolean})'
    )
    db.execute_sql('CREATE INDEX "process_transition_at" ON "process_transition" ("at")')
