"""Reuse and compliance (issue 16): campaign templates and holidays.

- ``campaign.is_template``: offered by "new from template" (existing rows: not);
- ``holiday``: local dates on which one campaign (``campaign_id``) or every
  campaign (null) dials nothing, with its (campaign_id, day) index;
- the callee's own hours: ``campaign.callee_window`` ("" off), ``contact.zone_set``
  and ``campaign_contact.zone_set`` (0: unknown; rows imported before this
  migration stay unknown, i.e. the campaign's zone), the due query's index by zone
  set, and the ``zone_set`` / ``list_zone_set`` tables.
"""

from app.migrations import dialect


def upgrade(db):
    postgres = dialect(db) == "postgresql"
    boolean, false = ("BOOLEAN", "false") if postgres else ("INTEGER", "0")
    key = "SERIAL NOT NULL PRIMARY KEY" if postgres else "INTEGER NOT NULL PRIMARY KEY"
    stamp = "TIMESTAMP" if postgres else "DATETIME"
    db.execute_sql(
        f'ALTER TABLE "campaign" ADD COLUMN "is_template" {boolean} NOT NULL DEFAULT {false}'
    )
    db.execute_sql(
        f'CREATE TABLE "holiday" ("id" {key}, "campaign_id" INTEGER, "day" DATE NOT NULL, '
        f'"name" VARCHAR(100) NOT NULL, "created_at" {stamp} NOT NULL)'
    )
    db.execute_sql('CREATE INDEX "holiday_campaign_id_day" ON "holiday" ("campaign_id", "day")')
    db.execute_sql(
        'ALTER TABLE "campaign" ADD COLUMN "callee_window" VARCHAR(11) NOT NULL DEFAULT \'\''
    )
    db.execute_sql('ALTER TABLE "contact" ADD COLUMN "zone_set" INTEGER NOT NULL DEFAULT 0')
    db.execute_sql(
        'ALTER TABLE "campaign_contact" ADD COLUMN "zone_set" INTEGER NOT NULL DEFAULT 0'
    )
    db.execute_sql(
        'CREATE INDEX "campaign_contact_campaign_id_state_zone_set_next_attempt_at" '
        'ON "campaign_contact" ("campaign_id", "state", "zone_set", "next_attempt_at")'
    )
    db.execute_sql(f'CREATE TABLE "zone_set" ("id" {key}, "zones" VARCHAR(1000) NOT NULL)')
    db.execute_sql('CREATE UNIQUE INDEX "zone_set_zones" ON "zone_set" ("zones")')
    db.execute_sql(
        f'CREATE TABLE "list_zone_set" ("id" {key}, "contact_list_id" INTEGER NOT NULL, '
        '"zone_set_id" INTEGER NOT NULL)'
    )
    db.execute_sql(
        'CREATE UNIQUE INDEX "list_zone_set_contact_list_id_zone_set_id" '
        'ON "list_zone_set" ("contact_list_id", "zone_set_id")'
    )
