"""End to end: a campaign ends while calls are up, drains on the PBX's word, finalizes, closes.

Real RabbitMQ (the session's vhost), a dialer process and a lifecycle process
(``dramatiq ... -Q drain finalize``), the AGI daemon and pbxsim. The
scheduler's tick is driven by the test: it sends ``expire_campaigns`` the way
``periodiq`` does every minute.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.campaigns import activation
from app.chains import claim_lease
from app.clock import utcnow
from app.config import get_settings
from app.finalization import finalize
from app.models import (
    CLOSED,
    DRAINING,
    FINALIZING,
    CallEvent,
    Campaign,
    CampaignContact,
    CampaignReport,
    ContactResult,
)
from dialing_support import make_campaign
from stack import VENV_BIN, Stack, serving

from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

ANSWER_SIGNS = ("answered", "timeout", "invalid")



@pytest.fixture
def stack(sqlite_db, broker, tmp_path, monkeypatch):
    env = {"DIAL_TICK_MS": "100", "AMI_TIMEOUT": "2", "EXPORT_DIR": str(tmp_path / "exports")}
    s = Stack(tmp_path, env)
    keys = ("AGI_PORT", "AMI_PORT", "DIAL_TICK_MS", "AMI_TIMEOUT", "EXPORT_DIR")

    def start(stack):
        stack.start_agi()
        stack.start_pbxsim(speed=2.0)

    with serving(s, monkeypatch, keys, start):
        yield s


def start_lifecycle(stack, name="lifecycle"):
    argv = [str(VENV_BIN / "dramatiq"), "tasks.draining", "tasks.finalizing", "tasks.schedules",
            "-Q", "drain", "finalize", "-p", "1", "-t", "2"]
    # -Q takes several names; a second -Q would replace the first (argparse nargs="*")
    return stack._spawn(name, argv, stack.env)


def scheduler_tick():
    """What periodiq sends every minute."""
    from tasks.schedules import expire_campaigns

    expire_campaigns.send()


def state(campaign_id):
    return Campaign.get_by_id(campaign_id).state


def live_on_pbx(stack, campaign):
    return stack.pbx_stats()["live_calls"].get(campaign.account_code, 0)


def archive_rows(path, table):
    from app.finalization import read_archive

    return read_archive(path, table)


def test_it_drains_until_the_last_call_hangs_up_then_closes_with_a_true_report(stack):
    n = 40
    campaign = make_campaign(
        [f"+1202555{i:04d}" for i in range(n)], options="1234", max_channels=12, max_attempts=1,
        ring_timeout_s=10, max_call_s=60, digit_timeout_s=2, message_repeats=2,
    )
    activation.activate(campaign.id, utcnow(), ami=stack.ami())
    stack.start_dialer()
    from tasks.dialing import start_dialing

    start_dialing(campaign.id)
    wait_until(lambda: live_on_pbx(stack, campaign) >= 5, 60, "calls up on pbxsim")
    activation.finish(campaign.id, utcnow())  # "finish now", calls still up

    start_lifecycle(stack)
    scheduler_tick()
    scheduler_tick()  # a second scheduler at the same minute: no second drain chain
    wait_until(lambda: state(campaign.id) == DRAINING, 30, "DRAINING")
    assert live_on_pbx(stack, campaign) > 0, "calls were up while it drained"
    wait_until(lambda: state(campaign.id) == CLOSED, 110, "CLOSED", interval=0.2)

    # closed: its context leaves the dialplan file and the PBX (dialplan reload); the
    # finalizer unloads it just after the CLOSED transition, so wait for that reload
    context = f"callcast-campaign-{campaign.id}"
    wait_until(lambda: context not in stack.pbx_stats()["dialplan"]["contexts"], 15,
               "the closed campaign's context unloaded")
    stats = stack.pbx_stats()
    calls = [c for c in stats["calls"] if c["account"] == campaign.account_code]
    assert calls and all(c["done"] for c in calls)
    report = CampaignReport.get(CampaignReport.campaign == campaign.id)
    data = report.data
    # it waited for pbxsim's last hangup, and was not forced
    assert data["drain"]["forced"] is False and data["still_up"] == []
    last_hangup = max(c["ended_at"] for c in calls)
    assert datetime.fromisoformat(data["drain"]["ended_at"]).timestamp() >= last_hangup

    # the report counts are the events that arrived (all archived before the purge)
    events = archive_rows(report.archive_path, "call_event")
    assert data["events"] == dict(Counter(e["name"] for e in events))
    assert data["events_total"] == len(events) > 0
    answered = {e["contact_id"] for e in events
                if e["name"] in ANSWER_SIGNS or e["name"].startswith("dtmf-")}
    assert data["answered"] == len(answered)
    assert data["contacts"] == n
    assert data["attempts_total"] == len(archive_rows(report.archive_path, "call_attempt"))
    assert data["attempts_total"] == len(calls)
    pressed = Counter(e["name"][5:] for e in events if e["name"].startswith("dtmf-"))
    assert {d["digit"]: d["count"] for d in data["digits"] if d["count"]} == dict(pressed)

    rows = list(csv.reader(io.StringIO(Path(report.csv_path).read_text(encoding="utf-8"))))
    assert len(rows) == 1 + n
    assert ContactResult.select().where(ContactResult.campaign == campaign.id).count() == n
    # the working tables hold nothing of it any more
    from tests.campaign_end_support import working_rows

    assert working_rows(campaign.id) == {"events": 0, "attempts": 0, "contacts": 0}


def test_it_finalizes_a_campaign_whose_events_the_fold_cannot_read_instead_of_draining_forever(
        stack):
    from app.dialer.claims import claim, due_contacts

    campaign = make_campaign(["+12025550001", "+12025550002"], options="1234", max_attempts=1)
    activation.activate(campaign.id, utcnow(), ami=stack.ami())
    campaign = Campaign.get_by_id(campaign.id)
    first, _ = claim(campaign, due_contacts(campaign.id, utcnow(), 10), utcnow())
    # a hangup stored with data that is no object (by hand, or by a broken recorder):
    # the dialer's fold fails on it at every poll
    CallEvent.create(campaign_id=campaign.id, contact_id=first.contact_id, attempt=1,
                     name="answered", received_at=utcnow())
    CallEvent.create(campaign_id=campaign.id, contact_id=first.contact_id, attempt=1,
                     name="hangup", received_at=utcnow(), data=["16"])
    activation.finish(campaign.id, utcnow())

    start_lifecycle(stack)
    scheduler_tick()
    wait_until(lambda: state(campaign.id) == CLOSED, 60, "CLOSED", interval=0.2)

    data = CampaignReport.get(CampaignReport.campaign == campaign.id).data
    assert data["drain"]["error"].startswith("fold_events: AttributeError:")
    assert data["drain"]["forced"] is False
    assert data["answered"] == 1  # the results come from the events all the same


# --- kill -9 in the middle of finalization ------------------------------------------------


def bulk_calls(campaign, contact_ids, at):
    """Three events per answered contact, one per busy one (every seventh), as AGI stores them."""
    rows = []
    for i, cid in enumerate(contact_ids):
        uid = f"cc-{campaign.id}-{cid}-1"
        if i % 7 == 3:
            rows.append((campaign.id, cid, 1, "failed-busy", at + timedelta(seconds=i % 600), uid))
            continue
        t = at + timedelta(seconds=i % 3600)
        rows += [(campaign.id, cid, 1, "answered", t, uid),
                 (campaign.id, cid, 1, f"dtmf-{1 + i % 3}", t + timedelta(seconds=4), uid),
                 (campaign.id, cid, 1, "hangup", t + timedelta(seconds=9 + i % 40), uid)]
    fields = [CallEvent.campaign_id, CallEvent.contact_id, CallEvent.attempt, CallEvent.name,
              CallEvent.received_at, CallEvent.uniqueid]
    for start in range(0, len(rows), 2000):
        CallEvent.insert_many(rows[start:start + 2000], fields=fields).execute()
    CampaignContact.update(attempts=1, state="final").where(
        CampaignContact.campaign == campaign.id).execute()
    return len(rows)


def twin_campaigns(n):
    """Two FINALIZING campaigns on one list with the same calls: one to kill, one as reference."""
    from tests.campaign_end_support import T0, contact_ids
    from tests.campaign_end_support import make_campaign as make_end

    first = make_end(n, state=FINALIZING)
    second = Campaign.create(name=first.name, state=FINALIZING, timezone=first.timezone,
                             contact_list=first.contact_list_id, max_attempts=3)
    for o in first.options:
        o.__class__.create(campaign=second.id, digit=o.digit, label=o.label)
    ids = contact_ids(first)
    for start in range(0, len(ids), 500):
        CampaignContact.insert_many(
            [{"campaign": second.id, "contact": cid, "attempts": 0, "next_attempt_at": T0}
             for cid in ids[start:start + 500]]).execute()
    events = bulk_calls(first, ids, T0)
    assert bulk_calls(second, ids, T0) == events
    return first, second, events


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_it_gives_the_same_report_and_export_after_kill_9_mid_finalization(stack):
    n = 12_000
    victim, reference, events = twin_campaigns(n)
    assert finalize(reference.id, utcnow()) == "closed"
    token = claim_lease(victim.id, FINALIZING, utcnow())

    worker = start_lifecycle(stack, "lifecycle-1")
    from tasks.finalizing import finalize_campaign

    finalize_campaign.send(victim.id, token)
    step = lambda: (CampaignReport.get_or_none(CampaignReport.campaign == victim.id) or  # noqa: E731
                    CampaignReport()).step
    wait_until(lambda: step() not in ("", None), 90, "the first finalization step", interval=0.01)
    # hold the write lock: the worker cannot commit another step while we kill it
    db_path = get_settings().database_url.split("sqlite:///", 1)[1]
    lock = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        reached = lock.execute(
            "SELECT step FROM campaign_report WHERE campaign_id = ?", (victim.id,)).fetchone()[0]
        assert reached not in ("closed", "purge"), f"finalization ran to {reached} before the kill"
        worker.kill9()
        assert not worker.alive()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert state(victim.id) == FINALIZING
    print(f"killed the finalize worker after step {reached!r}", file=sys.stderr)

    start_lifecycle(stack, "lifecycle-2")  # RabbitMQ redelivers the unacked message
    wait_until(lambda: state(victim.id) == CLOSED, 110, "CLOSED after redelivery", interval=0.2)

    got = CampaignReport.get(CampaignReport.campaign == victim.id)
    want = CampaignReport.get(CampaignReport.campaign == reference.id)
    strip = lambda d: {k: v for k, v in d.items() if k not in ("campaign", "drain", "still_up")}  # noqa: E731
    assert strip(got.data) == strip(want.data)
    assert got.data["contacts"] == n and got.data["events_total"] == events
    assert sha(got.csv_path) == sha(want.csv_path)
    for name in ("outcomes", "digits", "answered_per_attempt"):
        assert sha(got.charts[name]) == sha(want.charts[name])
    archived = archive_rows(got.archive_path, "call_event")
    assert len(archived) == events
    assert len({(e["contact_id"], e["attempt"], e["name"]) for e in archived}) == events
    assert ContactResult.select().where(ContactResult.campaign == victim.id).count() == n
    assert CallEvent.select().where(CallEvent.campaign_id == victim.id).count() == 0
