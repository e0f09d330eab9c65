"""Campaign pages: create with inline options and windows, locks, actions, live view, report."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timezone

import pytest

from app.web.admin.stats import live_view
from app.finalization import finalize
from app.models import (
    ACTIVE,
    CLOSED,
    DRAFT,
    FINALIZING,
    ORIGINATING,
    PAUSED,
    UP,
    CallAttempt,
    CallWindow,
    Campaign,
    CampaignOption,
    ContactList,
)
from tests.campaign_end_support import T0, call, contact_ids, make_campaign
from tests.write_lock_support import write_lock_held

from .conftest import flashes


def campaign_form(**changes):
    data = {
        "name": "Spring reminders",
        "timezone": "Europe/Paris",
        "starts_at": "2026-12-01 08:00:00",
        "ends_at": "2026-12-31 20:00:00",
        "max_channels": "5",
        "max_attempts": "3",
        "weight": "1",
        "retry_on": ["busy", "noanswer"],
        "retry_busy_s": "300",
        "retry_noanswer_s": "600",
        "retry_failed_s": "900",
        "ring_timeout_s": "30",
        "max_call_s": "300",
        "caller_id": "",
        "message_sound": "hello-world",
        "digit_timeout_s": "5",
        "message_repeats": "2",
        "options-0-digit": "1",
        "options-0-label": "Confirm",
        "options-0-action": "record",
        "options-0-target": "",
        "options-1-digit": "9",
        "options-1-label": "Talk to us",
        "options-1-action": "transfer",
        "options-1-target": "+12025550199",
        "windows-0-weekday": "0",
        "windows-0-starts": "09:00",
        "windows-0-ends": "12:30",
        "windows-1-weekday": "4",
        "windows-1-starts": "14:00",
        "windows-1-ends": "18:00",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_it_creates_a_campaign_with_inline_options_and_windows(no_csrf, operator_client, users):
    ready = ContactList.create(name="ready list", status="ready", rows_imported=3)
    response = operator_client.post(
        "/admin/campaign/new/", data=campaign_form(contact_list=str(ready.id))
    )
    assert response.status_code == 302, flashes(response)
    campaign = Campaign.get(Campaign.name == "Spring reminders")
    assert campaign.state == DRAFT
    assert campaign.contact_list_id == ready.id
    assert campaign.retry_on == "busy,noanswer"
    assert campaign.created_by_id == users["operator"].id
    # typed in Paris time, stored in UTC
    assert campaign.starts_at == datetime(2026, 12, 1, 7, 0, tzinfo=timezone.utc)
    options = [
        (o.digit, o.label, o.action, o.target)
        for o in CampaignOption.select().where(CampaignOption.campaign == campaign.id).order_by(CampaignOption.digit)
    ]
    assert options == [("1", "Confirm", "record", ""), ("9", "Talk to us", "transfer", "+12025550199")]
    windows = [
        (w.weekday, w.starts, w.ends)
        for w in CallWindow.select().where(CallWindow.campaign == campaign.id).order_by(CallWindow.weekday)
    ]
    assert windows == [(0, time(9, 0), time(12, 30)), (4, time(14, 0), time(18, 0))]
    # the edit form shows the local times back
    page = operator_client.get(f"/admin/campaign/edit/?id={campaign.id}").get_data(as_text=True)
    assert 'value="2026-12-01 08:00:00"' in page


def test_it_accepts_windows_past_midnight_and_all_day(no_csrf, operator_client):
    form = campaign_form(**{"windows-0-starts": "22:00", "windows-0-ends": "02:00",
                            "windows-1-starts": "00:00", "windows-1-ends": "00:00"})
    response = operator_client.post("/admin/campaign/new/", data=form)
    assert response.status_code == 302, flashes(response)
    spans = [(w.starts, w.ends) for w in CallWindow.select().order_by(CallWindow.weekday)]
    assert spans == [(time(22, 0), time(2, 0)), (time(0, 0), time(0, 0))]


def test_it_offers_only_ready_lists(no_csrf, operator_client):
    ContactList.create(name="still importing", status="importing")
    ContactList.create(name="good one", status="ready")
    page = operator_client.get("/admin/campaign/new/").get_data(as_text=True)
    assert "good one" in page and "still importing" not in page


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"options-1-digit": "1"}, "digit 1 is used by two options"),
        ({"windows-0-ends": ""}, "This field is required"),
        ({"windows-0-starts": "9h"}, "not a time like 09:00"),
        ({"options-1-target": ""}, "a transfer needs a target"),
        ({"options-1-target": "Local/s@from-internal-admin"}, "is neither a phone number"),
        ({"options-1-target": "IAX2/user:secret@198.51.100.7/100"}, "is neither a phone number"),
        ({"message_sound": ""}, "choose a stock sound, upload a message file or write a template"),
        ({"ends_at": "2026-11-01 00:00:00"}, "the end must come after the start"),
        ({"retry_busy_s": "1000000000000"}, "Number must be between 0 and 2592000"),
        ({"max_channels": "99999999999999999999"}, "Number must be between 1 and 1000"),
        ({"starts_at": "9999-12-31 00:00:00"},
         "starts_at must be between 2000-01-01 and 2100-01-01 (UTC)"),
        # a valid local time that is past the bounds once in UTC: the domain says so
        ({"timezone": "America/New_York", "ends_at": "2099-12-31 23:00:00"},
         "ends_at must be between 2000-01-01 and 2100-01-01 (UTC)"),
        ({"caller_id": '"Evil\r\nAction: Originate" <100>'},
         "or a number (digits with an optional +, at most 20"),
        ({"name": "Spring\r\nreminders"}, "name must be one line of printable characters"),
        ({"options-0-label": "Yes\nNo"}, "the label must be one line of printable characters"),
    ],
)
def test_it_refuses_a_bad_campaign_and_saves_nothing(no_csrf, operator_client, changes, message):
    response = operator_client.post("/admin/campaign/new/", data=campaign_form(**changes))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert Campaign.select().count() == 0
    assert CampaignOption.select().count() == 0
    assert CallWindow.select().count() == 0


def test_it_locks_what_a_running_campaign_was_built_from(no_csrf, operator_client):
    first = ContactList.create(name="first", status="ready")
    other = ContactList.create(name="other", status="ready")
    operator_client.post("/admin/campaign/new/", data=campaign_form(contact_list=str(first.id)))
    campaign = Campaign.get()
    Campaign.update(state=ACTIVE).where(Campaign.id == campaign.id).execute()
    page = operator_client.get(f"/admin/campaign/edit/?id={campaign.id}").get_data(as_text=True)
    assert "locked" in page and 'name="contact_list"' not in page and 'name="options-0-digit"' not in page
    response = operator_client.post(
        f"/admin/campaign/edit/?id={campaign.id}",
        data=campaign_form(
            name="renamed", max_channels="8", contact_list=str(other.id),
            message_sound="tt-monkeys", **{"options-0-label": "Hacked", "timezone": "UTC"},
        ),
    )
    assert response.status_code == 302, flashes(response)
    stored = Campaign.get_by_id(campaign.id)
    assert (stored.name, stored.max_channels) == ("renamed", 8)  # safe fields change
    assert stored.contact_list_id == first.id
    assert stored.message_sound == "hello-world"
    assert stored.timezone == "Europe/Paris"
    assert CampaignOption.get(CampaignOption.digit == "1").label == "Confirm"


def test_it_refuses_to_edit_a_closed_campaign(no_csrf, operator_client):
    operator_client.post("/admin/campaign/new/", data=campaign_form())
    campaign = Campaign.get()
    Campaign.update(state=CLOSED).where(Campaign.id == campaign.id).execute()
    response = operator_client.post(f"/admin/campaign/edit/?id={campaign.id}", data=campaign_form(name="late"))
    assert "can no longer change" in " ".join(flashes(response))
    assert Campaign.get_by_id(campaign.id).name == "Spring reminders"


@pytest.mark.parametrize(
    "state,op,expected",
    [
        (DRAFT, "pause", "Pause refused: campaign {id}: cannot go from DRAFT to PAUSED (Pause works on ACTIVE campaigns)"),
        (DRAFT, "resume", "Resume refused: campaign {id}: cannot go from DRAFT to ACTIVE (Resume works on PAUSED campaigns)"),
        (ACTIVE, "activate", "Activate refused: campaign {id}: cannot go from ACTIVE to ACTIVE"),
        (CLOSED, "finish", "cannot go from CLOSED to FINISHED"),
    ],
)
def test_it_flashes_an_illegal_transition_by_name(no_csrf, operator_client, state, op, expected):
    campaign = Campaign.create(name="c", state=state)
    response = operator_client.post(f"/admin/campaign/act/{campaign.id}/{op}", follow_redirects=True)
    assert expected.format(id=campaign.id) in " ".join(flashes(response))
    assert Campaign.get_by_id(campaign.id).state == state


def test_it_flashes_what_a_draft_lacks_to_activate(no_csrf, operator_client):
    campaign = Campaign.create(name="c", message_sound="hello-world")
    response = operator_client.post(f"/admin/campaign/act/{campaign.id}/activate", follow_redirects=True)
    assert f"campaign {campaign.id} cannot be activated: no contact list" in " ".join(flashes(response))
    assert Campaign.get_by_id(campaign.id).state == DRAFT


def test_it_runs_bulk_actions_one_by_one_and_names_each_refusal(no_csrf, operator_client):
    active = Campaign.create(name="a", state=ACTIVE)
    other = Campaign.create(name="b", state=ACTIVE)
    draft = Campaign.create(name="d", state=DRAFT)
    response = operator_client.post(
        "/admin/campaign/action/",
        data={"action": "pause", "rowid": [str(active.id), str(other.id), str(draft.id)]},
        follow_redirects=True,
    )
    text = " ".join(flashes(response))
    assert "Pause: 2 campaign(s)." in text
    assert f"campaign {draft.id}: cannot go from DRAFT to PAUSED" in text
    assert [Campaign.get_by_id(c.id).state for c in (active, other, draft)] == [PAUSED, PAUSED, DRAFT]
    operator_client.post("/admin/campaign/action/", data={"action": "finish", "rowid": [str(active.id)]})
    assert Campaign.get_by_id(active.id).state == "FINISHED"


def test_it_shows_live_progress_calls_outcomes_and_digits(db, no_csrf, viewer_client):
    campaign = make_campaign(6, state=ACTIVE, max_channels=4)
    ids = contact_ids(campaign)
    call(campaign, ids[0], 1, [("answered", 1), ("dtmf-1", 5), ("hangup", 9)], outcome="answered")
    CallAttempt.update(digit="1").where(CallAttempt.contact == ids[0]).execute()
    call(campaign, ids[1], 1, [("failed-busy", 2)], outcome="busy")
    call(campaign, ids[2], 1, [("answered", 1)], final=False, state=UP)
    call(campaign, ids[3], 1, [], final=False, state=ORIGINATING)
    Campaign.update(dialer_status="channel cap reached").where(Campaign.id == campaign.id).execute()

    data = viewer_client.get(f"/admin/campaign/live/{campaign.id}.json").get_json()
    assert data["contacts_final"] == 2 and data["contacts_total"] == 6
    assert data["percent"] == pytest.approx(33.3)
    assert (data["calls_up"], data["max_channels"], data["attempts"]) == (2, 4, 4)
    assert data["dialer_status"] == "channel cap reached"
    assert data["outcomes"] == {"answered": 1, "busy": 1}
    assert data["digits"] == [
        {"digit": "1", "label": "Confirm", "count": 1},
        {"digit": "2", "label": "Cancel", "count": 0},
    ]
    page = viewer_client.get(f"/admin/campaign/details/?id={campaign.id}").get_data(as_text=True)
    assert 'id="live-bar" style="width: 33.3%"' in page
    assert "channel cap reached" in page
    assert 'id="op-pause"' not in page  # a viewer gets no buttons
    attempts = viewer_client.get(f"/admin/attempt/?flt0_0={campaign.id}").get_data(as_text=True)
    assert f"cc-{campaign.id}-{ids[0]}-1" in attempts
    events = viewer_client.get(f"/admin/event/?flt0_0={campaign.id}").get_data(as_text=True)
    assert "dtmf-1" in events
    listing = viewer_client.get("/admin/campaign/").get_data(as_text=True)
    assert "2 / 6" in listing


def test_it_shows_the_report_with_charts_and_serves_the_csv(db, no_csrf, viewer_client, tmp_path):
    campaign = make_campaign(3, state=FINALIZING)
    ids = contact_ids(campaign)
    call(campaign, ids[0], 1, [("answered", 1), ("dtmf-2", 4), ("hangup", 8)], outcome="answered")
    call(campaign, ids[1], 1, [("failed-noanswer", 30)], outcome="noanswer")
    finalize(campaign.id, T0)
    assert Campaign.get_by_id(campaign.id).state == CLOSED

    live = live_view(campaign.id)
    assert live["state"] == CLOSED and live["report"] is True
    page = viewer_client.get(f"/admin/campaign/details/?id={campaign.id}").get_data(as_text=True)
    assert 'id="report-download"' in page
    charts = [part.split('"')[0] for part in page.split(f"/admin/campaign/report/{campaign.id}/chart/")[1:]]
    assert charts, "no chart on the report page"
    for name in charts:
        image = viewer_client.get(f"/admin/campaign/report/{campaign.id}/chart/{name}")
        assert image.status_code == 200 and image.data[:8] == b"\x89PNG\r\n\x1a\n"
    download = viewer_client.get(f"/admin/campaign/report/{campaign.id}.csv")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 1 + 3


def test_it_serves_report_files_only_from_the_export_folder(db, no_csrf, viewer_client):
    from app.models import CampaignReport

    campaign = Campaign.create(name="c", state=CLOSED)
    CampaignReport.create(campaign=campaign.id, csv_path="/etc/passwd", charts={"x": "/etc/hostname"})
    assert viewer_client.get(f"/admin/campaign/report/{campaign.id}.csv").status_code == 404
    assert viewer_client.get(f"/admin/campaign/report/{campaign.id}/chart/x").status_code == 404


def test_it_saves_the_form_while_another_writer_holds_the_lock(db, db_engine, no_csrf,
                                                               operator_client):
    ready = ContactList.create(name="ready list", status="ready", rows_imported=3)
    with write_lock_held(db, db_engine) as released:
        # the save reads (the list exists?) before it writes
        response = operator_client.post("/admin/campaign/new/",
                                        data=campaign_form(contact_list=str(ready.id)))
        assert released.is_set()  # it waited its turn
    assert response.status_code == 302, flashes(response)
    assert Campaign.get().name == "Spring reminders"
