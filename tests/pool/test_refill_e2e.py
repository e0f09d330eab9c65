"""Event-driven refill, end to end: a call's stored end starts the next call, not the next tick."""

from __future__ import annotations

import time

import pytest

from app.campaigns import activation
from app.clock import utcnow
from app.models import Campaign
from dialing_support import make_campaign
from tests.tasks.stack import Stack, serving
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

TICK_MS = 4000  # ticks far apart: only the refill can keep the channels busy


@pytest.fixture
def stack(sqlite_db, broker, tmp_path, monkeypatch):
    s = Stack(tmp_path, {"DIAL_TICK_MS": str(TICK_MS), "AMI_TIMEOUT": "2"})

    def start(stack):
        stack.start_agi()
        stack.start_pbxsim(speed=20.0)

    with serving(s, monkeypatch, ("AGI_PORT", "AMI_PORT", "DIAL_TICK_MS", "AMI_TIMEOUT"), start):
        yield s


def test_each_stored_end_refills_its_slot_within_the_cap(stack):
    # numbers ending 8 answer and hang up at once: ~0.2 s each at speed 20
    campaign = make_campaign([f"+1202555{i:03d}8" for i in range(24)], max_channels=2,
                             max_attempts=1)
    activation.activate(campaign.id, utcnow(), ami=stack.ami())
    stack.start_dialer()
    from tasks.dialing import start_dialing

    began = time.monotonic()
    start_dialing(campaign.id)
    wait_until(lambda: Campaign.get_by_id(campaign.id).state == "FINISHED", 60,
               "the campaign to finish", interval=0.1)
    took = time.monotonic() - began
    # by ticks alone: 2 calls per 4 s tick, 12 ticks = 44 s or more
    assert took < 3 * TICK_MS / 1000.0, f"{took:.1f}s: refilled by ticks, not by ends"
    stats = stack.pbx_stats()
    assert stats["peak_calls"][campaign.account_code] <= 2  # the cap held
    assert sum(1 for c in stats["calls"] if c["account"] == campaign.account_code) == 24
