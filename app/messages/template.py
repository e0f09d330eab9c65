"""A campaign's message template: its segments, in order, and the one rule they follow.

Stored as JSON in ``campaign.message_template``::

    {"language": "en", "voice": "",
     "segments": [
       {"kind": "sound", "sound": "hello"},                        # a recorded/stock sound
       {"kind": "say", "field": "code", "as": "digits"},           # SayDigits
       {"kind": "say", "field": "due", "as": "date", "format": "ABdY"},  # SayUnixTime
       {"kind": "say", "field": "balance", "as": "money",
        "unit": "euros", "subunit": "cents"},                      # SayNumber + unit sounds
       {"kind": "tts", "text": "Hello {name}, see you soon"}]}     # the TTS engine

An empty template (no segments) means the campaign plays ``message_file`` or
``message_sound`` as before. ``template_problems`` is the rule: the admin form,
the CLI, the API and activation all call it (through ``app.messages.editing``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from app.quoting import quote_input

KINDS = ("sound", "say", "tts")
SAY_AS = ("number", "digits", "alpha", "date", "time", "money")
MAX_SEGMENTS = 20
MAX_TEXT = 500  # characters of a TTS text, before and after substitution
# a sound name as a dialplan argument carries it (app.pbx.dialplan._SOUND_RE)
SOUND_RE = re.compile(r"[A-Za-z0-9_./+-]{1,200}\Z")
# SayUnixTime format letters we offer (main/say.c say_date_with_format_en), quotes excluded
FORMAT_RE = re.compile(r"[AaBbhdeYIlHkMPp ]{1,20}\Z")
DEFAULT_FORMATS = {"date": "ABdY", "time": "IMp"}
LANGUAGE_RE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?\Z")
VOICE_RE = re.compile(r"[A-Za-z0-9_+-]{0,40}\Z")


@dataclass(frozen=True)
class Segment:
    """One part of the message; ``index`` is its place (1-based, names its variables)."""

    index: int
    kind: str
    sound: str = ""
    field: str = ""
    say_as: str = ""
    format: str = ""
    unit: str = ""
    subunit: str = ""
    text: str = ""

    @property
    def fields(self) -> list[str]:
        """The contact fields this segment reads."""
        if self.kind == "say":
            return [self.field]
        if self.kind == "tts":
            return placeholders(self.text)
        return []


@dataclass(frozen=True)
class Template:
    segments: tuple
    language: str = "en"
    voice: str = ""

    @property
    def empty(self) -> bool:
        return not self.segments

    @property
    def has_tts(self) -> bool:
        return any(s.kind == "tts" for s in self.segments)


EMPTY = Template(())


def placeholders(text: str) -> list[str]:
    """The ``{field}`` names of a TTS text, in order (``{{`` and ``}}`` are literal braces)."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


def _where(i: int) -> str:
    return f"segment {i}"


def segment_problems(i: int, raw, columns) -> list[str]:
    """What is wrong with one raw segment (a dict), each problem naming the segment and field."""
    if not isinstance(raw, dict):
        return [f"{_where(i)} must be an object with a kind"]
    kind = raw.get("kind")
    if kind not in KINDS:
        return [f"{_where(i)}: kind must be one of {', '.join(KINDS)}, not {quote_input(kind)}"]
    if kind == "sound":
        sound = str(raw.get("sound") or "")
        if not SOUND_RE.match(sound):
            return [f"{_where(i)}: sound {quote_input(sound)} must be a sound name (letters, "
                    "digits, _ . / + -, at most 200)"]
        return []
    if kind == "tts":
        return _tts_problems(i, raw, columns)
    return _say_problems(i, raw, columns)


def _field_problem(i: int, name, columns) -> list[str]:
    if columns is not None and name not in columns:
        shown = ", ".join(quote_input(c, 30) for c in columns[:12]) or "none"
        return [f"{_where(i)}: unknown field {quote_input(name)} (the list's columns: {shown})"]
    return []


