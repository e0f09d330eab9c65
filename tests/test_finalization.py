"""Finalization: per-contact results, report, CSV, charts, archive, purge, CLOSED — resumable."""

from __future__ import annotations

import csv
import hashlib
import io
import threading
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from app.finalization import STEPS, finalize, read_archive
from app.models import CLOSED, FINALIZING, CallEvent, CampaignReport, ContactResult
from tests.campaign_end_support import T0, call, contact_ids, make_campaign, working_rows

NOW = T0 + timedelta(hours=5)


def scenario():
    """Eight contacts, one per rule of the fold."""
    campaign = make_campaign(8, state=FINALIZING)
    c = contact_ids(campaign)
    # 1: answered, pressed 1, hung up after 42 s
    call(campaign, c[0], 1, [("answered", 0), ("dtmf-1", 10), ("hangup", 42, {"hangupcause": "16"})],
         outcome="answered")
    # 2: busy then no answer (last attempt wins)
    call(campaign, c[1], 1, [("failed-busy", 5)], final=False, outcome="busy")
    call(campaign, c[1], 2, [("failed-noanswer", 30)], at=T0 + timedelta(hours=1),
         outcome="noanswer")
    # 3: busy, then an attempt that never reported anything: lost
    call(campaign, c[2], 1, [("failed-busy", 5)], final=False, outcome="busy")
    call(campaign, c[2], 2, [], at=T0 + timedelta(hours=1), outcome="lost")
    # 4: never called
    # 5: skipped as do-not-call
    from app.models import FINAL, CampaignContact
    CampaignContact.update(state=FINAL, last_outcome="dnc").where(
        (CampaignContact.campaign == campaign.id) & (CampaignContact.contact == c[4])).execute()
    # 6: pressed 2 then 1: the last digit counts
    call(campaign, c[5], 1, [("answered", 0), ("dtmf-2", 5), ("dtmf-1", 8), ("hangup", 20)],
         outcome="answered")
    # 7: answered, its hangup never came (the call was still up at a forced end)
    call(campaign, c[6], 1, [("answered", 0)], final=False)
    # 8: hung up without any answer
    call(campaign, c[7], 1, [("hangup", 3)], outcome="failed")
    return campaign, c


def results(campaign_id):
    return {r.contact_id: r for r in ContactResult.select().where(ContactResult.campaign == campaign_id)}


def test_it_folds_each_contact_by_the_rules(db):
    campaign, c = scenario()
    finalize(campaign.id, NOW, stop_after="results")
    r = results(campaign.id)
    assert len(r) == 8
    got = {cid: (r[cid].outcome, r[cid].attempts, r[cid].digit, r[cid].digit_label) for cid in c}
    assert got == {
        c[0]: ("answered", 1, "1", "Confirm"),
        c[1]: ("noanswer", 2, "", ""),
        c[2]: ("lost", 2, "", ""),
        c[3]: ("not_called", 0, "", ""),
        c[4]: ("dnc", 0, "", ""),
        c[5]: ("answered", 1, "1", "Confirm"),
        c[6]: ("answered", 1, "", ""),
        c[7]: ("failed", 1, "", ""),
    }
    assert r[c[0]].answered_at == T0
    assert r[c[0]].talk_seconds == 42
    assert r[c[5]].talk_seconds == 20
    assert r[c[6]].talk_seconds is None
    assert r[c[0]].phone == "+33612340000"


def test_it_folds_contacts_with_no_event_and_ignores_events_of_strangers(db):
    campaign = make_campaign(3, state=FINALIZING)
    c = contact_ids(campaign)
    call(campaign, c[0], 1, [], outcome="lost")  # dialed, nothing ever came back
    call(campaign, c[2], 1, [("answered", 0), ("hangup", 9)], outcome="answered")
    # an event for a contact that is not in the campaign's list (events have no foreign key)
    CallEvent.create(campaign_id=campaign.id, contact_id=999_999, attempt=1, name="answered",
                     received_at=T0, uniqueid="x", data={})
    finalize(campaign.id, NOW, stop_after="results")
    r = results(campaign.id)
    got = {cid: (r[cid].outcome, r[cid].attempts, r[cid].talk_seconds) for cid in r}
    assert got == {c[0]: ("lost", 1, None), c[1]: ("not_called", 0, None), c[2]: ("answered", 1, 9)}


def test_it_reports_counts_digits_histogram_and_hours(db):
    campaign, c = scenario()
    finalize(campaign.id, NOW, stop_after="report")
    data = CampaignReport.get(CampaignReport.campaign == campaign.id).data
    assert data["contacts"] == 8
    assert data["attempted"] == 6
    assert data["answered"] == 3
    assert data["answer_rate"] == 0.5
    assert data["attempts_total"] == 8
    assert {k: v for k, v in data["outcomes"].items() if v} == {
        "answered": 3, "noanswer": 1, "lost": 1, "not_called": 1, "dnc": 1, "failed": 1}
    assert data["digits"] == [
        {"digit": "1", "label": "Confirm", "count": 2},
        {"digit": "2", "label": "Cancel", "count": 0},
    ]
    assert data["answered_without_digit"] == 1
    assert data["attempts_histogram"] == {"0": 2, "1": 4, "2": 2}
    assert data["answered_per_attempt"] == {"1": 3}
    # 09:00 UTC is 10:00 in Paris; the second round of calls came an hour later
    assert data["calls_per_hour"] == [
        {"hour": "2026-11-23T10:00+01:00", "calls": 5, "answered": 3},
        {"hour": "2026-11-23T11:00+01:00", "calls": 1, "answered": 0},
    ]
    assert data["events_total"] == 12


