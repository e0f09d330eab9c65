"""``flask campaign ...`` through Flask's CLI runner on the real database and broker."""

from __future__ import annotations

import json

import pytest

from app.models import CallWindow, Campaign, CampaignContact, CampaignOption, ContactList


def write_csv(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("phone,name\n+12025550101,Ann\n+12025550102,Bob\n(202) 555-0103,Cy\n")
    return path


def test_it_creates_a_campaign_from_a_csv(app, sqlite_db, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=[
        "campaign", "create", "--name", "Reminder", "--csv", str(write_csv(tmp_path)),
        "--message-sound", "hello-world", "--option", "1=Confirm", "--option", "2=Cancel",
        "--windows", "mon-fri 09:00-12:00,14:00-18:00; sat 10:00-13:00",
        "--timezone", "Europe/Paris", "--max-channels", "5", "--attempts", "2",
        "--retry-busy", "60", "--ends", "2030-01-31",
    ])
    assert result.exit_code == 0, result.output
    assert "imported 3 of 3 rows" in result.output
    campaign = Campaign.get()
    assert (campaign.state, campaign.max_channels, campaign.max_attempts) == ("DRAFT", 5, 2)
    assert campaign.retry_busy_s == 60 and campaign.timezone == "Europe/Paris"
    assert campaign.ends_at.isoformat() == "2030-01-30T23:00:00+00:00"  # midnight Paris
    assert CallWindow.select().where(CallWindow.campaign == campaign.id).count() == 11
    assert [o.digit for o in CampaignOption.select().order_by(CampaignOption.digit)] == ["1", "2"]


def test_it_refuses_bad_options_and_windows_with_a_clear_error(app, sqlite_db, tmp_path):
    runner = app.test_cli_runner()
    base = ["campaign", "create", "--name", "x", "--csv", str(write_csv(tmp_path)),
            "--message-sound", "hello-world"]
    result = runner.invoke(args=base + ["--option", "12=Bad"])
    assert result.exit_code != 0 and "DIGIT=LABEL" in result.output
    result = runner.invoke(args=base + ["--windows", "someday 9-10"])
    assert result.exit_code != 0 and "unknown weekday" in result.output
    assert Campaign.select().count() == 0


def test_it_applies_the_campaign_rules_before_importing_anything(app, sqlite_db, tmp_path):
    runner = app.test_cli_runner()
    base = ["campaign", "create", "--name", "x", "--csv", str(write_csv(tmp_path)),
            "--message-sound", "hello-world"]
    result = runner.invoke(args=base + ["--option", "1=Yes", "--option", "1=No"])
    assert result.exit_code != 0 and "digit 1 is used by two options" in result.output
    result = runner.invoke(args=base + ["--option", "1=x:dance"])
    assert result.exit_code != 0 and "option 1: action 'dance' is not one of" in result.output
    result = runner.invoke(args=base + ["--timezone", "Mars/Olympus"])
    assert result.exit_code != 0 and "unknown time zone 'Mars/Olympus'" in result.output
    assert Campaign.select().count() == 0 and ContactList.select().count() == 0


def test_it_resumes_only_a_paused_campaign(app, sqlite_db):
    draft = Campaign.create(name="d")
    result = app.test_cli_runner().invoke(args=["campaign", "resume", str(draft.id)])
    assert result.exit_code != 0 and "cannot go from DRAFT to ACTIVE" in result.output
    assert Campaign.get_by_id(draft.id).state == "DRAFT"


def test_it_activates_pauses_resumes_finishes_and_shows(app, sqlite_db, broker, tmp_path):
    runner = app.test_cli_runner()
    runner.invoke(args=[
        "campaign", "create", "--name", "c", "--csv", str(write_csv(tmp_path)),
        "--message-sound", "hello-world", "--windows", "daily 00:00-24:00",
    ])
    campaign_id = Campaign.get().id
    result = runner.invoke(args=["campaign", "activate", str(campaign_id), "--no-reload"])
    assert result.exit_code == 0, result.output
    assert CampaignContact.select().count() == 3
    assert runner.invoke(args=["campaign", "pause", str(campaign_id)]).exit_code == 0
    assert Campaign.get_by_id(campaign_id).dialer_status == "paused"
    assert runner.invoke(args=["campaign", "resume", str(campaign_id)]).exit_code == 0
    result = runner.invoke(args=["campaign", "show", str(campaign_id), "--json", "--no-pbx"])
    info = json.loads(result.output)
    assert (info["state"], info["contacts"], info["live_calls_db"]) == ("ACTIVE", {"pending": 3}, 0)
    assert runner.invoke(args=["campaign", "finish", str(campaign_id)]).exit_code == 0
    result = runner.invoke(args=["campaign", "pause", str(campaign_id)])
    assert result.exit_code != 0 and "cannot go from FINISHED to PAUSED" in result.output
    text = runner.invoke(args=["campaign", "show", str(campaign_id), "--no-pbx"]).output
    assert "state:    FINISHED" in text and "pending 3" in text


@pytest.mark.parametrize("extra,message", [
    (["--retry-busy", "1000000000000"], "retry_busy_s must be between 0 and 2592000"),
    (["--max-channels", "0"], "max_channels must be between 1 and 10000"),
    (["--attempts", "99999999999999999999"], "max_attempts must be between 1 and 20"),
    (["--starts", "9999-12-31"], "starts_at must be between 2000-01-01 and 2100-01-01"),
    (["--ends", "0001-01-01", "--timezone", "Asia/Tokyo"], "ends_at must be between"),
    (["--ends", "next tuesday"], "ends_at: not an ISO date/time: 'next tuesday'"),
    (["--caller-id", '"Evil\r\nAction: Originate" <100>'], "caller_id"),
    (["--option", "0=Agent:transfer:Local/s@from-internal-admin"],
     "option 0: transfer target 'Local/s@from-internal-admin' is neither a phone number"),
])
def test_it_refuses_a_value_out_of_bounds_naming_the_field(app, sqlite_db, tmp_path, extra,
                                                             message):
    contact_list = ContactList.create(name="l", status="ready")
    result = app.test_cli_runner().invoke(args=[
        "campaign", "create", "--name", "x", "--list-id", str(contact_list.id),
        "--message-sound", "hello-world", *extra,
    ])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert message in result.output
    assert Campaign.select().count() == 0


@pytest.mark.parametrize("command", [
    ["activate", "9223372036854775808", "--no-reload"], ["pause", "9223372036854775808"],
    ["resume", "99999999999999999999"], ["finish", "99999999999999999999"],
    ["show", "9223372036854775808", "--no-pbx"],
])
def test_it_says_an_id_no_row_can_have_does_not_exist(app, sqlite_db, command):
    result = app.test_cli_runner().invoke(args=["campaign", *command])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"campaign {command[1]} does not exist" in result.output


def test_it_says_a_list_id_no_row_can_have_does_not_exist(app, sqlite_db):
    result = app.test_cli_runner().invoke(args=[
        "campaign", "create", "--name", "x", "--list-id", "9223372036854775808",
        "--message-sound", "hello-world",
    ])
    assert result.exit_code == 1
    assert "contact list 9223372036854775808 does not exist" in result.output


def test_it_sets_answering_machine_detection_with_the_domain_rule(app, sqlite_db, tmp_path):
    runner = app.test_cli_runner()
    base = ["campaign", "create", "--name", "x", "--csv", str(write_csv(tmp_path)),
            "--message-sound", "hello-world"]
    result = runner.invoke(args=base + ["--amd", "greeting_ms=0"])
    assert result.exit_code != 0 and "amd.greeting_ms must be between 100 and 10000" in result.output
    result = runner.invoke(args=base + ["--amd", "machine=message"])
    assert result.exit_code != 0 and "amd.message_sound: a voicemail message" in result.output
    result = runner.invoke(args=base + ["--amd", "greeting"])
    assert result.exit_code != 0 and "is not NAME=VALUE" in result.output
    assert Campaign.select().count() == 0
    result = runner.invoke(args=base + [
        "--amd", "machine=message", "--amd", "message_sound=vm-leave", "--amd", "notsure=machine",
        "--amd", "machine_retries=2", "--amd", "message_on_last_attempt=no"])
    assert result.exit_code == 0, result.output
    amd = Campaign.get().amd
    assert (amd["enabled"], amd["machine"], amd["notsure"], amd["machine_retries"],
            amd["message_on_last_attempt"], amd["initial_silence_ms"]) == (
        True, "message", "machine", 2, False, 2500)


def test_show_counts_the_amd_verdicts(app, sqlite_db):
    from tests.campaign_end_support import call, contact_ids, make_campaign

    campaign = make_campaign(2, state="ACTIVE", amd={"enabled": True})
    ids = contact_ids(campaign)
    call(campaign, ids[0], 1, [("answered", 0), ("amd-machine", 1, {"cause": "MAXWORDS-3-2"}),
                               ("hangup", 2)], outcome="machine")
    call(campaign, ids[1], 1, [("answered", 0), ("amd-human", 1), ("hangup", 9)],
         outcome="answered")
    result = app.test_cli_runner().invoke(args=["campaign", "show", str(campaign.id), "--no-pbx"])
    assert result.exit_code == 0, result.output
    assert "  amd:      humans 1, hung_up 0, machines 1, messages_left 0, not_sure 0" in result.output
    assert "machine 1" in result.output
