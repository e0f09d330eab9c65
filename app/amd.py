"""Answering-machine detection: a campaign's settings, their limits, and what a verdict means.

A campaign stores its settings in one JSON column, ``campaign.amd`` (empty: AMD
off). ``settings_of`` reads it (defaults filled in), ``amd_problems`` is the rule
``app.campaigns.rules`` runs on create and update (every problem names its field,
``amd.<name>``), ``normalised_amd`` is what is stored.

The nine analysis parameters are those of Asterisk's ``AMD()`` (apps/app_amd.c,
``isAnsweringMachine``: same order, same units, same defaults as its
``dflt*`` values and ``configs/samples/amd.conf.sample``).

Verdicts (``AMDSTATUS``) and what the generated dialplan does with each:

* ``HUMAN``: the message and the digit menu, as without AMD;
* ``MACHINE``: hang up (outcome ``machine``), or wait for the greeting's end
  (``WaitForSilence``, capped) and play the voicemail message (outcome
  ``machine-message``);
* ``NOTSURE`` and ``HANGUP``: as a human or as a machine, per campaign.

The dialplan reports the verdict with the treatment it chose in the event name
(``amd-notsure-machine`` ...), so events alone say the outcome: the fold, the
reconciliation and the results need no campaign settings to read them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

DAY = 24 * 3600

# AMDSTATUS values (app_amd.c) and the two treatments
HUMAN, MACHINE, NOTSURE, HANGUP = "HUMAN", "MACHINE", "NOTSURE", "HANGUP"
VERDICTS = (HUMAN, MACHINE, NOTSURE, HANGUP)
AS_HUMAN, AS_MACHINE = "human", "machine"
TREATMENTS = (AS_HUMAN, AS_MACHINE)
MACHINE_ACTIONS = ("hangup", "message")

# events: the verdict as reported (name -> (verdict, treatment)); a left voicemail;
# a greeting that never ended within the cap
AMD_PREFIX = "amd-"
VERDICT_EVENTS = {
    "amd-human": (HUMAN, AS_HUMAN),
    "amd-machine": (MACHINE, AS_MACHINE),
    "amd-notsure-human": (NOTSURE, AS_HUMAN),
    "amd-notsure-machine": (NOTSURE, AS_MACHINE),
    "amd-hangup-human": (HANGUP, AS_HUMAN),
    "amd-hangup-machine": (HANGUP, AS_MACHINE),
}
MACHINE_EVENTS = tuple(n for n, (_, how) in VERDICT_EVENTS.items() if how == AS_MACHINE)
MESSAGE_LEFT = "vm-left"
MESSAGE_TIMEOUT = "vm-timeout"
EVENTS = (*VERDICT_EVENTS, MESSAGE_LEFT, MESSAGE_TIMEOUT)
CAUSE_MAX = 40  # "INITIALSILENCE-2500-2500" is 24 characters
# a voicemail sound or file name: what a dialplan argument carries (app.pbx.dialplan)
_SOUND_RE = re.compile(r"[A-Za-z0-9_./+-]+")

# outcomes of an answered call that reached a machine
MACHINE_OUTCOME = "machine"
MESSAGE_OUTCOME = "machine-message"
OUTCOMES = (MACHINE_OUTCOME, MESSAGE_OUTCOME)


@dataclass(frozen=True)
class Bound:
    """The whole numbers a setting takes, and its default."""

    low: int
    high: int
    default: int
    help: str = ""


# app_amd.c's parameters, in AMD()'s argument order; defaults are its dflt* values
PARAMETERS = {
    "initial_silence_ms": Bound(100, 10_000, 2500, "longest silence before the greeting; "
                                "more: MACHINE"),
    "greeting_ms": Bound(100, 10_000, 1500, "longest greeting; more: MACHINE"),
    "after_greeting_silence_ms": Bound(100, 5000, 800, "silence after the greeting that "
                                       "means HUMAN"),
    "total_analysis_ms": Bound(500, 30_000, 5000, "longest analysis; more: NOTSURE"),
    "min_word_length_ms": Bound(10, 2000, 100, "shortest voice that counts as a word"),
    "between_words_silence_ms": Bound(10, 2000, 50, "silence that separates two words"),
    "max_words": Bound(1, 20, 2, "more words than this: MACHINE"),
    "silence_threshold": Bound(1, 32767, 256, "level under which a sample is silence "
                               "(0-32767)"),
    "max_word_length_ms": Bound(100, 30_000, 5000, "longest single word; more: MACHINE"),
}
# what the campaign adds around them
POLICY_BOUNDS = {
    # WaitForSilence(<silence_ms>,1,<cap_s>) before the voicemail message
    "message_silence_ms": Bound(100, 10_000, 1500, "silence that ends the greeting (after "
                                "the beep)"),
    "message_cap_s": Bound(1, 120, 30, "longest wait for that silence; then hang up"),
    "machine_retry_s": Bound(0, 30 * DAY, 7200, "wait before calling a machine again"),
    "machine_retries": Bound(0, 19, 0, "machines are called again while the attempt "
                             "number is at most this (max_attempts still caps)"),
}
BOUNDS = {**PARAMETERS, **POLICY_BOUNDS}
CHOICES = {"machine": MACHINE_ACTIONS, "notsure": TREATMENTS, "hangup": TREATMENTS}
FLAGS = ("enabled", "message_on_last_attempt")
TEXTS = {"message_file": 500, "message_sound": 200}
KEYS = (*FLAGS, *BOUNDS, *CHOICES, *TEXTS)


@dataclass(frozen=True)
class AmdSettings:
    """A campaign's AMD settings, defaults filled in."""

    enabled: bool = False
    initial_silence_ms: int = 2500
    greeting_ms: int = 1500
    after_greeting_silence_ms: int = 800
    total_analysis_ms: int = 5000
    min_word_length_ms: int = 100
    between_words_silence_ms: int = 50
    max_words: int = 2
    silence_threshold: int = 256
    max_word_length_ms: int = 5000
    machine: str = "hangup"  # hangup | message
    notsure: str = AS_HUMAN
    hangup: str = AS_HUMAN
    message_file: str = ""  # the voicemail message: uploaded (under MEDIA_DIR) ...
    message_sound: str = ""  # ... or a stock sound
    message_silence_ms: int = 1500
    message_cap_s: int = 30
    message_on_last_attempt: bool = False
    machine_retry_s: int = 7200
    machine_retries: int = 0

    def amd_arguments(self) -> list[int]:
        """AMD()'s nine arguments, in app_amd.c's AST_APP_ARG order."""
        return [getattr(self, name) for name in PARAMETERS]

    def treatment(self, verdict: str) -> str:
        """``human`` or ``machine``: what the dialplan does after ``verdict``."""
        if verdict == HUMAN:
            return AS_HUMAN
        if verdict == MACHINE:
            return AS_MACHINE
        return self.notsure if verdict == NOTSURE else self.hangup

    def leaves_message(self) -> bool:
        """Whether any machine attempt may get the voicemail message."""
        return self.machine == "message" or self.message_on_last_attempt

    def last_machine_attempt(self, max_attempts: int) -> int:
        """The attempt number after which a machine is no longer called again."""
        return max(1, min(int(max_attempts), self.machine_retries + 1))


