"""pbxsim routes a Local/<number>@<context> dial string as Asterisk does, or fails it with Reason 0."""

from __future__ import annotations

import dataclasses
import queue
import time

import pytest

from app.pbx.ami import AmiClient
from app.pbx.originate import originate_args
from pbxsim.__main__ import ConfigError, build_parser, env_defaults
from pbxsim.routing import RouteSyntaxError, Routes, local_destination, matches, parse_outbound
from tests.pbx.conftest import sample_campaign


@pytest.mark.parametrize(
    "pattern, number, expected",
    [
        ("_X.", "12025550102", True),
        ("_X.", "+12025550102", False),  # '+' is no digit: the usual outbound pattern misses
        ("_+X.", "+12025550102", True),
        ("_X.", "1", False),  # '.' needs one more character
        ("_X!", "1", True),  # '!' takes zero or more
        ("_X!", "123", True),
        ("_NXXNXXXXXX", "2025550102", True),
        ("_NXXNXXXXXX", "1025550102", False),  # N is 2-9
        ("_NXXNXXXXXX", "20255501023", False),  # longer than the pattern
        ("_NXXNXXXXXX", "202555010", False),  # shorter, no '.' or '!'
        ("_Z", "0", False),
        ("_z", "9", True),  # pattern letters in any case
        ("_0[1-59]X.", "0612", False),
        ("_0[1-59]X.", "0512", True),
        ("_0[1-59]X.", "0912", True),
        ("_1-NXX-NXX-XXXX", "12025550102", True),  # '-' is eye candy
        ("_[]X", "5", True),  # an empty set is ignored
        ("_[12", "1", False),  # an unclosed set never matches
        ("100", "100", True),
        ("100", "1000", False),
        ("555-0100", "5550100", True),
    ],
)
def test_it_matches_extension_patterns_as_asterisk_does(pattern, number, expected):
    assert matches(pattern, number) is expected


def test_it_reads_outbound_contexts_and_local_destinations():
    assert parse_outbound("pstn=_X.,_+X.; intl = _00X. ") == {
        "pstn": ("_X.", "_+X."), "intl": ("_00X.",)}
    assert parse_outbound("") == {}
    for bad in ("pstn", "pstn=", "=_X."):
        with pytest.raises(RouteSyntaxError):
            parse_outbound(bad)
    assert local_destination("+1202@pstn/n") == ("+1202", "pstn")
    assert local_destination("100") == ("100", "default")


def test_it_routes_to_contexts_of_the_loaded_dialplan_too():
    from pbxsim.dialplan import parse

    dialplan = parse("[trunk]\nexten => _NXXNXXXXXX,1,NoOp()\n")
    routes = Routes("pstn=_X.")
    assert routes.exists(dialplan, "trunk", "2025550102")
    assert routes.exists(dialplan, "pstn", "2025550102")
    assert not routes.exists(dialplan, "trunk", "+12025550102")
    assert not routes.exists(dialplan, "nowhere", "2025550102")


def originate_one(sim, settings, number, contact=3):
    """Originate one call of campaign 7 to ``number``; (OriginateResponse, pbxsim's record)."""
    events = queue.Queue()
    with AmiClient("127.0.0.1", sim.port, "callcast", "callcast", events="call") as ami:
        ami.add_listener(events.put)
        ami.originate(**originate_args(sample_campaign(7), contact, 1, number, settings))
        [call] = [c for c in sim.wait_idle()["calls"] if c["channel_id"] == f"cc-7-{contact}-1"]
        deadline = time.monotonic() + 5
        while True:
            message = events.get(timeout=max(0.01, deadline - time.monotonic()))
            if message.event == "OriginateResponse":
                return message, call


def test_it_fails_a_number_no_outbound_pattern_matches_with_reason_0(pbxsim, pbx_settings,
                                                                     agi_listener):
    sim = pbxsim.restart(outbound="pstn=_X.")
    response, call = originate_one(sim, pbx_settings, "+12025550102")

    assert (response["Response"], response["Reason"]) == ("Failure", "0")
    assert (call["result"], call["reason"]) == ("unavailable", 0)
    assert call["route"] == "No such extension/context +12025550102@pstn"
    # the failed extension ran with REASON 0 and reported it
    [request] = agi_listener.wait_for(1)
    assert request["env"]["agi_network_script"] == "7/3/1/failed-unavailable"
    assert request["env"]["agi_arg_1"] == "0"


def test_it_rings_a_number_the_outbound_context_matches(pbxsim, pbx_settings, agi_listener):
    sim = pbxsim.restart(outbound="pstn=_X.")
    response, call = originate_one(sim, pbx_settings, "12025550105")  # last digit 5: busy

    assert (response["Response"], response["Reason"]) == ("Failure", "5")
    assert (call["result"], call["route"]) == ("busy", "")


def test_it_fails_a_context_that_does_not_exist(pbxsim, pbx_settings, agi_listener):
    settings = dataclasses.replace(pbx_settings, dial_template="Local/{number}@outbound")
    response, call = originate_one(pbxsim, settings, "+12025550105")

    assert response["Reason"] == "0"
    assert call["route"] == "No such extension/context +12025550105@outbound"


def test_it_routes_the_demo_dial_string_by_default(pbxsim, pbx_settings, agi_listener):
    response, call = originate_one(pbxsim, pbx_settings, "+12025550105")

    assert (response["Reason"], call["result"]) == ("5", "busy")
    assert pbxsim.stats()["outbound"] == {"pstn": ["_X.", "_+X."]}


def test_it_takes_the_outbound_contexts_from_the_environment_or_the_command_line():
    defaults = env_defaults({"PBXSIM_OUTBOUND": "pstn=_X."})
    assert build_parser(defaults).parse_args([]).outbound == "pstn=_X."
    assert build_parser(defaults).parse_args(["--outbound", "trunk=_N."]).outbound == "trunk=_N."
    assert env_defaults({})["outbound"] == "pstn=_X.,_+X."
    with pytest.raises(ConfigError, match="PBXSIM_OUTBOUND"):
        env_defaults({"PBXSIM_OUTBOUND": "pstn"})
