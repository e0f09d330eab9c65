"""Who answers the phone in pbxsim: the callee models.

``lastdigit`` (the test PSTN, deterministic, by the number's last digit):

====  ==================================================================
0-3   answers after 1 s, presses digit+1 two seconds into the message
4     answers, presses nothing (the menu times out)
5     busy after 0.5 s                                  (Reason 5)
6     rings until the originate Timeout                 (Reason 3)
7     congestion after 0.1 s                            (Reason 8)
8     answers and hangs up as the message starts
9     answers, presses 9 (not an option in the usual campaigns)
====  ==================================================================

What an answering callee says (for ``AMD()`` and ``WaitForSilence()``,
pbxsim/amd.py) is chosen by the digit before the last: 5 a machine (greeting,
beep, silence), 6 a machine whose greeting never ends, 7 a silent line,
anything else a person who says "Hello?" and waits. Only AMD() and
WaitForSilence() hear it: the last digit's behaviour (digits pressed in
``Read``, hangups) stays as above, so a campaign without AMD sees no change;
8's callee hangs up 0.6 s after the answer when AMD listens.

A callee presses its digit during the first menu play only; replays (the
``repeat`` option, a replay after ``invalid``) hear silence from it.

``random``: outcome drawn with the given probabilities, ring and talk times
uniform in their ranges; an answering callee presses a digit from ``digits``
with ``p_digit``, or hangs up ``listen`` seconds into the menu with
``p_hangup``, or else listens to the end; with ``p_machine`` an answering
callee is an answering machine (greeting and beep) instead.

Durations are in simulated seconds; the server divides them by ``--speed``.
"""

from __future__ import annotations

import random as _random
from dataclasses import dataclass


@dataclass
class Behaviour:
    result: str  # answer | busy | noanswer | congestion | unavailable
    ring_s: float = 1.0
    digit: str | None = None  # pressed during the first menu play
    digit_at_s: float = 2.0  # seconds into that play
    hangup_at_once: bool = False
    talk_s: float = 5.0  # how long a transferred call lasts
    hangup_at_event: str | None = None  # hangs up while this report's AGI runs
    listen_s: float | None = None  # hangs up this long into the menu (no digit)
    audio: str = "human"  # what it says after the answer: pbxsim.amd.KINDS


def number_of(channel: str) -> str:
    """'5550003' from 'Local/5550003@pstn' or 'PJSIP/5550003@trunk'."""
    _tech, _, data = channel.partition("/")
    return data.split("@")[0]


AUDIO_BY_DIGIT = {"5": "machine", "6": "endless", "7": "silent"}


class LastDigit:
    name = "lastdigit"

    def behaviour(self, number: str) -> Behaviour:
        b = self._by_last_digit(number)
        audio = AUDIO_BY_DIGIT.get(number[-2:-1], "human")
        if b.result == "answer":
            b.audio = audio
        return b

    def _by_last_digit(self, number: str) -> Behaviour:
        last = number[-1:] if number[-1:].isdigit() else "4"
        d = int(last)
        if d <= 3:
            return Behaviour("answer", ring_s=1.0, digit=str(d + 1), digit_at_s=2.0)
        if d == 4:
            return Behaviour("answer", ring_s=1.0)
        if d == 5:
            return Behaviour("busy", ring_s=0.5)
        if d == 6:
            return Behaviour("noanswer", ring_s=0.0)
        if d == 7:
            return Behaviour("congestion", ring_s=0.1)
        if d == 8:
            return Behaviour("answer", ring_s=1.0, hangup_at_once=True)
        return Behaviour("answer", ring_s=1.0, digit="9", digit_at_s=2.0)


class RandomModel:
    name = "random"

    def __init__(self, p_answer=0.6, p_busy=0.1, p_noanswer=0.2, p_congestion=0.05,
                 p_digit=0.7, digits="123", ring=(1.0, 8.0), talk=(5.0, 60.0), seed=None,
                 p_hangup=0.1, listen=(0.5, 6.0), p_machine=0.0):
        if p_answer + p_busy + p_noanswer + p_congestion > 1.0 + 1e-9:
            raise ValueError("outcome probabilities add up to more than 1")
        if p_digit + p_hangup > 1.0 + 1e-9:
            raise ValueError("p_digit + p_hangup add up to more than 1")
        self.p = (p_answer, p_busy, p_noanswer, p_congestion)
        self.p_digit, self.digits = p_digit, digits
        self.p_hangup, self.listen = p_hangup, listen
        self.ring, self.talk = ring, talk
        if not 0.0 <= p_machine <= 1.0:
            raise ValueError("p_machine must be between 0 and 1")
        self.p_machine = p_machine
        self.rng = _random.Random(seed)

    def behaviour(self, number: str) -> Behaviour:
        r = self.rng.random()
        ring = self.rng.uniform(*self.ring)
        acc = 0.0
        for result, p in zip(("answer", "busy", "noanswer", "congestion"), self.p):
            acc += p
            if r < acc:
                break
        else:
            result = "unavailable"
        b = Behaviour(result, ring_s=ring, talk_s=self.rng.uniform(*self.talk))
        if result == "answer" and self.p_machine and self.rng.random() < self.p_machine:
            b.audio = "machine"
        elif result == "answer":
            r = self.rng.random()
            if self.digits and r < self.p_digit:
                b.digit = self.rng.choice(self.digits)
                b.digit_at_s = self.rng.uniform(0.5, 6.0)
            elif r < self.p_digit + self.p_hangup:
                b.listen_s = self.rng.uniform(*self.listen)
        return b


def make_model(name, **kwargs):
    if name == "lastdigit":
        return LastDigit()
    if name == "random":
        return RandomModel(**kwargs)
    raise ValueError(f"unknown callee model {name!r} (lastdigit, random)")