def test_it_closes_with_csv_charts_archive_and_empty_working_tables(db):
    campaign, c = scenario()
    assert finalize(campaign.id, NOW) == "closed"
    campaign = type(campaign).get_by_id(campaign.id)
    assert campaign.state == CLOSED and campaign.closed_at == NOW
    assert working_rows(campaign.id) == {"events": 0, "attempts": 0, "contacts": 0}
    report = CampaignReport.get(CampaignReport.campaign == campaign.id)
    assert report.step == "closed"

    text = Path(report.csv_path).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Phone", "name", "city", "outcome", "attempts", "digit", "digit_label",
                       "answered_at", "talk_seconds", "last_attempt_at", "amd_verdict",
                       "amd_cause"]
    assert len(rows) == 1 + 8
    assert rows[1] == ["+33612340000", "Nom 0 é", "Paris", "answered", "1", "1", "Confirm",
                       "2026-11-23 10:00:00+01:00", "42", "2026-11-23 10:00:42+01:00", "", ""]
    assert [r[3] for r in rows[1:]] == ["answered", "noanswer", "lost", "not_called", "dnc",
                                        "answered", "answered", "failed"]

    assert sorted(report.charts) == ["answered_per_attempt", "attempts_histogram", "calls_per_hour",
                                    "digits", "outcomes"]
    for path in report.charts.values():
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert report.archive_path.endswith("archive.sqlite3.gz")
    events = read_archive(report.archive_path, "call_event")
    attempts = read_archive(report.archive_path, "call_attempt")
    assert len(events) == 12 and len(attempts) == 8
    assert {e["name"] for e in events} >= {"answered", "dtmf-1", "hangup", "failed-busy"}
    assert any(e["data"] == '{"hangupcause":"16"}' for e in events)
    # results and report stay after close
    assert len(results(campaign.id)) == 8


def test_it_archives_odd_text_nulls_and_times_exactly_on_both_engines(db):
    campaign = make_campaign(1, state=FINALIZING)
    [cid] = contact_ids(campaign)
    odd = "Local/tab\there;2 back\\slash\nnew line \\N é"
    call(campaign, cid, 1, [("answered", 0), ("hangup", 7.25, {"hangupcause": "16\\x"})],
         outcome="answered")
    CallEvent.update(channel=odd).where(CallEvent.name == "answered").execute()
    assert finalize(campaign.id, NOW) == "closed"
    report = CampaignReport.get(CampaignReport.campaign == campaign.id)
    events = {e["name"]: e for e in read_archive(report.archive_path, "call_event")}
    assert events["answered"]["channel"] == odd
    assert events["answered"]["attempt"] == 1 and events["answered"]["contact_id"] == cid
    assert events["answered"]["received_at"] == "2026-11-23 09:00:00"
    assert events["hangup"]["received_at"] == "2026-11-23 09:00:07.250000"
    assert events["hangup"]["data"] == '{"hangupcause":"16\\\\x"}'
    [attempt] = read_archive(report.archive_path, "call_attempt")
    assert attempt["answered_at"] is None and attempt["number"] == 1


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_it_redoes_an_interrupted_step_with_the_same_bytes(db):
    campaign, _ = scenario()
    assert finalize(campaign.id, NOW, stop_after="archive") == "archive"
    report = CampaignReport.get(CampaignReport.campaign == campaign.id)
    first = {name: sha(p) for name, p in
             {"csv": report.csv_path, "archive": report.archive_path, **report.charts}.items()}
    # as if the worker died before the archive step and the csv step committed
    CampaignReport.update(step="report").where(CampaignReport.campaign == campaign.id).execute()
    assert finalize(campaign.id, NOW + timedelta(minutes=3)) == "closed"
    report = CampaignReport.get(CampaignReport.campaign == campaign.id)
    again = {name: sha(p) for name, p in
             {"csv": report.csv_path, "archive": report.archive_path, **report.charts}.items()}
    assert again == first
    assert len(results(campaign.id)) == 8


def test_it_resumes_after_each_step_and_does_each_once(db):
    campaign, _ = scenario()
    for step in STEPS:
        assert finalize(campaign.id, NOW, stop_after=step) == step
    assert finalize(campaign.id, NOW) == "closed"  # a redelivery after the end: a no-op
    assert len(results(campaign.id)) == 8