DEFAULTS = AmdSettings()


def settings_of(stored) -> AmdSettings:
    """The settings a campaign's ``amd`` column (a dict, or a Campaign/spec having one) holds.

    Unknown keys are ignored and missing ones take their default; values are
    trusted as checked by ``amd_problems`` when they were stored.
    """
    if stored is not None and not isinstance(stored, dict):
        stored = getattr(stored, "amd", None)
    if not stored:
        return DEFAULTS
    known = {k: v for k, v in stored.items() if k in KEYS}
    return AmdSettings(**{**asdict(DEFAULTS), **known})


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _value_problems(name, value) -> list[str]:
    field = f"amd.{name}"
    if name in FLAGS:
        return [] if isinstance(value, bool) else [f"{field} must be true or false"]
    if name in BOUNDS:
        bound = BOUNDS[name]
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{field} must be a whole number, not {_shown(value)}"]
        if not bound.low <= value <= bound.high:
            return [f"{field} must be between {bound.low} and {bound.high}"]
        return []
    if name in CHOICES:
        if value not in CHOICES[name]:
            return [f"{field} must be one of {', '.join(CHOICES[name])}, not {_shown(value)}"]
        return []
    text = value if isinstance(value, str) else None
    if text is None:
        return [f"{field} must be text, not {_shown(value)}"]
    if len(text) > TEXTS[name]:
        return [f"{field} is longer than {TEXTS[name]} characters"]
    if text and not _SOUND_RE.fullmatch(text):
        return [f"{field} {_shown(text)} may hold only letters, digits and _ . / + -"]
    return []


