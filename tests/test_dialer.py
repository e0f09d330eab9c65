"""The dialer's plain functions on the real database (SQLite and PostgreSQL), fixed ``now``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.campaigns import activation
from app.chains import claim_turn, renew_lease, turn
from app.dialer.claims import claim, due_contacts
from app.dialer.folding import fold_events
from app.dialer.live import PbxSnapshot
from app.dialer.pacing import budget
from app.dialer.reconcile import reconcile
from app.errors import ValidationError
from app.models import (
    ACTIVE,
    CALLING,
    DONE,
    FINAL,
    PENDING,
    CallAttempt,
    Campaign,
    CampaignContact,
    DoNotCall,
)
from dialing_support import contact_ids, event, make_campaign

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def activated(phones, **fields):
    campaign = make_campaign(phones, **fields)
    activation.activate(campaign.id, NOW, ami=None)
    return Campaign.get_by_id(campaign.id)


def cc(campaign, contact_id) -> CampaignContact:
    return CampaignContact.get(
        (CampaignContact.campaign == campaign.id) & (CampaignContact.contact == contact_id)
    )


def claim_all(campaign, now, limit=100):
    return claim(campaign, due_contacts(campaign.id, now, limit), now)


def test_it_activates_with_every_contact_pending(db):
    campaign = activated(["+15550000001", "+15550000002"])
    assert campaign.state == ACTIVE
    states = [(c.state, c.attempts) for c in CampaignContact.select()]
    assert states == [(PENDING, 0), (PENDING, 0)]


def test_it_refuses_to_activate_without_windows_or_message(db):
    campaign = make_campaign(["+15550000001"], windows=None, message_sound="")
    with pytest.raises(ValidationError) as info:
        activation.activate(campaign.id, NOW)
    assert "no call windows" in str(info.value) and "no message" in str(info.value)
    assert Campaign.get_by_id(campaign.id).state == "DRAFT"
    assert CampaignContact.select().count() == 0


def test_it_bumps_attempts_when_it_claims_before_any_originate(db):
    campaign = activated(["+15550000001"])
    [claimed] = claim_all(campaign, NOW)
    row = cc(campaign, claimed.contact_id)
    assert (row.state, row.attempts) == (CALLING, 1)
    attempt = CallAttempt.get()
    assert (attempt.number, attempt.channel_id) == (1, f"cc-{campaign.id}-{claimed.contact_id}-1")


def test_it_never_claims_a_contact_twice_from_the_same_due_list(db):
    # two dialers read the same due rows; only one claim wins each contact
    campaign = activated([f"+1555000000{i}" for i in range(5)])
    dues = due_contacts(campaign.id, NOW, 10)
    first = claim(campaign, dues, NOW)
    second = claim(campaign, dues, NOW)
    assert len(first) == 5 and second == []
    assert CallAttempt.select().count() == 5


def test_it_folds_an_answer_with_a_digit_into_a_final_contact(db):
    campaign = activated(["+15550000001"])
    [c] = claim_all(campaign, NOW)
    event(campaign.id, c.contact_id, 1, "answered", NOW + timedelta(seconds=2))
    event(campaign.id, c.contact_id, 1, "dtmf-2", NOW + timedelta(seconds=5))
    assert fold_events(campaign.id, NOW + timedelta(seconds=6)) == 0
    assert CallAttempt.get().state == "up"
    event(campaign.id, c.contact_id, 1, "hangup", NOW + timedelta(seconds=7), hangupcause="16")
    assert fold_events(campaign.id, NOW + timedelta(seconds=8)) == 1
    attempt = CallAttempt.get()
    assert (attempt.state, attempt.outcome, attempt.digit, attempt.hangup_cause) == (
        DONE, "answered", "2", "16")
    row = cc(campaign, c.contact_id)
    assert (row.state, row.last_outcome) == (FINAL, "answered")


def test_it_retries_busy_after_its_delay_and_stops_at_max_attempts(db):
    campaign = activated(["+15550000005"], max_attempts=2, retry_busy_s=120)
    [c] = claim_all(campaign, NOW)
    ended = NOW + timedelta(seconds=3)
    event(campaign.id, c.contact_id, 1, "failed-busy", ended)
    fold_events(campaign.id, NOW + timedelta(seconds=4))
    row = cc(campaign, c.contact_id)
    assert (row.state, row.attempts, row.next_attempt_at) == (
        PENDING, 1, ended + timedelta(seconds=120))
    assert due_contacts(campaign.id, ended + timedelta(seconds=119), 10) == []
    later = ended + timedelta(seconds=120)
    [again] = claim_all(campaign, later)
    assert again.number == 2
    event(campaign.id, c.contact_id, 2, "failed-busy", later + timedelta(seconds=1))
    fold_events(campaign.id, later + timedelta(seconds=2))
    row = cc(campaign, c.contact_id)
    assert (row.state, row.attempts, row.last_outcome) == (FINAL, 2, "busy")
    assert claim_all(campaign, later + timedelta(days=1)) == []


def test_it_does_not_retry_an_outcome_outside_retry_on(db):
    campaign = activated(["+15550000007"], retry_on="busy")
    [c] = claim_all(campaign, NOW)
    event(campaign.id, c.contact_id, 1, "failed-congestion", NOW)
    fold_events(campaign.id, NOW)
    assert cc(campaign, c.contact_id).state == FINAL


def test_it_prefers_the_failure_over_a_hangup_on_the_failed_channel(db):
    campaign = activated(["+15550000006"], max_attempts=1)
    [c] = claim_all(campaign, NOW)
    event(campaign.id, c.contact_id, 1, "failed-noanswer", NOW)
    event(campaign.id, c.contact_id, 1, "hangup", NOW, hangupcause="19")
    fold_events(campaign.id, NOW)
    assert CallAttempt.get().outcome == "noanswer"
    assert cc(campaign, c.contact_id).last_outcome == "noanswer"


def test_it_skips_a_number_put_on_do_not_call_after_import(db):
    campaign = activated(["+15550000001", "+15550000002"])
    DoNotCall.create(phone="+15550000002")
    dues = due_contacts(campaign.id, NOW, 10)
    assert [d.dnc for d in dues] == [False, True]


def test_it_closes_an_overdue_attempt_the_pbx_no_longer_has_as_lost(db):
    campaign = activated(["+15550000001", "+15550000002"], ring_timeout_s=10, max_call_s=20,
                         max_attempts=1)
    first, second = claim_all(campaign, NOW)
    later = NOW + timedelta(seconds=31)
    # the second call is still up on the PBX: a long call is not lost
    assert reconcile(campaign.id, later, {second.channel_id}) == 1
    assert cc(campaign, first.contact_id).last_outcome == "lost"
    assert cc(campaign, second.contact_id).state == CALLING
    # too early for anything
    assert reconcile(campaign.id, NOW + timedelta(seconds=29), set()) == 0


def test_it_folds_a_late_terminal_event_instead_of_losing_the_attempt(db):
    campaign = activated(["+15550000001"], ring_timeout_s=10, max_call_s=20)
    [c] = claim_all(campaign, NOW)
    event(campaign.id, c.contact_id, 1, "answered", NOW)
    event(campaign.id, c.contact_id, 1, "hangup", NOW + timedelta(seconds=5))
    assert reconcile(campaign.id, NOW + timedelta(seconds=60), set()) == 0
    assert CallAttempt.get().outcome == "answered"


def test_it_closes_an_answered_call_whose_hangup_never_came_as_answered_not_lost(db):
    # the person answered and pressed 1; the hangup report was lost on every path
    campaign = activated(["+15550000001"], ring_timeout_s=10, max_call_s=20, max_attempts=3)
    [c] = claim_all(campaign, NOW)
    event(campaign.id, c.contact_id, 1, "answered", NOW)
    event(campaign.id, c.contact_id, 1, "dtmf-1", NOW + timedelta(seconds=4))
    assert reconcile(campaign.id, NOW + timedelta(seconds=40), set()) == 0  # none lost
    attempt = CallAttempt.get()
    assert (attempt.outcome, attempt.digit) == ("answered", "1")
    row = cc(campaign, c.contact_id)
    assert (row.state, row.last_outcome) == (FINAL, "answered")  # not called again


def test_it_retries_a_lost_attempt_while_attempts_remain(db):
    campaign = activated(["+15550000001"], ring_timeout_s=10, max_call_s=20, max_attempts=3,
                         retry_failed_s=60)
    [c] = claim_all(campaign, NOW)
    reconcile(campaign.id, NOW + timedelta(seconds=40), set())
    row = cc(campaign, c.contact_id)
    assert (row.state, row.attempts, row.last_outcome) == (PENDING, 1, "lost")


def test_it_counts_the_union_of_pbx_and_db_live_calls(db, monkeypatch):
    """A call just originated is in the DB before the PBX lists it; a call just folded is
    on the PBX's list until its channel is gone: both hold a channel, each counted once."""
    campaign = activated([f"+155500001{i:02d}" for i in range(30)], max_channels=10)
    claim(campaign, due_contacts(campaign.id, NOW, 4), NOW)  # 4 in flight in the DB
    from app.config import get_settings

    settings = get_settings()
    in_db = [a.channel_id for a in CallAttempt.select().order_by(CallAttempt.id)]
    code = campaign.account_code

    def listed(*ids):
        return PbxSnapshot({code: set(ids), "other": {"not-ours"}})

    plan = budget(campaign, listed(*in_db), NOW, settings)  # the PBX lists the same 4
    assert (plan.live, plan.slots) == (4, 6)
    # 3 of them up, 1 not listed yet, 2 folded calls whose channels are still up
    plan = budget(campaign, listed(*in_db[:3], "cc-folded-1", "cc-folded-2"), NOW, settings)
    assert (plan.live, plan.slots) == (6, 4)  # the larger of 5 and 4 would say 5
    plan = budget(campaign, listed(*[f"cc-up-{i}" for i in range(7)]), NOW, settings)
    assert plan.slots == 0  # 4 + 7 > 10


