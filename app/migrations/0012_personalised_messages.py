"""Personalised messages (app.messages): the campaign's template, the contacts' message
rows and the synthesized texts; a contact is claimed only once its audio is ready.

- ``campaign.message_template``: the segments as JSON (existing campaigns: none, ``{}``);
- ``campaign_contact.audio_ready``: existing rows have no template, so they are ready;
- ``message_audio``, ``contact_message``, ``contact_audio``: see app/messages/tables.py.
"""

from app.migrations import dialect

TABLES = (
    'CREATE TABLE "message_audio" ("id" {serial} NOT NULL PRIMARY KEY, '
    '"campaign_id" INTEGER NOT NULL, "digest" VARCHAR(64) NOT NULL, "text" TEXT NOT NULL, '
    '"state" VARCHAR(16) NOT NULL, "rank" INTEGER NOT NULL, "duration_ms" INTEGER NOT NULL, '
    '"error" VARCHAR(300) NOT NULL, "created_at" {stamp} NOT NULL, "ready_at" {stamp})',
    'CREATE UNIQUE INDEX "message_audio_campaign_id_digest" '
    'ON "message_audio" ("campaign_id", "digest")',
    'CREATE INDEX "message_audio_campaign_id_state_rank" '
    'ON "message_audio" ("campaign_id", "state", "rank")',
    'CREATE TABLE "contact_message" ("id" {serial} NOT NULL PRIMARY KEY, '
    '"campaign_id" INTEGER NOT NULL, "contact_id" INTEGER NOT NULL, "variables" TEXT NOT NULL, '
    '"text" TEXT NOT NULL, "problem" VARCHAR(500) NOT NULL)',
    'CREATE UNIQUE INDEX "contact_message_campaign_id_contact_id" '
    'ON "contact_message" ("campaign_id", "contact_id")',
    'CREATE TABLE "contact_audio" ("id" {serial} NOT NULL PRIMARY KEY, '
    '"campaign_id" INTEGER NOT NULL, "contact_id" INTEGER NOT NULL, '
    '"digest" VARCHAR(64) NOT NULL)',
    'CREATE UNIQUE INDEX "contact_audio_campaign_id_contact_id_digest" '
    'ON "contact_audio" ("campaign_id", "contact_id", "digest")',
    'CREATE INDEX "contact_audio_campaign_id_digest" ON "contact_audio" ("campaign_id", "digest")',
)


def upgrade(db):
    pg = dialect(db) == "postgresql"
    serial, stamp = ("SERIAL", "TIMESTAMP") if pg else ("INTEGER", "DATETIME")
    boolean = "BOOLEAN NOT NULL DEFAULT TRUE" if pg else "INTEGER NOT NULL DEFAULT 1"
    db.execute_sql(
        'ALTER TABLE "campaign" ADD COLUMN "message_template" TEXT NOT NULL DEFAULT \'{}\'')
    db.execute_sql(f'ALTER TABLE "campaign_contact" ADD COLUMN "audio_ready" {boolean}')
    for statement in TABLES:
        db.execute_sql(statement.format(serial=serial, stamp=stamp))
