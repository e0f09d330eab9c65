"""The expiry scan, the chain leases, the drain poll (against pbxsim over TCP) and the clean-up."""

from __future__ import annotations

import os
import threading
from datetime import datetime, time, timedelta, timezone

import pytest

from app.chains import LEASE_SECONDS
from app.config import get_settings
from app.draining import FINALIZE, GONE, WAIT, poll
from app.heartbeats import beat
from app.lifecycle import (
    ALL_FINAL,
    NO_WINDOW,
    PAST_END,
    clean_up,
    expiry_scan,
)
from app.models import (
    ACTIVE,
    CLOSED,
    DONE,
    DRAFT,
    DRAINING,
    FINAL,
    FINALIZING,
    FINISHED,
    PAUSED,
    UP,
    CallAttempt,
    CallEvent,
    CallWindow,
    Campaign,
    CampaignContact,
    CampaignReport,
    Heartbeat,
    LoginFailure,
    QuarantinedReport,
)
from app.pbx.ami import AmiClient
from app.pbx.errors import PbxError
from pbxsim.server import Channel, PbxsimThread
from tests.campaign_end_support import T0, call, contact_ids, make_campaign

UTC = timezone.utc
NOW = T0 + timedelta(days=2)  # 2026-11-25, a Wednesday


def every_day(campaign):
    for day in range(7):
        CallWindow.create(campaign=campaign.id, weekday=day, starts=time(9), ends=time(18))


def state(campaign):
    return Campaign.get_by_id(campaign.id).state


# --- the scan -----------------------------------------------------------------------


def test_it_finishes_a_campaign_past_its_end_and_starts_draining_it(db):
    campaign = make_campaign(3, state=ACTIVE, ends_at=NOW - timedelta(minutes=1))
    every_day(campaign)
    result = expiry_scan(NOW)
    assert result.finished == [(campaign.id, PAST_END)]
    stored = Campaign.get_by_id(campaign.id)
    assert stored.state == DRAINING
    assert stored.finished_at == NOW and stored.drain_started_at == NOW
    assert result.drain == [(campaign.id, stored.tick_token)]
    assert stored.tick_lease_until == NOW + timedelta(seconds=LEASE_SECONDS)


def test_it_finishes_a_paused_campaign_whose_contacts_are_all_final(db):
    campaign = make_campaign(2, state=PAUSED)
    every_day(campaign)
    CampaignContact.update(state=FINAL).execute()
    result = expiry_scan(NOW)
    assert result.finished == [(campaign.id, ALL_FINAL)]
    assert state(campaign) == DRAINING


