"""A bounded fuzz run of the AGI port next to valid traffic (bench/agi_fuzz.py runs it longer)."""

from __future__ import annotations

import pytest
import uvloop

from agi import fuzz
from app.clock import utcnow
from app.dialer import fold_events
from app.models import CallAttempt, CallEvent
from tests.agi.conftest import assert_exactly_once
from tests.agi.test_trust import in_flight

pytestmark = pytest.mark.e2e


def test_it_survives_random_and_mutated_blocks_and_stores_no_forgery(agi_process, sqlite_url):
    daemon = agi_process(sqlite_url).start()
    campaign, contacts = in_flight(50)
    target, valid_campaign = campaign.id, campaign.id + 1000
    report = uvloop.run(fuzz.run(daemon.port, fuzz.cases(13, 3000, target, contacts[:50]),
                                 valid_campaign=valid_campaign, duration=4.0))
    print(f"\n{report.sent} hostile inputs in {report.seconds:.1f} s: {report.outcomes}; valid "
          f"{len(report.valid_confirmed)} confirmed, p99 {report.percentile(99) * 1000:.1f} ms")
    assert daemon.proc.poll() is None, "the daemon died"
    assert report.sent >= 300
    assert not report.outcomes.get("confirmed") and not report.outcomes.get("hung")
    assert report.valid_failed == 0 and report.valid_confirmed
    assert CallEvent.select().where(CallEvent.campaign_id != valid_campaign).count() == 0
    assert fold_events(target, utcnow()) == 0
    assert {a.state for a in CallAttempt.select()} == {"originating"}
    assert_exactly_once(sqlite_url, valid_campaign, report.valid_confirmed)
    assert daemon.metric("agi_rejects_total", reason="bad_token") > 0
    assert daemon.terminate() == 0
    assert "Traceback" not in daemon.log.read_text()
