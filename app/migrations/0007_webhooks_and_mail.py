"""Webhooks and the campaign-closed mail: the outbox, endpoints, deliveries, attempts, mails;
and an optional e-mail address per user."""

from app.migrations import dialect


SQLITE = (
    'CREATE TABLE "mail_message" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"campaign_id" INTEGER NOT NULL, "recipients" VARCHAR(1000) NOT NULL, '
    '"subject" VARCHAR(300) NOT NULL, "status" VARCHAR(16) NOT NULL, '
    '"attempts" INTEGER NOT NULL, "next_attempt_at" DATETIME NOT NULL, "lease_until" DATETIME, '
    '"created_at" DATETIME NOT NULL, "sent_at" DATETIME, '
    '"last_error" VARCHAR(300) NOT NULL)',
    'CREATE UNIQUE INDEX "mail_message_campaign_id" ON "mail_message" ("campaign_id")',
    'CREATE INDEX "mail_message_status" ON "mail_message" ("status")',
    'CREATE TABLE "outbox_event" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"kind" VARCHAR(32) NOT NULL, "campaign_id" INTEGER NOT NULL, '
    '"payload" TEXT NOT NULL, "created_at" DATETIME NOT NULL, "dispatched_at" DATETIME)',
    'CREATE INDEX "outbox_event_dispatched_at" ON "outbox_event" ("dispatched_at")',
    'CREATE TABLE "webhook_endpoint" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"url" VARCHAR(500) NOT NULL, "secret" VARCHAR(100) NOT NULL, "campaign_id" INTEGER, '
    '"events" VARCHAR(200) NOT NULL, "active" INTEGER NOT NULL, '
    '"description" VARCHAR(200) NOT NULL, "created_at" DATETIME NOT NULL)',
    'CREATE INDEX "webhook_endpoint_campaign_id" ON "webhook_endpoint" ("campaign_id")',
    'CREATE TABLE "webhook_delivery" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"event_id" VARCHAR(36) NOT NULL, "event_type" VARCHAR(32) NOT NULL, '
    '"campaign_id" INTEGER NOT NULL, "endpoint_id" INTEGER NOT NULL, '
    '"body" TEXT NOT NULL, "status" VARCHAR(16) NOT NULL, "attempts" INTEGER NOT NULL, '
    '"next_attempt_at" DATETIME NOT NULL, "lease_until" DATETIME, '
    '"created_at" DATETIME NOT NULL, "delivered_at" DATETIME, '
    '"last_error" VARCHAR(300) NOT NULL, '
    'FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoint" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "webhook_delivery_status" ON "webhook_delivery" ("status")',
    'CREATE UNIQUE INDEX "webhook_delivery_endpoint_id_event_id" '
    'ON "webhook_delivery" ("endpoint_id", '
    '"event_id")',
    'CREATE TABLE "webhook_attempt" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"delivery_id" INTEGER NOT NULL, "number" INTEGER NOT NULL, "at" DATETIME NOT NULL, '
    '"outcome" VARCHAR(16) NOT NULL, "status_code" INTEGER, '
    '"latency_ms" INTEGER NOT NULL, "error" VARCHAR(300) NOT NULL, '
    'FOREIGN KEY ("delivery_id") REFERENCES "webhook_delivery" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "webhook_attempt_delivery_id" ON "webhook_attempt" ("delivery_id")',
)

POSTGRESQL = (
    'CREATE TABLE "mail_message" ("id" SERIAL NOT NULL PRIMARY KEY, '
    '"campaign_id" INTEGER NOT NULL, "recipients" VARCHAR(1000) NOT NULL, '
    '"subject" VARCHAR(300) NOT NULL, "status" VARCHAR(16) NOT NULL, '
    '"attempts" INTEGER NOT NULL, "next_attempt_at" TIMESTAMP NOT NULL, '
    '"lease_until" TIMESTAMP, '
    '"created_at" TIMESTAMP NOT NULL, "sent_at" TIMESTAMP, '
    '"last_error" VARCHAR(300) NOT NULL)',
    'CREATE UNIQUE INDEX "mail_message_campaign_id" ON "mail_message" ("campaign_id")',
    'CREATE INDEX "mail_message_status" ON "mail_message" ("status")',
    'CREATE TABLE "outbox_event" ("id" SERIAL NOT NULL PRIMARY KEY, '
    '"kind" VARCHAR(32) NOT NULL, "campaign_id" INTEGER NOT NULL, '
    '"payload" TEXT NOT NULL, "created_at" TIMESTAMP NOT NULL, "dispatched_at" TIMESTAMP)',
    'CREATE INDEX "outbox_event_dispatched_at" ON "outbox_event" ("dispatched_at")',
    'CREATE TABLE "webhook_endpoint" ("id" SERIAL NOT NULL PRIMARY KEY, '
    '"url" VARCHAR(500) NOT NULL, "secret" VARCHAR(100) NOT NULL, "campaign_id" INTEGER, '
    '"events" VARCHAR(200) NOT NULL, "active" BOOLEAN NOT NULL, '
    '"description" VARCHAR(200) NOT NULL, "created_at" TIMESTAMP NOT NULL)',
    'CREATE INDEX "webhook_endpoint_campaign_id" ON "webhook_endpoint" ("campaign_id")',
    'CREATE TABLE "webhook_delivery" ("id" SERIAL NOT NULL PRIMARY KEY, '
    '"event_id" VARCHAR(36) NOT NULL, "event_type" VARCHAR(32) NOT NULL, '
    '"campaign_id" INTEGER NOT NULL, "endpoint_id" INTEGER NOT NULL, '
    '"body" TEXT NOT NULL, "status" VARCHAR(16) NOT NULL, "attempts" INTEGER NOT NULL, '
    '"next_attempt_at" TIMESTAMP NOT NULL, "lease_until" TIMESTAMP, '
    '"created_at" TIMESTAMP NOT NULL, "delivered_at" TIMESTAMP, '
    '"last_error" VARCHAR(300) NOT NULL, '
    'FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoint" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "webhook_delivery_status" ON "webhook_delivery" ("status")',
    'CREATE UNIQUE INDEX "webhook_delivery_endpoint_id_event_id" '
    'ON "webhook_delivery" ("endpoint_id", '
    '"event_id")',
    'CREATE TABLE "webhook_attempt" ("id" SERIAL NOT NULL PRIMARY KEY, '
    '"delivery_id" INTEGER NOT NULL, "number" INTEGER NOT NULL, "at" TIMESTAMP NOT NULL, '
    '"outcome" VARCHAR(16) NOT NULL, "status_code" INTEGER, '
    '"latency_ms" INTEGER NOT NULL, "error" VARCHAR(300) NOT NULL, '
    'FOREIGN KEY ("delivery_id") REFERENCES "webhook_delivery" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "webhook_attempt_delivery_id" ON "webhook_attempt" ("delivery_id")',
)


def upgrade(db):
    db.execute_sql('ALTER TABLE "user" ADD COLUMN "email" VARCHAR(254) NOT NULL DEFAULT \'\'')
    for statement in POSTGRESQL if dialect(db) == "postgresql" else SQLITE:
        db.execute_sql(statement)
