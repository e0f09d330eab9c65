"""The generated message part: exact text (golden file), values only as Originate variables,
and pbxsim acting it out: the Say applications' files, durations, digits during the message."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from app.config import load_settings
from app.messages.template import parse
from app.messages.values import render_contact
from app.pbx.ami import AmiClient
from app.pbx.ami.wire import originate_fields
from app.pbx.dialplan import CampaignSpec, OptionSpec, render_campaign, write_dialplan
from app.pbx.dialplan_message import asterisk_language
from app.pbx.errors import AmiActionError
from app.pbx.originate import originate_args
from pbxsim import dialplan as simdp
from pbxsim.server import PbxsimThread
from sounds_support import FILE_S, make_sounds, write_wav

from tests.waiting import wait_until

GOLDEN = Path(__file__).parent.parent / "pbx" / "golden"
TEMPLATE = {"language": "en", "segments": [
    {"kind": "sound", "sound": "hello"},
    {"kind": "tts", "text": "Hello {name}"},
    {"kind": "say", "field": "amount", "as": "number"},
    {"kind": "say", "field": "code", "as": "digits"},
    {"kind": "say", "field": "initials", "as": "alpha"},
    {"kind": "say", "field": "due", "as": "date", "format": "ABdY"},
    {"kind": "say", "field": "due", "as": "time"},
    {"kind": "say", "field": "balance", "as": "money", "unit": "euros"},
    {"kind": "sound", "sound": "callcast-missing"},
]}
FIELDS = {"name": "Maria", "amount": "124", "code": "42#", "initials": "JB",
          "due": "2026-12-03 10:30", "balance": "7.05"}
# what main/say.c plays for FIELDS (English, Europe/Paris); 2026-12-03 is a Thursday
SAID = [
    "digits/1", "digits/hundred", "digits/20", "digits/4",  # SayNumber(124)
    "digits/4", "digits/2", "digits/pound",  # SayDigits(42#)
    "letters/j", "letters/b",  # SayAlpha(JB)
    "digits/day-4", "digits/mon-11", "digits/h-3", "digits/2", "digits/thousand",
    "digits/20", "digits/6",  # SayUnixTime ABdY
    "digits/10", "digits/30", "digits/a-m",  # SayUnixTime IMp
    "digits/7", "euros", "digits/5", "cents",  # money: 7 euros 5 cents
]


def spec(settings, campaign_id=20):
    return CampaignSpec(id=campaign_id, name="Reminders", message_repeats=2, digit_timeout_s=2,
                        options=[OptionSpec("1", "Confirm"), OptionSpec("2", "Cancel")],
                        template=parse(TEMPLATE), timezone="Europe/Paris")


def settings_for(tmp_path, agi_port=4573):
    return load_settings({"AGI_HOST": "127.0.0.1", "AGI_PORT": str(agi_port),
                          "MEDIA_DIR": "/var/lib/callcast/media",
                          "DIALPLAN_PATH": str(tmp_path / "callcast.conf"),
                          "DIAL_TEMPLATE": "Local/{number}@pstn"})


def test_it_renders_the_template_exactly_and_pbxsim_loads_it(tmp_path):
    text = render_campaign(spec(settings_for(tmp_path)), None, settings_for(tmp_path))
    assert text == (GOLDEN / "campaign-20-template.conf").read_text()
    assert "Maria" not in text and "124" not in text  # values only as ${CC_V<n>}
    assert " same => n,SayUnixTime(${CC_V6},Europe/Paris,ABdY)" in text
    assert " same => n,Set(SAY_DTMF_INTERRUPT=true)" in text
    simdp.parse(text)


def test_values_reach_the_originate_as_variables_and_a_comma_never_does():
    out = render_contact(parse(TEMPLATE), FIELDS, "Europe/Paris")
    assert out.problems == []
    args = originate_args({"id": 20}, 5, 1, "+15550001", load_settings({}),
                          {**out.variables, "CC_V2": "/m/tts/x"})
    fields = originate_fields(args["channel"], args["context"], "s", 1, None, None,
                              args["variables"], None, None)
    assert ("Variable", "CC_V3=124") in fields and ("Variable", "CC_C8=5") in fields
    with pytest.raises(AmiActionError) as caught:
        originate_fields("Local/1@pstn", "c", "s", 1, None, None, {"CC_V1": "Maria, Jr"},
                         None, None)
    assert "Maria" not in str(caught.value)  # a value is never quoted in a message


@pytest.fixture
def played(tmp_path):
    """pbxsim with stock sounds; originate one call; what it played, once done."""
    settings = settings_for(tmp_path)
    write_dialplan([spec(settings)], settings=settings)
    sounds = make_sounds(tmp_path / "sounds")
    tts = write_wav(tmp_path / "tts" / "abc.wav", 0.5)
    sim = PbxsimThread(port=0, dialplan_path=str(settings.dialplan_path), speed=20.0,
                       sounds_dir=str(sounds))
    sim.start()
    ami = AmiClient("127.0.0.1", sim.port, "callcast", "callcast", timeout=5.0)

    def call(number):
        out = render_contact(parse(TEMPLATE), FIELDS, "Europe/Paris")
        variables = {**out.variables, "CC_V2": str(tts)[: -len(".wav")]}
        args = originate_args({"id": 20}, 1, 1, number, settings, variables)
        began = time.monotonic()
        ami.originate(**args)
        record = wait_until(lambda: next((c for c in sim.stats()["calls"]
                                          if c["number"] == number and c["done"]), None),
                            30, "the call to end")
        return record, (time.monotonic() - began) * 20.0

    yield call
    ami.close()
    sim.stop()


def test_pbxsim_plays_each_part_and_their_durations_count(played):
    record, took_s = played("+15550004")  # lastdigit 4: answers, presses nothing
    one_play = ["hello", "TTS", *SAID, "callcast-missing"]
    names = ["TTS" if n.endswith("/tts/abc") else n for n in record["played"]]
    assert names == one_play * 2  # message_repeats 2
    assert record["missing"] == ["callcast-missing", "callcast-missing"]  # warned, went on
    # two plays: 1 + 23 files of 0.1 s, the 0.5 s text, a 2 s wait each
    assert took_s >= 2 * (len(SAID) * FILE_S + FILE_S + 0.5 + 2.0)
    events = [e["event"] for e in record["agi"]]
    assert events[0] == "answered" and "timeout" in events


def test_a_digit_during_a_say_application_jumps_to_its_option(played):
    record, _ = played("+15550000")  # lastdigit 0: presses 1 two seconds in
    # 2 s in: hello (0.1), the text (0.5), then 14 files of 0.1 s: inside SayUnixTime
    assert record["digit"] == "1"
    assert [e["event"] for e in record["agi"]][:2] == ["answered", "dtmf-1"]
    assert record["played"][2:] == SAID[:14], record["played"]


def test_the_channel_speaks_the_templates_language(tmp_path):
    assert asterisk_language("pt-br") == "pt_BR" and asterisk_language("fr") == "fr"
    settings = settings_for(tmp_path)
    french = dict(TEMPLATE, language="fr")
    write_dialplan([dataclasses.replace(spec(settings), template=parse(french))],
                   settings=settings)
    sounds = make_sounds(tmp_path / "sounds", language="fr")  # only French prompts exist
    sim = PbxsimThread(port=0, dialplan_path=str(settings.dialplan_path), speed=20.0,
                       sounds_dir=str(sounds))
    sim.start()
    ami = AmiClient("127.0.0.1", sim.port, "callcast", "callcast", timeout=5.0)
    try:
        out = render_contact(parse(french), FIELDS, "Europe/Paris")
        tts = write_wav(tmp_path / "tts" / "abc.wav", 0.2)
        ami.originate(**originate_args({"id": 20}, 1, 1, "+15550004", settings,
                                       {**out.variables, "CC_V2": str(tts)[:-4]}))
        record = wait_until(lambda: next((c for c in sim.stats()["calls"] if c["done"]), None),
                            30, "the call to end")
        assert record["missing"] == ["callcast-missing"] * 2  # every prompt found under fr/
        assert "digits/thousand" in record["played"]
    finally:
        ami.close()
        sim.stop()


def test_a_machine_gets_the_voicemail_sound_then_the_contacts_own_message(tmp_path):
    """AMD and a personalised message together: after the beep, the voicemail sound and
    then the same segments, spoken through (no digit awaited), then ``vm-left``."""
    settings = settings_for(tmp_path)
    amd = {"enabled": True, "machine": "message", "message_sound": "custom/callcast-voicemail"}
    campaign = dataclasses.replace(spec(settings), amd=amd)
    text = render_campaign(campaign, None, settings)
    machine = text[text.index("exten => machine,1"):]
    machine = machine[:machine.index("\n\n")].splitlines()
    at = machine.index(" same => n,Playback(custom/callcast-voicemail)")
    assert machine[at + 1] == " same => n,Set(CHANNEL(language)=en)"
    assert " same => n,SayNumber(${CC_V3})" in machine[at:]
    assert not any("Read(" in line for line in machine)  # played through on a machine
    assert machine.index(" same => n,Gosub(callcast-report,s,1(vm-left))") > at
    write_dialplan([campaign], settings=settings)
    sounds = make_sounds(tmp_path / "sounds")
    write_wav(sounds / "en" / "custom" / "callcast-voicemail.wav", 0.3)
    tts = write_wav(tmp_path / "tts" / "abc.wav", 0.5)
    sim = PbxsimThread(port=0, dialplan_path=str(settings.dialplan_path), speed=20.0,
                       sounds_dir=str(sounds))
    sim.start()
    try:
        with AmiClient("127.0.0.1", sim.port, "callcast", "callcast", timeout=5.0) as ami:
            out = render_contact(parse(TEMPLATE), FIELDS, "Europe/Paris")
            variables = {**out.variables, "CC_V2": str(tts)[: -len(".wav")]}
            # the digit before the last 5: a machine that greets, beeps and records
            ami.originate(**originate_args({"id": 20}, 1, 1, "+15550051", settings, variables))
            record = wait_until(lambda: next((c for c in sim.stats()["calls"] if c["done"]),
                                             None), 30, "the call to end")
    finally:
        sim.stop()
    names = ["TTS" if n.endswith("/tts/abc") else n for n in record["played"]]
    assert names == ["custom/callcast-voicemail", "hello", "TTS", *SAID, "callcast-missing"]
    assert [e["event"] for e in record["agi"]][:3] == ["answered", "amd-machine", "vm-left"]
