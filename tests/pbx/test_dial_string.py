"""DIAL_TEMPLATE: the number's forms ({number}, {digits}, {national}), checked at start."""

from __future__ import annotations

import dataclasses

import pytest

from app.config import load_settings
from app.errors import ConfigError
from app.pbx.dialplan import CampaignSpec, OptionSpec, dial_target, render_campaign
from app.pbx.originate import originate_args
from app.pbx.errors import DialplanError
from app.pbx.originate import dial_string
from tests.pbxsim.test_pbxsim_routing import originate_one


@pytest.mark.parametrize(
    "template, number, channel",
    [
        ("Local/{number}@pstn", "+12025550102", "Local/+12025550102@pstn"),
        ("Local/{digits}@pstn", "+12025550102", "Local/12025550102@pstn"),
        ("PJSIP/{national}@trunk", "+12025550102", "PJSIP/2025550102@trunk"),
        ("PJSIP/0{national}@trunk", "+33123456789", "PJSIP/0123456789@trunk"),
        ("PJSIP/{national}@trunk", "+390612345678", "PJSIP/0612345678@trunk"),  # Italy keeps 0
        ("PJSIP/00{digits}@trunk", "+4420794600181", "PJSIP/004420794600181@trunk"),
        ("Local/{national}@pstn", "5550004", "Local/5550004@pstn"),  # no '+': national already
    ],
)
def test_it_fills_each_form_of_the_number(template, number, channel):
    settings = load_settings({"DIAL_TEMPLATE": template})

    assert originate_args({"id": 9}, 1, 1, number, settings)["channel"] == channel


def test_it_refuses_a_national_form_for_a_number_of_no_known_country():
    with pytest.raises(DialplanError, match="no national form"):
        dial_string("PJSIP/{national}@trunk", "+999123")
    assert dial_string("PJSIP/{digits}@trunk", "+999123") == "PJSIP/999123@trunk"


@pytest.mark.parametrize(
    "template, problem",
    [
        ("Local/{num}@pstn", "unknown placeholder {num}"),
        ("PJSIP/{number:>12}@trunk", "unknown placeholder {number:>12}"),
        ("PJSIP/{number!r}@trunk", "unknown placeholder {number!r}"),
        ("PJSIP/{0}@trunk", "unknown placeholder {0}"),
        ("PJSIP/{}@trunk", "unknown placeholder {}"),
        ("PJSIP/{number@trunk", "is not a template"),
        ("PJSIP/trunk", "names no number"),
    ],
)
def test_it_stops_at_start_on_a_template_it_cannot_fill(template, problem):
    with pytest.raises(ConfigError, match="DIAL_TEMPLATE") as caught:
        load_settings({"DIAL_TEMPLATE": template})

    assert problem in str(caught.value)


def test_it_dials_a_transfer_number_through_the_same_forms():
    settings = load_settings({"DIAL_TEMPLATE": "PJSIP/{national}@trunk"})

    assert dial_target("+12025550199", settings) == "PJSIP/2025550199@trunk"
    text = render_campaign(CampaignSpec(id=5, message_sound="x", options=[
        OptionSpec("1", "Agent", "transfer", "+12025550199")]), None, settings)
    assert "Dial(PJSIP/2025550199@trunk,30)" in text


def test_it_reaches_an_outbound_context_with_the_usual_pattern_by_its_digits(
        pbxsim, pbx_settings, agi_listener):
    sim = pbxsim.restart(outbound="pstn=_X.")
    digits = dataclasses.replace(pbx_settings, dial_template="Local/{digits}@pstn")

    _, e164 = originate_one(sim, pbx_settings, "+12025550105", contact=1)
    response, call = originate_one(sim, digits, "+12025550105", contact=2)

    assert (e164["result"], e164["reason"]) == ("unavailable", 0)
    assert call["channel"] == "Local/12025550105@pstn"
    assert (response["Reason"], call["result"]) == ("5", "busy")