def test_it_counts_calls_that_ended_after_the_pbx_was_asked(db):
    """A call started and ended (its report folded) after the PBX's list was asked may still
    hold its channel: counted; one that ended before the list is on it if still up; a lost
    one had no channel."""
    campaign = activated([f"+155500004{i:02d}" for i in range(30)], max_channels=10)
    claim(campaign, due_contacts(campaign.id, NOW, 3), NOW)
    [before, after, lost] = CallAttempt.select().order_by(CallAttempt.id)
    for attempt, ended, outcome in ((before, NOW - timedelta(seconds=1), "busy"),
                                    (after, NOW + timedelta(seconds=1), "busy"),
                                    (lost, NOW + timedelta(seconds=1), "lost")):
        CallAttempt.update(state="done", outcome=outcome, finished_at=ended).where(
            CallAttempt.id == attempt.id).execute()
    from app.config import get_settings

    asked = PbxSnapshot({}, asked_at=NOW)
    assert budget(campaign, asked, NOW, get_settings()).live == 1  # the one that ended after
    assert budget(campaign, PbxSnapshot(), NOW, get_settings()).live == 0  # no ask time


def test_it_shares_the_global_cap_between_campaigns_by_weight(db, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("GLOBAL_MAX_CHANNELS", "12")
    get_settings.cache_clear()
    settings = get_settings()
    a = activated([f"+155500002{i:02d}" for i in range(30)], max_channels=50, weight=2)
    b = activated([f"+155500003{i:02d}" for i in range(30)], max_channels=50, weight=1)
    Campaign.update(wants_capacity=True).execute()
    snap = PbxSnapshot()
    assert budget(Campaign.get_by_id(a.id), snap, NOW, settings).slots == 8
    assert budget(Campaign.get_by_id(b.id), snap, NOW, settings).slots == 4
    # b idle: a may use the whole trunk
    Campaign.update(wants_capacity=False).where(Campaign.id == b.id).execute()
    assert budget(Campaign.get_by_id(a.id), snap, NOW, settings).slots == 12
    # calls of b on the trunk count against everyone
    snap = PbxSnapshot({b.account_code: {f"cc-b-{i}" for i in range(10)}})
    assert budget(Campaign.get_by_id(a.id), snap, NOW, settings).slots == 2
    get_settings.cache_clear()


def test_it_shares_by_the_wants_capacity_flag_whatever_the_status_says(db, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("GLOBAL_MAX_CHANNELS", "12")
    get_settings.cache_clear()
    settings = get_settings()
    a = activated([f"+155500006{i:02d}" for i in range(30)], max_channels=50, weight=2)
    activated([f"+155500007{i:02d}" for i in range(30)], max_channels=50, weight=1)
    snap = PbxSnapshot()
    Campaign.update(dialer_status="dialing 3", wants_capacity=False).execute()
    assert budget(Campaign.get_by_id(a.id), snap, NOW, settings).slots == 12
    Campaign.update(dialer_status="reworded", wants_capacity=True).execute()
    assert budget(Campaign.get_by_id(a.id), snap, NOW, settings).slots == 8
    get_settings.cache_clear()


def test_it_lets_exactly_one_tick_chain_run(db):
    campaign = activated(["+15550000001"])
    lease = 10
    assert claim_turn(campaign.id, "aaaa", 0, "", NOW, lease) == "run"
    # a second start while the first chain's lease is live must wait
    assert claim_turn(campaign.id, "bbbb", 0, "", NOW, lease) == "wait"
    # a redelivered copy of the tick that already ran waits too
    assert claim_turn(campaign.id, "aaaa", 0, "", NOW, lease) == "wait"
    # the chain's next turn runs
    assert claim_turn(campaign.id, "aaaa", 1, "", NOW + timedelta(seconds=1), lease) == "run"
    renew_lease(campaign.id, ACTIVE, turn("aaaa", 2), NOW + timedelta(seconds=1), lease)
    # the waiter comes back: the chain moved on, so it drops
    assert claim_turn(campaign.id, "bbbb", 0, "aaaa:1", NOW + timedelta(seconds=12), lease) == "drop"


def test_it_takes_over_a_chain_whose_worker_died(db):
    campaign = activated(["+15550000001"])
    assert claim_turn(campaign.id, "aaaa", 0, "", NOW, 10) == "run"
    # the worker dies mid-tick; its redelivered message sees the chain's token
    assert claim_turn(campaign.id, "aaaa", 0, "", NOW + timedelta(seconds=1), 10) == "wait"
    # still inside the lease: keep waiting
    assert claim_turn(campaign.id, "aaaa", 0, "aaaa:1", NOW + timedelta(seconds=5), 10) == "wait"
    # lease over and no progress: exactly one waiter takes the chain over
    later = NOW + timedelta(seconds=11)
    assert claim_turn(campaign.id, "cccc", 0, "aaaa:1", later, 10) == "run"
    assert claim_turn(campaign.id, "aaaa", 0, "aaaa:1", later, 10) == "drop"


def test_it_stops_the_chain_when_the_campaign_is_paused(db):
    campaign = activated(["+15550000001"])
    assert claim_turn(campaign.id, "aaaa", 0, "", NOW, 10) == "run"
    activation.pause(campaign.id, NOW)
    assert claim_turn(campaign.id, "aaaa", 1, "", NOW, 10) == "drop"
    activation.resume(campaign.id, NOW)
    assert claim_turn(campaign.id, "dddd", 0, "", NOW, 10) == "run"
    assert Campaign.get_by_id(campaign.id).dialer_status == "resumed"


# --- whole ticks against pbxsim over real TCP -------------------------------------------


@pytest.fixture
def pbx(db):
    from dialing_support import SimPbx

    sim = SimPbx()
    yield sim
    sim.close()


def run(campaign_id, now, pbx):
    from app.config import get_settings
    from app.dialer.tick import run_tick

    return run_tick(campaign_id, now, pbx.ami, get_settings())


def activated_on(pbx, phones, **fields):
    campaign = make_campaign(phones, **fields)
    activation.activate(campaign.id, NOW, ami=pbx.ami)
    return Campaign.get_by_id(campaign.id)


def test_it_originates_no_more_than_max_channels(pbx):
    campaign = activated_on(pbx, [f"+1202555{i:04d}" for i in range(30)], max_channels=7)
    result = run(campaign.id, NOW, pbx)
    assert result.originated == 7
    assert result.status == "dialing 7 (7/7 live)"
    again = run(campaign.id, NOW, pbx)
    assert again.originated == 0 and again.status.startswith("channel cap reached")
    calls = pbx.stats()["calls"]
    assert len(calls) == 7
    assert {c["account"] for c in calls} == {campaign.account_code}
    assert Campaign.get_by_id(campaign.id).dialer_status.startswith("channel cap reached")


def test_it_flags_a_campaign_that_dials_or_hits_its_cap_as_wanting_capacity(pbx):
    campaign = activated_on(pbx, [f"+1202557{i:04d}" for i in range(5)], max_channels=2)
    assert Campaign.get_by_id(campaign.id).wants_capacity is False  # activated
    assert run(campaign.id, NOW, pbx).originated == 2
    assert Campaign.get_by_id(campaign.id).wants_capacity is True  # dialing
    assert run(campaign.id, NOW, pbx).status.startswith("channel cap reached")
    assert Campaign.get_by_id(campaign.id).wants_capacity is True
    activation.pause(campaign.id, NOW)
    assert Campaign.get_by_id(campaign.id).wants_capacity is False


def test_it_dials_nothing_outside_the_window_across_dst(pbx):
    from app.windows import Span
    from datetime import time as tod

    spans = [Span(d, tod(9), tod(17)) for d in range(5)]
    campaign = activated_on(pbx, ["+12025550001"], windows=spans, timezone="America/New_York")
    # Monday 2026-03-09 08:30 EDT = 12:30 UTC: the first weekday after the change
    result = run(campaign.id, datetime(2026, 3, 9, 12, 30, tzinfo=UTC), pbx)
    assert result.originated == 0
    assert result.status == "outside window until 2026-03-09 13:00:00Z"
    assert pbx.stats()["originates"] == 0
    assert run(campaign.id, datetime(2026, 3, 9, 13, 0, tzinfo=UTC), pbx).originated == 1


def test_it_records_a_number_added_to_do_not_call_after_import_as_dnc(pbx):
    campaign = activated_on(pbx, ["+12025550001", "+12025550002", "+12025550003"])
    DoNotCall.create(phone="+12025550002")
    result = run(campaign.id, NOW, pbx)
    assert (result.originated, result.dnc) == (2, 1)
    called = {c["number"] for c in pbx.stats()["calls"]}
    assert called == {"+12025550001", "+12025550003"}
    dnc_row = cc(campaign, contact_ids(campaign)[1])
    assert (dnc_row.state, dnc_row.last_outcome, dnc_row.attempts) == (FINAL, "dnc", 0)


def test_it_claims_nothing_while_the_pbx_is_unreachable(pbx):
    from app.pbx.ami import AmiClient

    campaign = activated_on(pbx, ["+12025550001", "+12025550002"])
    port = pbx.port
    pbx.close()
    dead = AmiClient("127.0.0.1", port, "callcast", "callcast", timeout=0.5, backoff_max=0.2)
    try:
        result = run_tick_with(campaign.id, NOW, dead)
    finally:
        dead.close()
    assert result.originated == 0 and result.delay_s is not None
    assert result.status.startswith("PBX unreachable")
    assert Campaign.get_by_id(campaign.id).state == ACTIVE
    assert CallAttempt.select().count() == 0
    assert [(c.state, c.attempts) for c in CampaignContact.select()] == [(PENDING, 0)] * 2
    assert Campaign.get_by_id(campaign.id).dialer_status.startswith("PBX unreachable")


def run_tick_with(campaign_id, now, ami):
    from app.config import get_settings
    from app.dialer.tick import run_tick

    return run_tick(campaign_id, now, ami, get_settings())


def test_it_gives_back_claims_the_pbx_refuses(pbx, tmp_path):
    campaign = activated_on(pbx, ["+12025550001", "+12025550002"])
    # the PBX loads an empty dialplan: every Originate gets "Extension does not exist."
    empty = tmp_path / "empty.conf"
    empty.write_text("[other]\nexten => s,1,NoOp()\n")
    pbx.thread.call(lambda p: setattr(p, "dialplan_path", str(empty)))
    pbx.thread.reload_dialplan()
    result = run(campaign.id, NOW, pbx)
    assert result.originated == 0
    assert "Extension does not exist" in result.status
    assert CallAttempt.select().count() == 0
    assert [(c.state, c.attempts) for c in CampaignContact.select()] == [(PENDING, 0)] * 2


def test_it_finishes_the_campaign_when_every_contact_is_done(pbx):
    campaign = activated_on(pbx, ["+12025550001"])
    [c] = claim_all(Campaign.get_by_id(campaign.id), NOW)
    event(campaign.id, c.contact_id, 1, "answered", NOW)
    event(campaign.id, c.contact_id, 1, "hangup", NOW)
    result = run(campaign.id, NOW + timedelta(seconds=1), pbx)
    assert result.delay_s is None
    assert Campaign.get_by_id(campaign.id).state == "FINISHED"


def test_it_says_when_the_next_retry_is_due(pbx):
    campaign = activated_on(pbx, ["+12025550005"], retry_busy_s=60)
    [c] = claim_all(Campaign.get_by_id(campaign.id), NOW)
    event(campaign.id, c.contact_id, 1, "failed-busy", NOW)
    result = run(campaign.id, NOW + timedelta(seconds=1), pbx)
    assert result.originated == 0
    assert result.status == "no due contacts until 2026-03-02 15:01:00Z"
    assert result.delay_s == 30.0  # idle: look again later, not every tick


def test_it_claims_nothing_once_the_campaign_is_paused_mid_tick(db):
    campaign = activated(["+15550000001", "+15550000002"])
    dues = due_contacts(campaign.id, NOW, 10)  # the tick read these while ACTIVE
    activation.pause(campaign.id, NOW)  # then the operator paused
    assert claim(campaign, dues, NOW) == []
    assert CallAttempt.select().count() == 0


def test_it_limits_originates_per_tick_by_the_global_rate(db, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("ORIGINATES_PER_SECOND", "30")
    monkeypatch.setenv("DIAL_TICK_MS", "500")
    get_settings.cache_clear()
    settings = get_settings()
    a = activated([f"+155500004{i:02d}" for i in range(50)], max_channels=100)
    b = activated([f"+155500005{i:02d}" for i in range(50)], max_channels=100)
    snap = PbxSnapshot()
    # 30/s at a 500 ms tick is 15 per tick, split between the two hungry campaigns
    Campaign.update(wants_capacity=True).execute()
    plan = budget(Campaign.get_by_id(a.id), snap, NOW, settings)
    assert (plan.slots, plan.reason) == (7, "rate limit")
    Campaign.update(wants_capacity=False).where(Campaign.id == b.id).execute()
    assert budget(Campaign.get_by_id(a.id), snap, NOW, settings).slots == 15
    get_settings.cache_clear()


def test_it_hands_the_lease_back_when_the_campaign_left_active(db):
    campaign = activated(["+15550000001"])
    assert claim_turn(campaign.id, "aaaa", 0, "", NOW, 10) == "run"
    Campaign.update(state="FINISHED").where(Campaign.id == campaign.id).execute()
    assert claim_turn(campaign.id, "aaaa", 1, "", NOW, 10) == "drop"
    row = Campaign.get_by_id(campaign.id)
    assert (row.tick_token, row.tick_lease_until) == ("", None)


def test_it_never_exceeds_the_global_cap_with_campaigns_ticking_at_once(pbx, monkeypatch):
    import threading

    from app.config import get_settings
    from app.db import database

    monkeypatch.setenv("GLOBAL_MAX_CHANNELS", "6")
    get_settings.cache_clear()
    campaigns = [
        activated_on(pbx, [f"+1202556{k}{i:03d}" for i in range(20)], max_channels=20)
        for k in range(3)
    ]
    Campaign.update(wants_capacity=False).execute()  # nobody wants capacity yet
    barrier = threading.Barrier(len(campaigns))
    results = []

    def tick(campaign_id):
        with database.connection_context():
            barrier.wait()
            results.append(run(campaign_id, NOW, pbx))

    threads = [threading.Thread(target=tick, args=(c.id,)) for c in campaigns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(r.originated for r in results) == 6
    assert CallAttempt.select().count() == 6
    get_settings.cache_clear()


def test_it_lists_active_campaigns_whose_chain_died_for_a_restart(db):
    from app.chains import stalled

    live = activated(["+15550000001"])
    dead = activated(["+15550000002"])
    paused = activated(["+15550000003"])
    assert claim_turn(live.id, "aaaa", 0, "", NOW, 60) == "run"
    assert claim_turn(dead.id, "bbbb", 0, "", NOW - timedelta(seconds=120), 60) == "run"
    activation.pause(paused.id, NOW)
    assert [campaign_id for campaign_id, _ in stalled(NOW, (ACTIVE,))] == [dead.id]


def test_it_retries_by_default_exactly_what_the_retry_failed_help_names():
    import re

    from app.cli.campaign import create
    from app.dialer.outcomes import is_retryable, retry_delay_s
    from app.events import FAILURE_REASONS, LOST

    [option] = [p for p in create.params if p.name == "retry_failed"]
    named, _, excluded = option.help.partition("after ")[2].partition("(not ")
    campaign = Campaign()  # the defaults a new campaign gets
    # the outcomes that wait retry_failed_s before another call
    waiting = {o for o in (*FAILURE_REASONS, LOST)
               if retry_delay_s(campaign, o) == campaign.retry_failed_s
               and o not in ("busy", "noanswer")}
    retried = {o for o in waiting if is_retryable(campaign, o)}
    assert set(re.findall(r"[a-z]+", named)) == retried
    assert set(re.findall(r"[a-z]+", excluded)) == waiting - retried == {"unavailable"}


def test_it_clamps_retry_delays_stored_out_of_range(db):
    # values an older version could store (SQLite keeps any 64-bit integer): the
    # fold and the reconciliation must not overflow a date on them
    from app.db import is_postgres

    huge = 2**31 - 1 if is_postgres() else 10**12  # PostgreSQL's INTEGER stops there
    campaign = activated(["+15550000001", "+15550000002"])
    Campaign.update(retry_busy_s=huge, ring_timeout_s=huge, max_call_s=huge).where(
        Campaign.id == campaign.id).execute()
    campaign = Campaign.get_by_id(campaign.id)
    first, second = claim_all(campaign, NOW)
    event(campaign.id, first.contact_id, 1, "failed-busy", NOW)

    assert fold_events(campaign.id, NOW + timedelta(seconds=1)) == 1
    assert reconcile(campaign.id, NOW + timedelta(seconds=2), set()) == 0

    row = cc(campaign, first.contact_id)
    assert (row.state, row.next_attempt_at) == (PENDING, NOW + timedelta(days=366))


def test_a_paused_campaigns_call_end_is_folded_by_its_nudge_and_nothing_is_dialled(db):
    from app.config import get_settings
    from app.dialer.refill import refill

    campaign = activated(["+15550000001", "+15550000002"])
    [c] = claim_all(campaign, NOW, limit=1)
    activation.pause(campaign.id, NOW + timedelta(seconds=1))
    event(campaign.id, c.contact_id, 1, "answered", NOW + timedelta(seconds=2))
    event(campaign.id, c.contact_id, 1, "hangup", NOW + timedelta(seconds=9), hangupcause="16")
    # no PBX: a paused campaign's refill only folds, it never asks a PBX or originates
    assert refill(campaign.id, NOW + timedelta(seconds=10), None, get_settings()) == 0
    attempt = CallAttempt.get()
    assert (attempt.state, attempt.outcome) == (DONE, "answered")
    assert cc(campaign, c.contact_id).state == FINAL
    assert CallAttempt.select().count() == 1  # the other contact waits for the resume
    assert Campaign.get_by_id(campaign.id).state == "PAUSED"


def test_a_tick_does_not_replace_the_reason_of_a_pause_that_came_while_it_ran(pbx, monkeypatch):
    import app.dialer.tick as tick

    campaign = activated_on(pbx, ["+12025550001", "+12025550002"], max_channels=1)
    real_dial = tick._dial

    def dial_then_paused(campaign, *args):
        real_dial(campaign, *args)  # the call goes out; then, before the tick writes its status:
        activation.pause(campaign.id, NOW)  # an operator (or the breaker in a refill) pauses

    monkeypatch.setattr(tick, "_dial", dial_then_paused)
    result = run(campaign.id, NOW, pbx)
    assert result.originated == 1 and result.status.startswith("dialing 1")
    row = Campaign.get_by_id(campaign.id)
    assert (row.state, row.dialer_status) == ("PAUSED", "paused")
    # a tick message that finds it paused leaves the pauser's words alone as well
    monkeypatch.setattr(tick, "_dial", real_dial)
    Campaign.update(dialer_status="paused: the route breaker's reason").where(
        Campaign.id == campaign.id).execute()
    assert run(campaign.id, NOW, pbx).delay_s is None
    assert Campaign.get_by_id(campaign.id).dialer_status == "paused: the route breaker's reason"
