"""Reuse and compliance (issue 16): campaign templates and holidays.

- ``campaign.is_template``: offered by "new from template" (existing rows: not);
- ``holiday``: local dates on which one campaign (``campaign_id``) or every
  campaign (null) dials nothing, with its (campaign_id, day) index.
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
