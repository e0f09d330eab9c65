"""Holidays: per campaign and global, in the campaign's zone (across a DST change), with the
status naming them; the CLI and the console go through the same functions."""

from datetime import date, datetime, time, timezone

import pytest

from app.campaigns import activation
from app.errors import NotFoundError, ValidationError
from app.holiday_tables import Holiday
from app.holidays import add_holiday, campaign_opening, list_holidays, remove_holiday
from app.lifecycle import campaigns_without_window
from app.models import Campaign
from app.windows import Span
from tests.admin.conftest import client_as
from tests.dialing_support import SimPbx, make_campaign

UTC = timezone.utc
NOW = datetime(2026, 10, 1, tzinfo=UTC)
ALL_DAY = [Span(d, time(0), time(0)) for d in range(7)]


def at(*args):
    return datetime(*args, tzinfo=UTC)


def test_a_holiday_on_the_dst_day_lasts_the_local_25_hours(db):
    # New York falls back on Sunday 2026-11-01: that local day runs 04:00Z..05:00Z next day
    campaign = make_campaign(["+12125550001"], windows=ALL_DAY, timezone="America/New_York")
    add_holiday("2026-11-01", "Fall back day", NOW, campaign.id)
    assert campaign_opening(campaign, at(2026, 11, 1, 3, 59)).open  # Oct 31, 23:59 EDT
    for moment in (at(2026, 11, 1, 4, 0), at(2026, 11, 1, 16), at(2026, 11, 2, 4, 30)):
        found = campaign_opening(campaign, moment)
        assert (found.open, found.next_start) == (False, at(2026, 11, 2, 5, 0)), moment
        assert found.reason == "holiday Fall back day (2026-11-01)"
    assert campaign_opening(campaign, at(2026, 11, 2, 5, 0)).open  # Nov 2, 00:00 EST


def test_a_global_holiday_is_each_campaigns_own_local_date(db):
    new_york = make_campaign(["+12125550001"], windows=ALL_DAY, timezone="America/New_York")
    paris = make_campaign(["+33142000000"], windows=ALL_DAY, timezone="Europe/Paris")
    add_holiday(date(2026, 12, 25), "Christmas", NOW)
    # 23:30Z on the 24th: Christmas in Paris already, not yet in New York
    assert not campaign_opening(paris, at(2026, 12, 24, 23, 30)).open
    assert campaign_opening(new_york, at(2026, 12, 24, 23, 30)).open
    assert campaign_opening(paris, at(2026, 12, 25, 23, 0)).open  # the 26th in Paris
    assert not campaign_opening(new_york, at(2026, 12, 25, 23, 0)).open


def test_an_open_window_closes_at_the_midnight_a_holiday_starts(db):
    campaign = make_campaign(["+12125550001"], timezone="America/New_York",
                             windows=[Span(d, time(22), time(2)) for d in range(7)])
    add_holiday("2026-12-25", "Christmas", NOW, campaign.id)
    found = campaign_opening(campaign, at(2026, 12, 25, 3, 30))  # 22:30 EST on the 24th
    assert found.open and found.closes_at == at(2026, 12, 25, 5, 0)
    found = campaign_opening(campaign, at(2026, 12, 25, 5, 30))  # 00:30 on the 25th
    assert not found.open and found.next_start == at(2026, 12, 26, 5, 0)  # Dec 26 00:00 EST


def test_a_campaign_whose_last_windows_are_holidays_is_over(db):
    campaign = make_campaign(["+12125550001"], windows=ALL_DAY, timezone="UTC",
                             ends_at=at(2026, 12, 27))
    activation.activate(campaign.id, at(2026, 12, 20), ami=None)
    add_holiday("2026-12-26", "Boxing day", NOW, campaign.id)
    assert campaigns_without_window(at(2026, 12, 25, 12)) == []
    add_holiday("2026-12-25", "Christmas", NOW)
    assert campaigns_without_window(at(2026, 12, 25, 12)) == [campaign.id]


def test_holidays_are_refused_naming_the_field_and_listed_by_scope(db):
    campaign = make_campaign(["+12125550001"])
    for day, name, message in [("2026-13-01", "x", "day: not a date"),
                               ("1999-12-31", "x", "day must be between"),
                               ("2026-12-25", "", "name is required"),
                               ("2026-12-25", "a\r\nb", "name must be one line"),
                               ("2026-12-25", "x" * 101, "name is longer than 100")]:
        with pytest.raises(ValidationError, match=message):
            add_holiday(day, name, NOW)
    with pytest.raises(NotFoundError):
        add_holiday("2026-12-25", "x", NOW, 10**30)
    first = add_holiday("2026-12-25", "Christmas", NOW)
    with pytest.raises(ValidationError, match="already a holiday of every campaign"):
        add_holiday("2026-12-25", "again", NOW)
    own = add_holiday("2026-12-25", "Company day", NOW, campaign.id)  # another scope
    assert [h.id for h in list_holidays()] == [first.id]
    assert [h.id for h in list_holidays(campaign.id)] == [first.id, own.id]
    remove_holiday(first.id)
    with pytest.raises(NotFoundError):
        remove_holiday(first.id)
    assert [h.id for h in list_holidays(campaign.id)] == [own.id]