def _say_problems(i: int, raw, columns) -> list[str]:
    found = []
    say_as = raw.get("as")
    if say_as not in SAY_AS:
        found.append(f"{_where(i)}: as must be one of {', '.join(SAY_AS)}, "
                     f"not {quote_input(say_as)}")
    name = raw.get("field")
    if not isinstance(name, str) or not name:
        found.append(f"{_where(i)}: field is required")
    else:
        found += _field_problem(i, name, columns)
    fmt = raw.get("format")
    if fmt and (say_as not in ("date", "time") or not FORMAT_RE.match(str(fmt))):
        found.append(f"{_where(i)}: format {quote_input(fmt)} is not a SayUnixTime format of "
                     "a date or time (letters AaBbhdeYIlHkMPp and spaces)")
    for key in ("unit", "subunit"):
        value = raw.get(key)
        if value and (say_as != "money" or not SOUND_RE.match(str(value))):
            found.append(f"{_where(i)}: {key} {quote_input(value)} must be a sound name of "
                         "a money segment")
    return found


def _tts_problems(i: int, raw, columns) -> list[str]:
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        return [f"{_where(i)}: text is required"]
    if len(text) > MAX_TEXT:
        return [f"{_where(i)}: text is longer than {MAX_TEXT} characters"]
    try:
        names = placeholders(text)
    except ValueError as exc:
        return [f"{_where(i)}: text has a bad placeholder ({exc}); write {{{{ for a brace"]
    found = []
    for name in names:
        if not name or not name.isprintable() or any(c in name for c in "[].!:"):
            found.append(f"{_where(i)}: placeholder {{{quote_input(name)}}} must name a field")
        else:
            found += _field_problem(i, name, columns)
    return found


def template_problems(raw, columns=None) -> list[str]:
    """What is wrong with a raw template (a dict as stored); empty: fine.

    ``columns``: the contact list's columns, to check the fields (None: not checked).
    """
    if raw in (None, {}):
        return []
    if not isinstance(raw, dict):
        return ["message_template must be an object with segments"]
    found = []
    unknown = set(raw) - {"segments", "language", "voice"}
    if unknown:
        found.append(f"message_template has no key {quote_input(sorted(map(str, unknown))[0])}")
    language = raw.get("language", "en")
    if not isinstance(language, str) or not LANGUAGE_RE.match(language):
        found.append(f"language {quote_input(language)} must be a language code like en or pt-br")
    voice = raw.get("voice", "")
    if not isinstance(voice, str) or not VOICE_RE.match(voice):
        found.append(f"voice {quote_input(voice)} must be a voice name (letters, digits, _ + -)")
    segments = raw.get("segments")
    if not isinstance(segments, list):
        return found + ["segments must be a list"]
    if len(segments) > MAX_SEGMENTS:
        return found + [f"a template has at most {MAX_SEGMENTS} segments"]
    for i, seg in enumerate(segments, 1):
        found += segment_problems(i, seg, columns)
    return found


def parse(raw) -> Template:
    """The stored JSON as a ``Template`` (call ``template_problems`` first)."""
    if not raw or not raw.get("segments"):
        return EMPTY
    segments = []
    for i, seg in enumerate(raw["segments"], 1):
        say_as = seg.get("as", "") if seg["kind"] == "say" else ""
        segments.append(Segment(
            index=i, kind=seg["kind"], sound=seg.get("sound", ""), field=seg.get("field", ""),
            say_as=say_as, format=seg.get("format") or DEFAULT_FORMATS.get(say_as, ""),
            unit=seg.get("unit") or ("digits/dollars" if say_as == "money" else ""),
            subunit=seg.get("subunit") or ("cents" if say_as == "money" else ""),
            text=seg.get("text", ""),
        ))
    return Template(tuple(segments), raw.get("language") or "en", raw.get("voice") or "")