def amd_problems(value) -> list[str]:
    """What is wrong with a campaign's ``amd`` settings (empty: fine; empty or None: off)."""
    if value in (None, {}):
        return []
    if not isinstance(value, dict):
        return [f"amd must be an object of settings, not {_shown(value)}"]
    unknown = sorted(str(k)[:40] for k in value if k not in KEYS)
    found = [f"amd has no setting {', '.join(unknown)[:200]}"] if unknown else []
    for name in KEYS:
        if name in value:
            found += _value_problems(name, value[name])
    if found:
        return found
    settings = settings_of(value)
    if settings.enabled and settings.leaves_message() and not (
        settings.message_file or settings.message_sound
    ):
        found.append("amd.message_sound: a voicemail message (amd.message_file or "
                     "amd.message_sound) is needed to leave one")
    return found


def normalised_amd(value):
    """The settings as stored: every key present (defaults filled in), or {} when off."""
    if not isinstance(value, dict) or not value:
        return value if value is not None else {}
    if any(k not in KEYS for k in value):
        return value  # amd_problems names the stranger
    return asdict(settings_of(value))


# --- verdicts, outcomes and retries ----------------------------------------------------


def verdict_event(verdict: str, treatment: str) -> str:
    """The event name the dialplan reports for ``verdict`` handled as ``treatment``."""
    if verdict in (HUMAN, MACHINE):
        return AMD_PREFIX + verdict.lower()
    return f"{AMD_PREFIX}{verdict.lower()}-{treatment}"


def verdict_of(name: str):
    """(verdict, treatment) of a verdict event name, or None for any other event."""
    return VERDICT_EVENTS.get(name)


def machine_outcome(names) -> str | None:
    """The outcome of an attempt whose events have ``names``: ``machine-message`` when the
    voicemail message was left, ``machine`` when the verdict was handled as a machine,
    else None (a human, or no AMD)."""
    names = set(names)
    if MESSAGE_LEFT in names:
        return MESSAGE_OUTCOME
    if names & set(MACHINE_EVENTS):
        return MACHINE_OUTCOME
    return None


def machine_next(settings: AmdSettings, number: int, max_attempts: int, outcome: str,
                 ended_at: datetime):
    """(retry?, when) after a machine outcome on attempt ``number`` (charged attempts).

    A left message is final; a machine hung up on is called again after
    ``machine_retry_s`` while ``number`` is at most ``machine_retries`` and
    below ``max_attempts`` (the attempt cap stays exact).
    """
    if outcome != MACHINE_OUTCOME:
        return False, ended_at
    if number < settings.last_machine_attempt(max_attempts):
        return True, ended_at + timedelta(seconds=settings.machine_retry_s)
    return False, ended_at


def settings_from_text(pairs) -> dict:
    """``amd`` settings from ``NAME=VALUE`` texts (the CLI's ``--amd``): whole numbers and
    true/false read as such, the rest kept as text for ``amd_problems`` to judge.

    Raises:
        ValueError: a text without ``=`` (the message names it).
    """
    values = {}
    for pair in pairs:
        name, sep, raw = str(pair).partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep:
            raise ValueError(f"amd: {_shown(pair)} is not NAME=VALUE")
        value = raw
        if name in FLAGS and raw.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            value = raw.lower() in ("true", "yes", "on", "1")
        elif name in BOUNDS and raw.lstrip("-").isdigit() and len(raw) <= 12:
            value = int(raw)
        values[name] = value
    if values and "enabled" not in values:
        values["enabled"] = True
    return values
