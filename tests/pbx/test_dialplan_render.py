"""The dialplan generator: exact text for representative campaigns, refusal of unsafe
input, atomic writes, and acceptance by pbxsim's dialplan loader over AMI."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from app.calltokens import call_token
from app.config import load_settings
from app.models import (
    ACTIVE,
    CLOSED,
    DRAFT,
    DRAINING,
    FINISHED,
    PAUSED,
    Campaign,
    CampaignOption,
)
from app.pbx.ami import AmiClient
from app.pbx.dialplan import (
    CampaignSpec,
    OptionSpec,
    campaign_spec,
    render_campaign,
    render_dialplan,
    render_report_context,
    write_campaign_dialplans,
    write_dialplan,
)
from app.pbx.errors import AmiActionError, DialplanError
from app.pbx.originate import originate_args
from pbxsim import dialplan as simdp

GOLDEN = Path(__file__).parent / "golden"
SETTINGS = load_settings({
    "AGI_HOST": "127.0.0.1", "AGI_PORT": "4573", "AGI_FALLBACK_HOST": "10.0.0.2",
    "AGI_FALLBACK_PORT": "4574", "MEDIA_DIR": "/var/lib/callcast/media",
    "DIAL_TEMPLATE": "Local/{number}@pstn", "TRANSFER_CONTEXTS": "office",
})


def every_action_campaign():
    return CampaignSpec(
        id=12, name="Spring survey", message_file="campaign-12/message.wav",
        digit_timeout_s=4, message_repeats=3, ring_timeout_s=25,
        options=[
            OptionSpec("#", "Agent", "transfer", "200@office"),
            OptionSpec("1", "Yes"),
            OptionSpec("9", "Again", "repeat"),
            OptionSpec("*", "Other number", "transfer", "+15550100"),
        ],
    )


def test_it_renders_a_campaign_with_every_action_exactly():
    text = render_campaign(every_action_campaign(), None, SETTINGS)
    assert text == (GOLDEN / "campaign-12.conf").read_text()
    # the points the spec insists on, spelled out
    assert " same => n,Read(CC_DIGIT,/var/lib/callcast/media/campaign-12/message,1,t,3,4)" in text
    assert "Playback" not in text and "Background" not in text  # Read plays and listens
    assert "exten => #,1,Gosub(callcast-report,s,1(dtmf-#))" in text
    assert " same => n,Dial(Local/+15550100@pstn,25)" in text
    assert " same => n,Dial(Local/200@office,25)" in text


def test_it_renders_the_report_subroutine_with_fallback_and_user_event():
    text = render_report_context(SETTINGS)
    assert text == (GOLDEN / "report-with-fallback.conf").read_text()
    no_fallback = render_report_context(load_settings({"AGI_PORT": "4573"}))
    assert "10.0.0.2" not in no_fallback
    assert "UserEvent(CallcastEvent," in no_fallback  # always, even with no second daemon


def test_it_renders_a_campaign_without_options_where_every_digit_is_invalid():
    text = render_campaign(CampaignSpec(id=3, name="Bare", message_sound="hello-world",
                                        message_repeats=1), None, SETTINGS)
    dp = simdp.parse(render_report_context(SETTINGS) + text)
    assert sorted(dp.contexts["callcast-campaign-3"]) == ["failed", "h", "i", "s"]
    assert " same => n,Read(CC_DIGIT,hello-world,1,t,1,5)" in text


def test_it_keeps_labels_and_names_on_one_comment_line():
    spec = CampaignSpec(id=4, name="Evil\nexten => s,1,Hangup()", message_sound="x",
                        options=[OptionSpec("1", "two\nlines; [and] (parens)")])
    text = render_campaign(spec, None, SETTINGS)
    assert "; campaign 4: Evil exten => s,1,Hangup()" in text
    assert ";   1 = 'two lines; [and] (parens)' (record)" in text
    simdp.parse(render_report_context(SETTINGS) + text)  # still loads


@pytest.mark.parametrize("target", ["", "PJSIP/1,2", "Local/1@x)", "PJSIP/${EVIL}", "foo"])
def test_it_refuses_transfer_targets_that_would_break_the_line(target):
    spec = CampaignSpec(id=5, message_sound="x", options=[OptionSpec("1", "x", "transfer", target)])
    with pytest.raises(DialplanError, match="transfer target"):
        render_campaign(spec, None, SETTINGS)


@pytest.mark.parametrize("target", [
    "Local/s@from-internal-admin", "IAX2/user:secret@198.51.100.7/100", "PJSIP/desk",
    "SIP/trunk/0044123456789", "s@from-internal-admin", "100@callcast-report", "100@Office",
    "+1555 0100", "1" * 21,
])
def test_it_dials_only_numbers_and_extensions_of_listed_contexts(target):
    spec = CampaignSpec(id=5, message_sound="x", options=[OptionSpec("1", "x", "transfer", target)])
    with pytest.raises(DialplanError, match="TRANSFER_CONTEXTS"):
        render_campaign(spec, None, SETTINGS)
    allowed = CampaignSpec(id=5, message_sound="x", options=[
        OptionSpec("1", "x", "transfer", "+4930123"), OptionSpec("2", "y", "transfer", "s@office")])
    text = render_campaign(allowed, None, SETTINGS)
    assert " same => n,Dial(Local/+4930123@pstn,30)" in text
    assert " same => n,Dial(Local/s@office,30)" in text
    numbers_only = dataclasses.replace(SETTINGS, transfer_contexts=())
    with pytest.raises(DialplanError, match=r"TRANSFER_CONTEXTS \(none set\)"):
        render_campaign(allowed, None, numbers_only)


@pytest.mark.parametrize("option,match", [
    (OptionSpec("a", "x"), "not 0-9"),
    (OptionSpec("1", "x", "dance"), "action"),
])
def test_it_refuses_bad_options(option, match):
    with pytest.raises(DialplanError, match=match):
        render_campaign(CampaignSpec(id=6, message_sound="x", options=[option]), None, SETTINGS)


def test_it_refuses_duplicate_digits_and_unsafe_message_names():
    with pytest.raises(DialplanError, match="two options"):
        render_campaign(CampaignSpec(id=6, message_sound="x", options=[
            OptionSpec("1", "a"), OptionSpec("1", "b")]), None, SETTINGS)
    with pytest.raises(DialplanError, match="message"):
        render_campaign(CampaignSpec(id=6, message_sound="a,b(c)"), None, SETTINGS)


def test_it_builds_specs_from_dicts_and_model_like_objects():
    spec = campaign_spec({"id": 9, "name": "n", "message_sound": "s", "options": [
        {"digit": "1", "label": "Yes", "action": "record", "target": ""}]})
    assert spec.options == [OptionSpec("1", "Yes", "record", "")]
    args = originate_args({"id": 9, "ring_timeout_s": 20, "caller_id": '"Callcast" <100>'},
                          41, 2, "+15550001", SETTINGS)
    assert args == dict(
        channel="Local/+15550001@pstn", context="callcast-campaign-9", exten="s", priority=1,
        account="campaign-9", channel_id="cc-9-41-2",
        variables={"CC_CAMPAIGN": 9, "CC_CONTACT": 41, "CC_ATTEMPT": 2,
                   "CC_TOKEN": call_token(SETTINGS.call_token_secret, 9, 41, 2)},
        caller_id='"Callcast" <100>', ring_timeout_s=20,
    )
    with pytest.raises(DialplanError):
        originate_args({"id": 9}, 1, 1, "555;Hangup", SETTINGS)


def test_it_writes_atomically_and_leaves_the_old_file_when_a_campaign_is_bad(tmp_path):
    path = tmp_path / "asterisk" / "callcast.conf"
    write_dialplan([every_action_campaign()], path=path, settings=SETTINGS)
    before = path.read_text()
    assert '#include "callcast.conf"' in before
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    bad = CampaignSpec(id=13, message_sound="x", options=[OptionSpec("1", "x", "transfer", "")])
    with pytest.raises(DialplanError):
        write_dialplan([every_action_campaign(), bad], path=path, settings=SETTINGS)
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == ["callcast.conf"]  # no temp files left


def test_it_is_accepted_by_pbxsim_and_reloaded_over_ami(pbxsim, pbx_settings):
    pbx_settings = dataclasses.replace(pbx_settings, transfer_contexts=("office",))
    campaigns = [every_action_campaign(),
                 CampaignSpec(id=3, name="Bare", message_sound="hello-world")]
    with AmiClient("127.0.0.1", pbxsim.port, "callcast", "callcast") as ami:
        with pytest.raises(AmiActionError, match="Extension does not exist."):
            ami.originate("Local/5550001@pstn", context="callcast-campaign-12")
        write_dialplan(campaigns, settings=pbx_settings, ami=ami)
        st = pbxsim.stats()["dialplan"]
        assert st["error"] is None
        assert st["contexts"] == ["callcast-campaign-12", "callcast-campaign-3", "callcast-report"]
        response = ami.originate("Local/5550004@pstn", context="callcast-campaign-12",
                                 account="campaign-12", channel_id="cc-12-1-1")
        assert response["Message"] == "Originate successfully queued"


def test_it_reports_a_broken_file_through_the_reload_and_keeps_the_old_dialplan(
        pbxsim, pbx_settings):
    Path(pbx_settings.dialplan_path).write_text("[callcast-x]\nexten => s,1,Frobnicate()\n")
    with AmiClient("127.0.0.1", pbxsim.port, "callcast", "callcast") as ami:
        with pytest.raises(AmiActionError) as info:
            ami.command("dialplan reload")
        assert "Frobnicate" in info.value.response.get("Output")
    assert "callcast-campaign-7" in pbxsim.stats()["dialplan"]["contexts"]


def test_it_renders_the_whole_file_in_campaign_order():
    text = render_dialplan([CampaignSpec(id=20, message_sound="x"),
                            CampaignSpec(id=3, message_sound="x")], SETTINGS)
    assert text.index("[callcast-report]") < text.index("[callcast-campaign-3]") \
        < text.index("[callcast-campaign-20]")


def test_it_writes_every_live_campaign_and_the_one_being_activated(db, tmp_path):
    settings = load_settings({"DIALPLAN_PATH": str(tmp_path / "callcast.conf"),
                              "DIAL_TEMPLATE": "Local/{number}@pstn"})
    live = {state: Campaign.create(name=state, state=state, message_sound="x")
            for state in (DRAFT, ACTIVE, PAUSED, FINISHED, DRAINING, CLOSED)}
    CampaignOption.create(campaign=live[ACTIVE].id, digit="1", label="Yes")
    text = write_campaign_dialplans(settings=settings).read_text()
    contexts = {state for state, c in live.items() if f"[callcast-campaign-{c.id}]" in text}
    assert contexts == {ACTIVE, PAUSED, FINISHED, DRAINING}
    assert "exten => 1,1,Gosub(callcast-report,s,1(dtmf-1))" in text
    text = write_campaign_dialplans(settings=settings, activating=live[DRAFT].id).read_text()
    assert f"[callcast-campaign-{live[DRAFT].id}]" in text