def test_the_tick_dials_nothing_on_a_holiday_and_its_status_names_it(db):
    sim = SimPbx()
    try:
        spans = [Span(d, time(9), time(17)) for d in range(7)]
        campaign = make_campaign(["+12125550001"], windows=spans, timezone="America/Chicago")
        activation.activate(campaign.id, NOW, ami=sim.ami)
        add_holiday("2026-11-26", "Thanksgiving", NOW, campaign.id)
        from app.dialer.tick import run_tick

        result = run_tick(campaign.id, at(2026, 11, 26, 16), sim.ami)  # 10:00 CST
        assert result.originated == 0 and sim.stats()["originates"] == 0
        assert result.status == ("not dialing: holiday Thanksgiving (2026-11-26); "
                                 "next window 2026-11-27 15:00:00Z")
        assert Campaign.get_by_id(campaign.id).dialer_status == result.status
        assert run_tick(campaign.id, at(2026, 11, 27, 15), sim.ami).originated == 1
    finally:
        sim.close()


def test_the_cli_adds_lists_and_removes_holidays(app, db):
    campaign = make_campaign(["+12125550001"])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["holiday", "add", "2026-12-25", "Christmas"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["holiday", "add", "2026-07-04", "Picnic", "--campaign",
                                 str(campaign.id)])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["holiday", "list", "--campaign", str(campaign.id)]).output
    assert "2026-07-04\tcampaign" in listed and "2026-12-25\tall\tChristmas" in listed
    assert "Picnic" not in runner.invoke(args=["holiday", "list"]).output
    result = runner.invoke(args=["holiday", "add", "25/12/2026", "x"])
    assert result.exit_code != 0 and "day: not a date" in result.output
    holiday = Holiday.get(Holiday.name == "Christmas")
    assert runner.invoke(args=["holiday", "remove", str(holiday.id)]).exit_code == 0
    result = runner.invoke(args=["holiday", "remove", str(holiday.id)])
    assert result.exit_code != 0 and "does not exist" in result.output


def test_the_console_adds_and_removes_holidays(app, db, users):
    app.config["WTF_CSRF_ENABLED"] = False
    operator = client_as(app, "operator")
    response = operator.post("/admin/holiday/new/", data={"day": "2026-12-25", "name": "Xmas"})
    assert response.status_code == 302
    holiday = Holiday.get()
    assert (holiday.day, holiday.campaign_id) == (date(2026, 12, 25), None)
    page = operator.post("/admin/holiday/new/", data={"day": "2026-12-25", "name": "Again"},
                         follow_redirects=True).get_data(as_text=True)
    assert "already a holiday of every campaign" in page and Holiday.select().count() == 1
    assert "Xmas" in operator.get("/admin/holiday/").get_data(as_text=True)
    viewer = client_as(app, "viewer")
    assert viewer.post("/admin/holiday/delete/", data={"id": holiday.id}).status_code in (302, 403)
    assert Holiday.select().count() == 1
    operator.post("/admin/holiday/delete/", data={"id": holiday.id})
    assert Holiday.select().count() == 0


def test_the_api_adds_lists_and_removes_holidays(app, db, api, reader):
    campaign = make_campaign(["+12125550001"])
    response = api.post("/api/v1/holidays/", json={"day": "2026-12-25", "name": "Christmas"})
    assert response.status_code == 201, response.get_json()
    holiday_id = response.get_json()["id"]
    response = api.post("/api/v1/holidays/", json={"day": "2026-07-04", "name": "Picnic",
                                                   "campaign_id": campaign.id})
    assert response.status_code == 201 and response.get_json()["campaign_id"] == campaign.id
    assert [h["name"] for h in reader.get("/api/v1/holidays/").get_json()] == ["Christmas"]
    listed = reader.get(f"/api/v1/holidays/?campaign_id={campaign.id}").get_json()
    assert [h["name"] for h in listed] == ["Picnic", "Christmas"]
    again = api.post("/api/v1/holidays/", json={"day": "2026-12-25", "name": "x"})
    assert again.status_code == 422 and "already a holiday" in again.get_json()["error"]["message"]
    assert api.post("/api/v1/holidays/", json={"day": "2026-12-26", "name": "x",
                                               "campaign_id": 999999}).status_code == 404
    assert reader.get(f"/api/v1/holidays/{holiday_id}").get_json()["name"] == "Christmas"
    assert reader.delete(f"/api/v1/holidays/{holiday_id}").status_code == 403
    assert api.delete(f"/api/v1/holidays/{holiday_id}").status_code == 204
    assert api.delete(f"/api/v1/holidays/{holiday_id}").status_code == 404
    assert reader.get(f"/api/v1/holidays/{holiday_id}").status_code == 404
