"""Migration 0003: campaign.wants_capacity, set for the campaigns dialing at upgrade time."""

from __future__ import annotations

import importlib

from app.migrations import upgrade
from app.models import ACTIVE, PAUSED, Campaign

ADD_WANTS_CAPACITY = importlib.import_module("app.migrations.0003_campaign_wants_capacity")


def test_it_sets_wants_capacity_from_the_status_of_the_campaigns_dialing(empty_db):
    db = empty_db
    upgrade(db)
    statuses = [
        (ACTIVE, "dialing 4 (4/10 live)"),
        (ACTIVE, "channel cap reached (10/10 live)"),
        (ACTIVE, "global channel cap reached (3/10 live)"),
        (ACTIVE, "rate limit reached (5/10 live)"),
        (ACTIVE, "no due contacts until 2026-03-02 15:01:00Z"),
        (ACTIVE, "PBX unreachable: AmiConnectionError: refused (retry in 4s)"),
        (PAUSED, "dialing 4 (4/10 live)"),
    ]
    ids = [Campaign.create(name=f"c{i}", state=state, dialer_status=status).id
           for i, (state, status) in enumerate(statuses)]
    # back to the schema before 0003
    db.execute_sql('ALTER TABLE "campaign" DROP COLUMN "wants_capacity"')
    ADD_WANTS_CAPACITY.upgrade(db)
    wanting = [Campaign.get_by_id(i).wants_capacity for i in ids]
    assert wanting == [True, True, True, True, False, False, False]
