"""The dialer's route breaker: when it last tripped, attempts it gave back, and its index.

- ``campaign.breaker_tripped_at``: when the breaker last paused the campaign
  (the calls it looks at start there; calls still up then are given back);
- ``campaign_contact.given_back``: attempts the breaker gave back, which count
  toward no ``max_attempts`` (existing rows: none);
- ``call_attempt (campaign_id, finished_at)``: the latest calls of a campaign,
  read by every tick that folded some.
"""

from app.migrations import dialect


def upgrade(db):
    stamp = "TIMESTAMP" if dialect(db) == "postgresql" else "DATETIME"
    db.execute_sql(f'ALTER TABLE "campaign" ADD COLUMN "breaker_tripped_at" {stamp}')
    db.execute_sql(
        'ALTER TABLE "campaign_contact" ADD COLUMN "given_back" INTEGER NOT NULL DEFAULT 0'
    )
    db.execute_sql(
        'CREATE INDEX "call_attempt_campaign_id_finished_at" '
        'ON "call_attempt" ("campaign_id", "finished_at")'
    )
