"""The PBX pool: the ``pbx`` table, and the PBX that carries each call attempt.

- ``pbx``: one row per Asterisk server (``app.pbx.tables.Pbx``); empty here: the
  first process that reads the pool seeds it from today's ``AMI_*`` settings
  (``app.pbx.pool.ensure_seeded``), so a one-machine install does not change;
- ``call_attempt.pbx_id``: the PBX the attempt was sent to (existing rows: none,
  they were placed on the one PBX of their time).
"""

from app.migrations import dialect


def upgrade(db):
    postgres = dialect(db) == "postgresql"
    key = "SERIAL NOT NULL PRIMARY KEY" if postgres else "INTEGER NOT NULL PRIMARY KEY"
    stamp = "TIMESTAMP" if postgres else "DATETIME"
    boolean = "BOOLEAN" if postgres else "INTEGER"
    db.execute_sql(
        f'CREATE TABLE "pbx" ("id" {key}, "name" VARCHAR(40) NOT NULL, '
        '"ami_host" VARCHAR(253) NOT NULL, "ami_port" INTEGER NOT NULL, '
        '"ami_user" VARCHAR(80) NOT NULL, "ami_secret" VARCHAR(128) NOT NULL, '
        '"agi_host" VARCHAR(253) NOT NULL, "dial_template" VARCHAR(200) NOT NULL, '
        '"capacity" INTEGER NOT NULL, "originate_rate" INTEGER NOT NULL, '
        f'"weight" INTEGER NOT NULL, "enabled" {boolean} NOT NULL, "agent" {boolean} NOT NULL, '
        '"dialplan_version" INTEGER NOT NULL, "dialplan_confirmed" INTEGER NOT NULL, '
        f'"down_since" {stamp}, '
        f'"last_error" VARCHAR(300) NOT NULL, "created_at" {stamp} NOT NULL)'
    )
    db.execute_sql('CREATE UNIQUE INDEX "pbx_name" ON "pbx" ("name")')
    db.execute_sql('ALTER TABLE "call_attempt" ADD COLUMN "pbx_id" INTEGER')
