"""Answering-machine detection: a campaign's AMD settings, and the verdict in each result.

- ``campaign.amd``: the settings as JSON (``app.amd``); existing campaigns: ``{}`` (off);
- ``contact_result.amd_verdict`` / ``amd_cause``: the last verdict's ``AMDSTATUS``
  and ``AMDCAUSE`` (existing results: none).
"""


def upgrade(db):
    db.execute_sql('ALTER TABLE "campaign" ADD COLUMN "amd" TEXT NOT NULL DEFAULT \'{}\'')
    db.execute_sql(
        'ALTER TABLE "contact_result" ADD COLUMN "amd_verdict" VARCHAR(16) NOT NULL DEFAULT \'\''
    )
    db.execute_sql(
        'ALTER TABLE "contact_result" ADD COLUMN "amd_cause" VARCHAR(40) NOT NULL DEFAULT \'\''
    )
