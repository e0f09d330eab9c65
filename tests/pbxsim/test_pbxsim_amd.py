"""pbxsim's AMD() and WaitForSilence() as apps/app_amd.c and app_waitforsilence.c compute
them, over each callee kind; the callee models' kinds."""

import pytest

from pbxsim import amd
from pbxsim.callee import LastDigit, RandomModel


@pytest.mark.parametrize("kind, status, cause, ms", [
    ("human", "HUMAN", "HUMAN-800-800", 1500),  # 0.3 s + "Hello?" 0.4 s + 0.8 s silence
    ("machine", "MACHINE", "MAXWORDS-3-2", 1500),  # a third word after two: 3 > 2
    ("endless", "MACHINE", "MAXWORDS-3-2", 1760),  # voice at once is no new word (STATE_IN_WORD)
    ("silent", "MACHINE", "INITIALSILENCE-2500-2500", 2500),
])
def test_amd_gives_app_amd_c_verdicts_with_the_defaults(kind, status, cause, ms):
    assert amd.amd(amd.DEFAULTS, amd.KINDS[kind]) == (status, cause, ms)


def test_amd_follows_its_parameters():
    args = amd.parse_amd_args
    person = amd.KINDS["human"]
    assert amd.amd(args(",,,1000"), amd.KINDS["endless"]) == ("NOTSURE", "TOOLONG-1000", 1000)
    assert amd.amd(args(",,,700"), person)[:2] == ("NOTSURE", "TOOLONG-700")
    assert amd.amd(args("200"), person)[:2] == ("MACHINE", "INITIALSILENCE-200-200")
    assert amd.amd(args(",300,,,,,9"), amd.KINDS["endless"])[:2] == ("MACHINE", "LONGGREETING-300-300")
    assert amd.amd(args(",,,,,,9,,250"), amd.KINDS["endless"])[:2] == ("MACHINE", "MAXWORDLENGTH-260")
    assert amd.amd(args(""), amd.audio_of("human", 600)) == ("HANGUP", "", 600)
    # atoi: "x" is 0, an empty argument keeps the default
    assert args("x,,5") == [0, 1500, 5, 5000, 100, 50, 2, 256, 5000]


def test_wait_for_silence_waits_for_the_beep_or_gives_up_at_its_timeout():
    machine, endless = amd.KINDS["machine"], amd.KINDS["endless"]
    assert amd.wait_for_silence(machine, 1500, 1500, 30) == ("SILENCE", 3360)
    assert amd.wait_for_silence(endless, 1760, 1500, 30) == ("TIMEOUT", 30000)
    assert amd.wait_for_silence(amd.KINDS["silent"], 0, 1000, 0) == ("SILENCE", 1000)
    assert amd.wait_for_silence(amd.audio_of("endless", 5000), 0, 1500, 30) == ("HANGUP", 5000)


def test_the_callee_models_pick_kinds():
    model = LastDigit()
    assert [model.behaviour(n).audio for n in ("5550051", "5550061", "5550071", "5550041")] == [
        "machine", "endless", "silent", "human"]
    # the last digit keeps deciding the rest: a campaign without AMD sees no change
    assert model.behaviour("5550051").digit == "2" == model.behaviour("5550041").digit
    assert model.behaviour("5550055").result == "busy"  # the last digit still decides that
    machines = RandomModel(p_answer=1.0, p_busy=0, p_noanswer=0, p_congestion=0, p_machine=1.0,
                           seed=1)
    assert {machines.behaviour("1").audio for _ in range(20)} == {"machine"}
    people = RandomModel(p_answer=1.0, p_busy=0, p_noanswer=0, p_congestion=0, seed=1)
    assert {people.behaviour("1").audio for _ in range(20)} == {"human"}
    with pytest.raises(ValueError, match="p_machine"):
        RandomModel(p_machine=1.5)
