"""The AMD dialplan: exact text per policy (golden files), and pbxsim running it for every
callee kind: AMD()'s verdict and cause as app_amd.c gives them, the reports, the time taken."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.amd import VERDICT_EVENTS
from app.config import load_settings
from app.pbx.ami import AmiClient
from app.pbx.dialplan import render_campaign, render_report_context, write_dialplan
from app.pbx.originate import originate_args
from pbxsim import dialplan as simdp
from tests.pbx.conftest import AgiListener, sample_campaign
from tests.pbx.test_dialplan_render import SETTINGS
from tests.pbxsim.test_pbxsim_calls import start_sim

GOLDEN = Path(__file__).parent / "golden"
VOICEMAIL = {"message_sound": "custom/callcast-voicemail"}
POLICIES = {
    # MACHINE hung up on; NOTSURE and HANGUP as a human
    "hangup": {"enabled": True},
    # MACHINE: the voicemail message after the beep; NOTSURE and HANGUP as a machine
    "message": {"enabled": True, "machine": "message", "notsure": "machine",
                "hangup": "machine", "message_silence_ms": 1200, "message_cap_s": 20,
                **VOICEMAIL},
    # retry machines twice, then leave the message on the last attempt
    "last-attempt": {"enabled": True, "machine_retries": 2, "machine_retry_s": 7200,
                     "message_on_last_attempt": True, "notsure": "machine", "greeting_ms": 2000,
                     **VOICEMAIL},
}


def amd_campaign(policy, campaign_id=31, **overrides):
    return sample_campaign(campaign_id, amd=POLICIES[policy], max_attempts=3, **overrides)


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_each_policy_renders_exactly_its_golden_file(policy):
    text = render_campaign(amd_campaign(policy), None, SETTINGS)
    assert text == (GOLDEN / f"amd-{policy}.conf").read_text()
    simdp.parse(render_report_context(SETTINGS) + text)  # pbxsim's loader takes it


def test_amd_runs_right_after_the_answer_report_with_app_amd_c_argument_order():
    lines = render_campaign(amd_campaign("last-attempt"), None, SETTINGS).splitlines()
    at = lines.index(" same => n,Gosub(callcast-report,s,1(answered))")
    assert lines[at + 1] == " same => n,AMD(2500,2000,800,5000,100,50,2,256,5000)"
    off = render_campaign(sample_campaign(31), None, SETTINGS)
    assert "AMD(" not in off and "machine" not in off  # AMD off: the dialplan of before


def one_call(tmp_path, policy, number, **sim_options):
    agi = AgiListener().start()
    settings = load_settings({"DIALPLAN_PATH": str(tmp_path / "callcast.conf"),
                              "AGI_PORT": str(agi.port)})
    campaign = amd_campaign(policy)
    write_dialplan([campaign], settings=settings)
    sim = start_sim(settings, **sim_options)
    try:
        with AmiClient("127.0.0.1", sim.port, "callcast", "callcast") as ami:
            started = time.monotonic()
            ami.originate(**originate_args(campaign, 3, 1, number, settings))
            call = sim.wait_idle()["calls"][0]
            took = time.monotonic() - started
    finally:
        sim.stop()
        agi.stop()
    return call, [(a["event"], a["args"][0] if a["args"] else "") for a in call["agi"]], took


# (callee kind by the digit before the last, policy) -> AMD() and the reports
CASES = [
    ("5550001", "hangup", ("HUMAN", "HUMAN-800-800"),
     ["answered", "amd-human", "dtmf-2", "hangup"]),
    ("5550051", "hangup", ("MACHINE", "MAXWORDS-3-2"), ["answered", "amd-machine", "hangup"]),
    ("5550051", "message", ("MACHINE", "MAXWORDS-3-2"),
     ["answered", "amd-machine", "vm-left", "hangup"]),
    ("5550061", "message", ("MACHINE", "MAXWORDS-3-2"),
     ["answered", "amd-machine", "vm-timeout", "hangup"]),
    ("5550071", "hangup", ("MACHINE", "INITIALSILENCE-2500-2500"),
     ["answered", "amd-machine", "hangup"]),
    ("5550008", "hangup", ("HANGUP", ""), ["answered", "amd-hangup-human", "hangup"]),
    ("5550008", "message", ("HANGUP", ""), ["answered", "amd-hangup-machine", "hangup"]),
]


@pytest.mark.parametrize("number, policy, verdict, reports", CASES)
def test_pbxsim_runs_amd_for_every_callee_kind(tmp_path, number, policy, verdict, reports):
    call, reported, _ = one_call(tmp_path, policy, number)
    assert tuple(call["amd"][:2]) == verdict
    assert [event for event, _ in reported] == reports
    verdict_reports = [(e, arg) for e, arg in reported if e in VERDICT_EVENTS]
    assert verdict_reports and all(arg == verdict[1] for _, arg in verdict_reports)


def test_a_greeting_that_never_ends_does_not_hold_the_channel_past_the_cap(tmp_path):
    # speed 20: the 20 s cap is 1 s of real time; AMD's 1.76 s and the message are not
    # played (the greeting never stopped), so the call ends well before cap + 2 s
    call, reported, took = one_call(tmp_path, "message", "5550061", speed=20.0)
    assert ("vm-timeout", "") in reported and ("vm-left", "") not in reported
    held = call["ended_at"] - call["originated_at"]
    assert 20 / 20 <= held < (1 + 1.76 + 20 + 2) / 20 + 0.5, held


def test_notsure_after_the_total_analysis_time_follows_the_policy(tmp_path):
    # a human who keeps talking: 4 s words never pass 3 words nor 5 s of one word
    policy = dict(POLICIES["message"], total_analysis_ms=500, greeting_ms=10000)
    POLICIES["short"] = policy
    try:
        call, reported, _ = one_call(tmp_path, "short", "5550001")
    finally:
        del POLICIES["short"]
    assert tuple(call["amd"][:2]) == ("NOTSURE", "TOOLONG-500")
    assert [e for e, _ in reported][:3] == ["answered", "amd-notsure-machine", "vm-left"]


def test_a_pbx_without_app_amd_ends_the_call_at_the_amd_line(tmp_path):
    # main/pbx.c: "No application 'AMD'", the dialplan ends, h reports the hangup;
    # /health names it first (tests/ops/test_amd_health.py)
    call, reported, _ = one_call(tmp_path, "hangup", "5550051", without_modules=["app_amd"])
    assert [e for e, _ in reported] == ["answered", "hangup"] and not call["amd"]
