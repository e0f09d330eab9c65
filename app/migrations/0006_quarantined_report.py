"""Reports refused for a missing or wrong call token go to quarantined_report, never call_event."""

from app.migrations import dialect


def upgrade(db):
    postgres = dialect(db) == "postgresql"
    key = "SERIAL NOT NULL PRIMARY KEY" if postgres else "INTEGER NOT NULL PRIMARY KEY"
    stamp = "TIMESTAMP" if postgres else "DATETIME"
    db.execute_sql(
        f'CREATE TABLE "quarantined_report" ("id" {key}, "received_at" {stamp} NOT NULL, '
        '"source" VARCHAR(16) NOT NULL, "peer" VARCHAR(64) NOT NULL, '
        '"reason" VARCHAR(32) NOT NULL, "campaign_id" INTEGER NOT NULL, '
        '"contact_id" INTEGER NOT NULL, "attempt" INTEGER NOT NULL, '
        '"event" VARCHAR(32) NOT NULL, "summary" VARCHAR(300) NOT NULL)'
    )
    db.execute_sql('CREATE INDEX "quarantined_report_received_at" '
                   'ON "quarantined_report" ("received_at")')
