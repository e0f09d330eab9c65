"""Add campaign.wants_capacity: the dialer's "wants a share of the global caps" flag.

Fair sharing of GLOBAL_MAX_CHANNELS and ORIGINATES_PER_SECOND used to be read
from the wording of the status line ("dialing ...", "channel cap ...",
"global ...", "rate ..."); the tick now writes this flag with its status. The
campaigns that are dialing get it from their current status, so the shares
are right from the first tick after the upgrade.
"""

from app.migrations import dialect

WANTING_STATUSES = ("dialing%", "channel cap%", "global%", "rate%")


def upgrade(db):
    if dialect(db) == "postgresql":
        kind, false, true = "BOOLEAN", "false", "true"
    else:
        kind, false, true = "INTEGER", "0", "1"
    db.execute_sql(
        f'ALTER TABLE "campaign" ADD COLUMN "wants_capacity" {kind} NOT NULL DEFAULT {false}'
    )
    wanting = " OR ".join(['"dialer_status" LIKE ' + db.param] * len(WANTING_STATUSES))
    db.execute_sql(
        f'UPDATE "campaign" SET "wants_capacity" = {true} '
        f'WHERE "state" = {db.param} AND ({wanting})',
        ("ACTIVE", *WANTING_STATUSES),
    )
