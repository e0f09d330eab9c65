"""AMD outcomes: the fold's rule per attempt, machine retries, the results (verdict and cause),
the report (answer rate counts people) and the CSV columns."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from app.dialer.outcomes import facts_of, next_state
from app.finalization import finalize
from app.models import FINAL, FINALIZING, PENDING, CampaignReport, ContactResult
from tests.campaign_end_support import T0, call, contact_ids, make_campaign

NOW = T0 + timedelta(hours=5)
AMD = {"enabled": True, "machine_retries": 1, "machine_retry_s": 3600,
       "message_on_last_attempt": True, "message_sound": "vm"}


def events(*names):
    return [SimpleNamespace(id=i, name=n, received_at=T0 + timedelta(seconds=i), data={})
            for i, n in enumerate(names)]


def test_each_attempt_outcome_follows_the_verdict_as_the_dialplan_handled_it():
    cases = {
        ("answered", "amd-human", "dtmf-1", "hangup"): "answered",
        ("answered", "amd-notsure-human", "timeout", "hangup"): "answered",
        ("answered", "amd-hangup-human", "hangup"): "answered",
        ("answered", "amd-machine", "hangup"): "machine",
        ("answered", "amd-notsure-machine", "hangup"): "machine",
        ("answered", "amd-hangup-machine", "hangup"): "machine",
        ("answered", "amd-machine", "vm-timeout", "hangup"): "machine",
        ("answered", "amd-machine", "vm-left", "hangup"): "machine-message",
        ("answered", "amd-machine"): "",  # still up: no outcome yet
    }
    for names, outcome in cases.items():
        assert facts_of(events(*names)).outcome == outcome, names


def test_machines_are_retried_by_their_own_delay_and_cap_within_max_attempts():
    campaign = SimpleNamespace(amd=AMD, max_attempts=3, retry_on="busy", retry_outcomes={"busy"},
                               retry_busy_s=60, retry_noanswer_s=60, retry_failed_s=60)
    assert next_state(campaign, 1, "machine", T0) == (PENDING, T0 + timedelta(hours=1))
    assert next_state(campaign, 2, "machine", T0) == (FINAL, T0)  # machine_retries 1
    assert next_state(campaign, 1, "machine-message", T0) == (FINAL, T0)
    campaign.max_attempts = 1
    assert next_state(campaign, 1, "machine", T0) == (FINAL, T0)  # the attempt cap holds


def scenario():
    campaign = make_campaign(5, state=FINALIZING, amd=AMD)
    c = contact_ids(campaign)
    # a person: HUMAN, pressed 1
    call(campaign, c[0], 1, [("answered", 0), ("amd-human", 2, {"cause": "HUMAN-800-800"}),
                             ("dtmf-1", 9), ("hangup", 20)], outcome="answered")
    # a machine hung up on, then the message left on the last machine attempt
    call(campaign, c[1], 1, [("answered", 0), ("amd-machine", 2, {"cause": "MAXWORDS-3-2"}),
                             ("hangup", 3)], final=False, outcome="machine")
    call(campaign, c[1], 2, [("answered", 0), ("amd-machine", 2, {"cause": "MAXWORDS-3-2"}),
                                 ("vm-left", 12), ("hangup", 13)], at=T0 + timedelta(hours=1),
         outcome="machine-message")
    # NOTSURE handled as a machine, no more attempts
    call(campaign, c[2], 1, [("answered", 0), ("amd-notsure-machine", 5, {"cause": "TOOLONG-5000"}),
                             ("hangup", 6)], outcome="machine")
    # a machine first, a person on the retry
    call(campaign, c[3], 1, [("answered", 0), ("amd-machine", 2, {"cause": "LONGGREETING-1500-1500"}),
                             ("hangup", 3)], final=False, outcome="machine")
    call(campaign, c[3], 2, [("answered", 0), ("amd-human", 2, {"cause": "HUMAN-800-800"}),
                             ("timeout", 20), ("hangup", 21)], at=T0 + timedelta(hours=1),
         outcome="answered")
    # busy
    call(campaign, c[4], 1, [("failed-busy", 3)], outcome="busy")
    return campaign, c


def test_results_report_and_csv_tell_people_machines_and_messages_apart(db):
    campaign, c = scenario()
    assert finalize(campaign.id, NOW) == "closed"
    r = {x.contact_id: x for x in ContactResult.select().where(ContactResult.campaign == campaign.id)}
    got = {cid: (r[cid].outcome, r[cid].attempts, r[cid].amd_verdict, r[cid].amd_cause)
           for cid in c}
    assert got == {
        c[0]: ("answered", 1, "HUMAN", "HUMAN-800-800"),
        c[1]: ("machine-message", 2, "MACHINE", "MAXWORDS-3-2"),
        c[2]: ("machine", 1, "NOTSURE", "TOOLONG-5000"),
        c[3]: ("answered", 2, "HUMAN", "HUMAN-800-800"),
        c[4]: ("busy", 1, "", ""),
    }
    report = CampaignReport.get(CampaignReport.campaign == campaign.id)
    data = report.data
    assert data["answered"] == 2 and data["attempted"] == 5 and data["answer_rate"] == 0.4
    assert data["outcomes"]["machine"] == 1 and data["outcomes"]["machine-message"] == 1
    assert data["amd"] == {"humans": 2, "machines": 1, "not_sure": 1, "hung_up": 0,
                           "messages_left": 1}
    assert sorted(report.charts) == ["amd", "answered_per_attempt", "attempts_histogram",
                                     "calls_per_hour", "digits", "outcomes"]
    assert Path(report.charts["amd"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.reader(Path(report.csv_path).read_text(encoding="utf-8").splitlines()))
    assert rows[0][-2:] == ["amd_verdict", "amd_cause"]
    assert [row[-2:] for row in rows[1:]] == [
        ["HUMAN", "HUMAN-800-800"], ["MACHINE", "MAXWORDS-3-2"], ["NOTSURE", "TOOLONG-5000"],
        ["HUMAN", "HUMAN-800-800"], ["", ""]]