def test_it_lets_two_racing_finalizers_do_each_step_once(sqlite_db):
    campaign, _ = scenario()
    errors, done = [], []

    def run():
        from app.db import database
        try:
            with database.connection_context():
                done.append(finalize(campaign.id, NOW))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert done == ["closed", "closed"]
    assert len(results(campaign.id)) == 8
    data = CampaignReport.get(CampaignReport.campaign == campaign.id).data
    assert data["contacts"] == 8 and data["answered"] == 3


def test_it_leaves_a_campaign_that_is_not_finalizing_alone(db):
    campaign = make_campaign(2, state="DRAINING")
    assert finalize(campaign.id, NOW) == ""
    assert CampaignReport.select().count() == 0
    assert working_rows(campaign.id)["contacts"] == 2


@pytest.mark.parametrize("n", [1200])
def test_it_pages_through_more_rows_than_one_page(db, n, monkeypatch):
    import app.finalization.archive
    import app.reports

    monkeypatch.setattr(app.reports, "PAGE", 100)
    monkeypatch.setattr(app.finalization.archive, "PAGE", 100)
    campaign = make_campaign(n, state=FINALIZING)
    ids = contact_ids(campaign)
    for i, cid in enumerate(ids[:300]):
        call(campaign, cid, 1, [("answered", i), ("hangup", i + 5)], outcome="answered")
    assert finalize(campaign.id, NOW) == "closed"
    report = CampaignReport.get(CampaignReport.campaign == campaign.id)
    rows = list(csv.reader(io.StringIO(Path(report.csv_path).read_text(encoding="utf-8"))))
    assert len(rows) == n + 1
    assert [r[0] for r in rows[1:]] == [f"+3361234{i:04d}" for i in range(n)]
    assert len(read_archive(report.archive_path, "call_event")) == 600


def test_it_archives_events_that_arrive_after_the_close(db):
    from app.finalization import archive_late_events, campaigns_with_late_events
    from app.models import CallEvent

    campaign, c = scenario()
    assert finalize(campaign.id, NOW) == "closed"
    assert campaigns_with_late_events() == []
    # the AGI daemon replays its journal after the database came back
    CallEvent.create(campaign_id=campaign.id, contact_id=c[6], attempt=1, name="hangup",
                     received_at=T0 + timedelta(minutes=2), data={"hangupcause": "16"})
    assert campaigns_with_late_events() == [campaign.id]
    assert archive_late_events(campaign.id, NOW + timedelta(hours=1)) == 1
    assert working_rows(campaign.id)["events"] == 0
    late = CampaignReport.get(CampaignReport.campaign == campaign.id).data["late_events"]
    assert [entry["events"] for entry in late] == [1]
    with zipfile.ZipFile(late[0]["path"]) as zf:
        rows = list(csv.DictReader(io.TextIOWrapper(zf.open("events.csv"), encoding="utf-8")))
    assert [(r["contact_id"], r["name"]) for r in rows] == [(str(c[6]), "hangup")]
    assert campaigns_with_late_events() == []


def pbx_contexts(sim):
    return set(sim.stats()["dialplan"]["contexts"])


def test_it_takes_the_closed_campaigns_context_out_of_the_dialplan_and_the_pbx(db):
    from app.config import get_settings
    from app.models import ACTIVE, DRAINING, Campaign
    from app.pbx.dialplan import write_campaign_dialplans
    from dialing_support import SimPbx

    live = make_campaign(1, state=ACTIVE)
    ending = make_campaign(1, state=DRAINING)
    sim = SimPbx()
    try:
        write_campaign_dialplans(sim.ami)
        assert {f"callcast-campaign-{live.id}", f"callcast-campaign-{ending.id}"} <= pbx_contexts(sim)
        Campaign.update(state=FINALIZING).where(Campaign.id == ending.id).execute()

        assert finalize(ending.id, NOW, ami=sim.ami) == "closed"

        assert f"callcast-campaign-{ending.id}" not in pbx_contexts(sim)
        assert f"callcast-campaign-{live.id}" in pbx_contexts(sim)
        text = Path(get_settings().dialplan_path).read_text()
        assert f"[callcast-campaign-{ending.id}]" not in text
    finally:
        sim.close()


def test_it_closes_even_when_the_pbx_cannot_reload_its_dialplan(db):
    from app.config import get_settings
    from app.models import Campaign
    from app.pbx.ami import AmiClient
    from tests.waiting import free_port

    ending = make_campaign(1, state=FINALIZING)
    Path(get_settings().dialplan_path).parent.mkdir(parents=True, exist_ok=True)
    Path(get_settings().dialplan_path).write_text(f"[callcast-campaign-{ending.id}]\n")
    nobody = AmiClient("127.0.0.1", free_port(), "callcast", "callcast", timeout=0.5,
                       backoff_max=0.2, name="down")
    try:
        assert finalize(ending.id, NOW, ami=nobody) == "closed"
    finally:
        nobody.close()
    assert Campaign.get_by_id(ending.id).state == CLOSED
    # the file is rewritten all the same: the next reload loads it
    assert f"[callcast-campaign-{ending.id}]" not in Path(get_settings().dialplan_path).read_text()