def test_it_finishes_a_campaign_with_no_window_left_before_its_end(db):
    # Wednesday 23:00 UTC; the end is Thursday 08:00 Paris, before Thursday's 09:00 window
    now = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
    over = make_campaign(1, state=ACTIVE, ends_at=datetime(2026, 11, 26, 7, 0, tzinfo=UTC))
    every_day(over)
    later = make_campaign(1, state=ACTIVE, ends_at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    every_day(later)
    result = expiry_scan(now)
    assert result.finished == [(over.id, NO_WINDOW)]
    assert state(later) == ACTIVE


def test_it_leaves_running_drafts_and_closed_campaigns_alone(db):
    running = make_campaign(2, state=ACTIVE, ends_at=NOW + timedelta(days=3))
    every_day(running)
    draft = make_campaign(1, state=DRAFT, ends_at=NOW - timedelta(days=1))
    closed = make_campaign(1, state=CLOSED)
    result = expiry_scan(NOW)
    assert (result.finished, result.drain, result.finalize) == ([], [], [])
    assert [state(c) for c in (running, draft, closed)] == [ACTIVE, DRAFT, CLOSED]


def test_it_does_the_work_once_when_the_scan_runs_twice_in_a_minute(db):
    campaign = make_campaign(1, state=ACTIVE, ends_at=NOW - timedelta(hours=1))
    first = expiry_scan(NOW)
    second = expiry_scan(NOW + timedelta(seconds=20))
    assert len(first.drain) == 1
    assert (second.finished, second.drain, second.finalize) == ([], [], [])
    assert state(campaign) == DRAINING


def test_it_does_the_work_once_with_two_schedulers_at_the_same_time(sqlite_db):
    campaigns = [make_campaign(1, state=ACTIVE, ends_at=NOW - timedelta(hours=1)) for _ in range(4)]
    results, errors = [], []
    barrier = threading.Barrier(2)

    def scan():
        from app.db import database
        try:
            with database.connection_context():
                barrier.wait(5)
                results.append(expiry_scan(NOW))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    finished = sorted(c for r in results for c, _ in r.finished)
    drains = sorted(c for r in results for c, _ in r.drain)
    assert finished == drains == sorted(c.id for c in campaigns)


def test_it_restarts_a_drain_chain_whose_lease_ran_out(db):
    campaign = make_campaign(1, state=ACTIVE, ends_at=NOW - timedelta(hours=1))
    (cid, token), = expiry_scan(NOW).drain
    # the drain message was lost: nothing renews the lease
    assert expiry_scan(NOW + timedelta(seconds=LEASE_SECONDS - 1)).drain == []
    later = expiry_scan(NOW + timedelta(seconds=LEASE_SECONDS + 1))
    (cid2, token2), = later.drain
    assert cid2 == campaign.id and token2 != token
    assert Campaign.get_by_id(campaign.id).tick_token == token2


def test_it_restarts_a_finalize_chain_whose_lease_ran_out(db):
    campaign = make_campaign(1, state=FINALIZING)
    (cid, token), = expiry_scan(NOW).finalize
    assert cid == campaign.id and token
    assert expiry_scan(NOW).finalize == []


def test_it_keeps_the_drain_chain_a_scan_started_before_the_operator_released_the_tick_chain(db):
    from app.campaigns import activation
    from app.campaigns import transition

    campaign = make_campaign(1, state=ACTIVE)
    Campaign.update(tick_token="aaaa:3", tick_lease_until=NOW + timedelta(seconds=30)).execute()
    # "finish" is the transition, then the release of the tick chain; a scan
    # that starts draining in between hands the campaign its drain chain
    transition(campaign.id, FINISHED, NOW)
    (cid, token), = expiry_scan(NOW).drain
    activation._reset_chain(campaign.id, "finished by operator", NOW)
    stored = Campaign.get_by_id(campaign.id)
    assert (cid, stored.state, stored.tick_token) == (campaign.id, DRAINING, token)
    assert stored.dialer_status == "finished by operator"


# --- the drain poll, against pbxsim over TCP ------------------------------------------


@pytest.fixture
def pbx():
    sim = PbxsimThread(model="lastdigit")
    port = sim.start()
    client = AmiClient("127.0.0.1", port, "callcast", "callcast", timeout=3.0, name="drain-test")
    try:
        yield sim, client
    finally:
        client.close()
        sim.stop()


def put_call(sim, campaign_id, contact_id, number):
    """A call of the campaign up in pbxsim: both halves of a Local channel."""
    uid = CallAttempt.make_channel_id(campaign_id, contact_id, number)
    code = f"campaign-{campaign_id}"

    def add(pbx):
        for half, suffix in ((";1", ""), (";2", ";2")):
            pbx.add_channel(Channel(name=f"Local/555000{contact_id}@pstn-0001{half}", tech="Local",
                                    uniqueid=uid + suffix, linkedid=uid, accountcode=code,
                                    context="callcast-campaign", exten="s", state=6))
    sim.call(add)
    return uid


def hang_up(sim, uid):
    def remove(pbx):
        for key in (uid, uid + ";2"):
            pbx.channels.pop(key, None)
    sim.call(remove)


def draining(n=3):
    make_campaign(n, state=ACTIVE, ends_at=NOW - timedelta(minutes=5))
    (cid, token), = expiry_scan(NOW).drain
    return Campaign.get_by_id(cid), token


def test_it_waits_while_calls_are_up_then_hands_over_to_finalization(db, pbx):
    sim, ami = pbx
    campaign, token = draining()
    c = contact_ids(campaign)
    call(campaign, c[0], 1, [("answered", 0)], state=UP, final=False)
    uid = put_call(sim, campaign.id, c[0], 1)
    other = put_call(sim, campaign.id + 1000, c[1], 1)  # another campaign's call does not count

    waiting = poll(campaign.id, token, NOW + timedelta(seconds=5), ami, drain_max_s=600)
    assert (waiting.action, waiting.live) == (WAIT, 1)
    assert state(campaign) == DRAINING

    # the caller hangs up: the channel goes, its hangup event arrives
    hang_up(sim, uid)
    CallEvent.create(campaign_id=campaign.id, contact_id=c[0], attempt=1, name="hangup",
                     received_at=T0 + timedelta(seconds=30))
    done = poll(campaign.id, token, NOW + timedelta(seconds=40), ami, drain_max_s=600)
    assert done.action == FINALIZE and done.live == 0 and done.token
    stored = Campaign.get_by_id(campaign.id)
    assert stored.state == FINALIZING and stored.tick_token == done.token
    report = CampaignReport.get(CampaignReport.campaign == campaign.id)
    assert report.step == "" and report.data["still_up"] == []
    assert report.data["drain"]["forced"] is False
    # the dialer's fold closed the attempt with its outcome
    assert CallAttempt.get().state == DONE and CallAttempt.get().outcome == "answered"
    hang_up(sim, other)


def test_it_finalizes_anyway_after_the_maximum_drain_time_naming_the_calls_still_up(db, pbx):
    sim, ami = pbx
    campaign, token = draining()
    c = contact_ids(campaign)
    call(campaign, c[2], 1, [("answered", 0)], state=UP, final=False)
    uid = put_call(sim, campaign.id, c[2], 1)
    assert poll(campaign.id, token, NOW + timedelta(seconds=59), ami, drain_max_s=60).action == WAIT
    forced = poll(campaign.id, token, NOW + timedelta(seconds=61), ami, drain_max_s=60)
    assert forced.action == FINALIZE
    assert [(s["call_id"], s["contact_id"], s["attempt"]) for s in forced.still_up] == [(uid, c[2], 1)]
    data = CampaignReport.get(CampaignReport.campaign == campaign.id).data
    assert data["drain"]["forced"] is True
    assert data["still_up"][0]["channel"].startswith("Local/")
    hang_up(sim, uid)


def test_it_never_finalizes_blind_when_the_pbx_is_unreachable(db):
    campaign, token = draining()
    closed_port = AmiClient("127.0.0.1", 1, "callcast", "callcast", timeout=0.5, name="down")
    try:
        for seconds in (10, 10_000):  # even long past the maximum drain time
            with pytest.raises(PbxError):
                poll(campaign.id, token, NOW + timedelta(seconds=seconds), closed_port, drain_max_s=60)
    finally:
        closed_port.close()
    assert state(campaign) == DRAINING
    assert CampaignReport.select().count() == 0


def test_it_says_in_the_status_that_a_drain_waits_for_the_pbx(db):
    campaign, token = draining()
    closed_port = AmiClient("127.0.0.1", 1, "callcast", "callcast", timeout=0.5, name="down")
    try:
        with pytest.raises(PbxError):
            poll(campaign.id, token, NOW + timedelta(seconds=90), closed_port, drain_max_s=60)
    finally:
        closed_port.close()
    status = Campaign.get_by_id(campaign.id).dialer_status
    assert status.startswith("draining: PBX unreachable (AmiConnectionError")
    assert status.endswith("waiting for its word after 90s")


def test_it_puts_a_failed_drain_or_finalization_in_the_status_but_not_a_wait(db):
    import dramatiq

    from tasks.lifecycle import record_failure

    campaign, _ = draining()
    record_failure(campaign.id, "drain", dramatiq.Retry("2 calls still up"), NOW)
    record_failure(campaign.id, "drain", PbxError("refused"), NOW)
    assert Campaign.get_by_id(campaign.id).dialer_status == ""
    record_failure(campaign.id, "finalize", ValueError("no such step"), NOW)
    assert Campaign.get_by_id(campaign.id).dialer_status == (
        "finalize failed: ValueError: no such step (retried up to 10 times; see the lifecycle log)")


def test_it_drops_a_poll_of_a_chain_that_lost_its_lease(db, pbx):
    sim, ami = pbx
    campaign, token = draining()
    assert poll(campaign.id, "not-the-token", NOW, ami).action == GONE
    assert state(campaign) == DRAINING
    assert poll(campaign.id, token, NOW + timedelta(seconds=1), ami).action == FINALIZE
    assert poll(campaign.id, token, NOW + timedelta(seconds=2), ami).action == GONE


# --- the hourly clean-up ---------------------------------------------------------------


def test_it_cleans_old_exports_and_long_stale_heartbeats(db, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("EXPORT_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    settings = get_settings()
    folder = settings.export_dir / "campaign-1"
    folder.mkdir(parents=True)
    old, fresh, tmp = folder / "contacts.csv", folder / "archive.zip", folder / ".tmp-x"
    for path in (old, fresh, tmp):
        path.write_text("x")
    now = datetime.now(UTC)
    os.utime(old, (now.timestamp() - 31 * 86400,) * 2)
    os.utime(tmp, (now.timestamp() - 2 * 3600,) * 2)
    gone_folder = settings.export_dir / "campaign-2"
    gone_folder.mkdir()
    (gone_folder / "contacts.csv").write_text("x")
    os.utime(gone_folder / "contacts.csv", (now.timestamp() - 40 * 86400,) * 2)
    beat("dialer", now - timedelta(days=8), name="dialer@dead:1")
    beat("dialer", now - timedelta(minutes=10), name="dialer@recent:2")

    # uploaded CSVs: one abandoned three days ago, one previewed a minute ago
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "media"))
    get_settings.cache_clear()
    settings = get_settings()
    uploads = settings.media_dir / "uploads"
    uploads.mkdir(parents=True)
    stale, recent = uploads / "a.csv", uploads / "b.csv"
    for path in (stale, recent):
        path.write_text("phone\n0612345678\n")
    os.utime(stale, (now.timestamp() - 3 * 86400,) * 2)

    # sign-in failures: one too old to count any more, one recent
    LoginFailure.create(username="a", remote_addr="192.0.2.1", at=now - timedelta(hours=2))
    LoginFailure.create(username="b", remote_addr="192.0.2.1", at=now - timedelta(minutes=1))
    # quarantined reports: one past the retention, one recent
    for age, event in ((timedelta(days=31), "old"), (timedelta(days=1), "recent")):
        QuarantinedReport.create(received_at=now - age, source="agi", reason="bad_token",
                                 campaign_id=1, contact_id=1, attempt=1, event=event)

    done = clean_up(now, settings)
    assert done == {"export_files": 3, "uploads": 1, "heartbeats": 1, "login_failures": 1,
                    "quarantined_reports": 1}
    assert sorted(p.name for p in folder.iterdir()) == ["archive.zip"]
    assert not gone_folder.exists()
    assert [p.name for p in uploads.iterdir()] == ["b.csv"]
    assert [h.name for h in Heartbeat.select()] == ["dialer@recent:2"]
    assert [f.username for f in LoginFailure.select()] == ["b"]
    assert [q.event for q in QuarantinedReport.select()] == ["recent"]
    assert clean_up(now, settings) == {
        "export_files": 0, "uploads": 0, "heartbeats": 0, "login_failures": 0,
        "quarantined_reports": 0}
    get_settings.cache_clear()
