"""The generated message part of a campaign context: a template's segments as dialplan steps.

Each segment becomes steps of the ``s`` extension (``message_steps``), in order:

* a sound: ``Read(CC_DIGIT,<sound>,1,t,1,0.01)``: played so a digit pressed during it counts;
* a TTS text: the same ``Read`` on ``${CC_V<n>}``, the generated file (path without
  extension) the Originate set;
* a field said by Asterisk: ``SayNumber(${CC_V<n>})``, ``SayDigits``, ``SayAlpha``,
  ``SayUnixTime(${CC_V<n>},<zone>,<format>)``; money is ``SayNumber`` of the whole part,
  the unit sound, then (when ``CC_C<n>`` is set) ``SayNumber`` of the cents and their sound.

``SAY_DTMF_INTERRUPT=true`` (set before the message) makes the Say applications stop on
a digit and return it, and ``__ast_pbx_run`` then jumps to the extension of that digit,
or to ``i`` with ``INVALID_EXTEN`` (main/pbx_builtins.c ``permit_dtmf_interrupt``,
apps/app_sayunixtime.c, main/pbx.c): the same place a ``Read`` digit goes. After each
``Read`` the digit read is checked with ``GotoIf`` to the ``digit`` label.

Field values are never written here: only ``${CC_V<n>}`` / ``${CC_C<n>}`` (channel
variables of the Originate, app.messages.values). The steps are pure (same template, same
text) and take a ``label`` prefix, so the voicemail message of the answering-machine
detection can reuse them with ``interruptible=False``.
"""

from __future__ import annotations

from app.messages.template import SOUND_RE, Template
from app.messages.values import variable
from app.pbx.errors import DialplanError

# a prompt played with Read so a digit can interrupt it: one try, 10 ms wait after it
# (app_read.c: a timeout <= 0 would mean the PBX's default of seconds)
QUICK_WAIT_S = "0.01"
SAY_APPS = {"number": "SayNumber", "digits": "SayDigits", "alpha": "SayAlpha"}


def _play(prompt: str, digit_label: str | None) -> list[str]:
    if digit_label is None:
        return [f" same => n,Playback({prompt})"]
    return [
        f" same => n,Read(CC_DIGIT,{prompt},1,t,1,{QUICK_WAIT_S})",
        f' same => n,GotoIf($["${{CC_DIGIT}}" != ""]?{digit_label})',
    ]


def _sound(name: str) -> str:
    if not SOUND_RE.match(name):
        raise DialplanError(f"sound {name!r} has characters Asterisk arguments cannot carry")
    return name


def _zone(timezone: str) -> str:
    if not SOUND_RE.match(timezone):
        raise DialplanError(f"time zone {timezone!r} cannot be a SayUnixTime argument")
    return timezone


def segment_steps(seg, timezone: str, digit_label: str | None, label: str) -> list[str]:
    """The dialplan steps of one segment."""
    value = f"${{{variable(seg.index)}}}"
    if seg.kind == "sound":
        return _play(_sound(seg.sound), digit_label)
    if seg.kind == "tts":
        return _play(value, digit_label)
    if seg.say_as in SAY_APPS:
        return [f" same => n,{SAY_APPS[seg.say_as]}({value})"]
    if seg.say_as in ("date", "time"):
        return [f" same => n,SayUnixTime({value},{_zone(timezone)},{seg.format})"]
    cents = f"${{{variable(seg.index, 'C')}}}"
    skip = f"{label}{seg.index}c"
    return [
        f" same => n,SayNumber({value})",
        *_play(_sound(seg.unit), digit_label),
        f' same => n,GotoIf($["{cents}" = ""]?{skip})',
        f" same => n,SayNumber({cents})",
        *_play(_sound(seg.subunit), digit_label),
        f" same => n({skip}),NoOp()",
    ]


def message_steps(template: Template, timezone: str, *, digit_label: str | None = "digit",
                  label: str = "m") -> list[str]:
    """Every segment's steps, in order; ``digit_label=None``: not interruptible (Playback)."""
    out = []
    for seg in template.segments:
        out += segment_steps(seg, timezone, digit_label, label)
    return out


def voicemail_steps(template: Template, timezone: str) -> list[str]:
    """The personalised message left on an answering machine (AMD, after its voicemail
    sound): the same segments, in the template's language, played through (no digit
    is waited for on a machine)."""
    return [_language_step(template), *message_steps(template, timezone, digit_label=None,
                                                     label="vm")]


def _language_step(template: Template) -> str:
    language = asterisk_language(template.language)
    if not SOUND_RE.match(language):
        raise DialplanError(f"language {language!r} cannot be a dialplan argument")
    return f" same => n,Set(CHANNEL(language)={language})"


def asterisk_language(language: str) -> str:
    """The template's language as Asterisk names its sounds folders: ``pt-br`` -> ``pt_BR``."""
    base, _, region = language.replace("_", "-").partition("-")
    return f"{base}_{region.upper()}" if region else base


def menu_steps(template: Template, timezone: str, repeats: int, timeout: int,
               report) -> list[str]:
    """The ``menu`` loop of a templated campaign: the message, a wait for a digit, again.

    ``report(event)``: the Gosub of one report (app.pbx.dialplan). The channel's language
    is the template's, so the Say applications pick their prompts (and ``main/say.c`` its
    rules) in it (funcs/func_channel.c: ``CHANNEL(language)`` is writable).
    """
    return [
        _language_step(template),
        " same => n,Set(SAY_DTMF_INTERRUPT=true)",
        " same => n(menu),Set(CC_PLAYS=$[${CC_PLAYS} + 1])",
        " same => n,Set(CC_DIGIT=)",
        *message_steps(template, timezone),
        f" same => n,Read(CC_DIGIT,,1,t,1,{timeout})",
        ' same => n(digit),GotoIf($["${CC_DIGIT}" = ""]?again)',
        " same => n,Goto(${CC_DIGIT},1)",
        f" same => n(again),GotoIf($[${{CC_PLAYS}} < {repeats}]?menu)",
        f" same => n,{report('timeout')}",
        " same => n,Hangup()",
        "",
    ]
