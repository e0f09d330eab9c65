"""One contact's message: its values as channel variables, its text, and what is wrong with it.

Every value reaches the dialplan only as a channel variable set by the
Originate (``Variable: CC_V<segment>=<value>``, see app.pbx.dialplan_message),
and only in a form that cannot alter the dialplan: a whole number, digits, a
Unix time, a few plain letters, or the path of a generated file. A value that
does not fit its form is the contact's problem (the contact is skipped, not
dialled with a broken message).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

from app.messages.template import Template
from app.quoting import quote_input
from app.windows import zone

INT_MAX = 2**31 - 1  # SayNumber reads the value with ast_str_to_int (main/pbx_builtins.c)
NUMBER_RE = re.compile(r"[+-]?[0-9]{1,10}\Z")
DIGITS_RE = re.compile(r"[0-9*#]{1,32}\Z")
# what SayAlpha may say from a field: letters, digits, space and '-' (each a stock sound in
# main/say.c ast_get_character_str); ',' '(' ')' '$' quotes would split or expand arguments
ALPHA_RE = re.compile(r"[A-Za-z0-9 -]{1,40}\Z")
MONEY_RE = re.compile(r"([+-]?[0-9]{1,9})(?:[.,]([0-9]{1,2}))?\Z")
TIME_FORMATS = ("%H:%M", "%H:%M:%S")
DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y")
TIME_DAY = date(2000, 1, 3)  # the day a bare time is placed on (only its clock is said)
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass
class Rendered:
    """One contact's message: channel variables, the texts to synthesize, the text shown."""

    variables: dict = field(default_factory=dict)  # CC_V<n> -> value
    texts: dict = field(default_factory=dict)  # segment index -> TTS text
    shown: list = field(default_factory=list)  # what each segment says, for people
    problems: list = field(default_factory=list)


def variable(index: int, suffix: str = "V") -> str:
    return f"CC_{suffix}{int(index)}"


def audio_digest(text: str, language: str, voice: str, engine: str) -> str:
    """The content hash naming one synthesized text's file."""
    key = "\x1f".join((engine, language, voice, text))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _number(raw: str, name: str):
    text = raw.replace(" ", "")
    if not NUMBER_RE.match(text) or abs(int(text)) > INT_MAX:
        return None, f"field {quote_input(name)}: {quote_input(raw)} is not a whole number"
    return str(int(text)), None


def _money(raw: str, name: str):
    m = MONEY_RE.match(raw.replace(" ", ""))
    if not m:
        return None, f"field {quote_input(name)}: {quote_input(raw)} is not an amount (like 124.50)"
    cents = (m.group(2) or "").ljust(2, "0") if m.group(2) else ""
    return (str(int(m.group(1))), str(int(cents)) if cents else ""), None


def _moment(raw: str, name: str, say_as: str, tz):
    formats = TIME_FORMATS + DATE_FORMATS if say_as == "time" else DATE_FORMATS
    for fmt in formats:
        try:
            parsed = datetime.strptime(raw.strip(), fmt)
        except ValueError:
            continue
        if fmt in TIME_FORMATS:
            parsed = datetime.combine(TIME_DAY, time(parsed.hour, parsed.minute, parsed.second))
        if not 1971 <= parsed.year <= 2100:
            break
        return str(int(parsed.replace(tzinfo=tz).timestamp())), None
    kind = "a time (HH:MM)" if say_as == "time" else "a date (YYYY-MM-DD [HH:MM])"
    return None, f"field {quote_input(name)}: {quote_input(raw)} is not {kind}"


def say_value(segment, raw: str, tz):
    """The channel variable value(s) of a Say segment, or the problem naming the field."""
    name, say_as = segment.field, segment.say_as
    if not raw.strip():
        return None, f"field {quote_input(name)} is empty"
    if say_as == "number":
        return _number(raw, name)
    if say_as == "money":
        return _money(raw, name)
    if say_as in ("date", "time"):
        return _moment(raw, name, say_as, tz)
    pattern = DIGITS_RE if say_as == "digits" else ALPHA_RE
    value = raw.strip()
    if not pattern.match(value):
        allowed = ("digits, * and #, at most 32" if say_as == "digits"
                   else "letters, digits, spaces and -, at most 40")
        return None, (f"field {quote_input(name)}: {quote_input(raw)} would break the dialplan "
                      f"as {say_as} (allowed: {allowed})")
    return value, None


def tts_text(segment, fields: dict):
    """A TTS segment's text for one contact, or the problem naming the field."""
    values = {}
    for name in set(segment.fields):
        values[name] = CONTROL_RE.sub(" ", str(fields.get(name) or "")).strip()
    text = " ".join(segment.text.format_map(values).split())
    if not text:
        named = ", ".join(quote_input(n) for n in sorted(values)) or "none"
        return None, f"segment {segment.index}: text is empty after substitution (fields {named})"
    if len(text) > 1000:
        return None, f"segment {segment.index}: text is longer than 1000 characters"
    return text, None


def render_contact(template: Template, fields: dict, timezone: str = "UTC") -> Rendered:
    """One contact's variables, TTS texts and shown text; ``problems`` lists what does not fit.

    The TTS segments' variables are filled in later (``app.messages.audio``): they name the
    synthesized file, known once the text's digest is.
    """
    out = Rendered()
    tz = zone(timezone)
    fields = fields or {}
    for seg in template.segments:
        if seg.kind == "sound":
            out.shown.append(f"[{seg.sound}]")
            continue
        if seg.kind == "tts":
            text, problem = tts_text(seg, fields)
            if problem:
                out.problems.append(problem)
            else:
                out.texts[seg.index] = text
                out.shown.append(text)
            continue
        raw = CONTROL_RE.sub(" ", str(fields.get(seg.field, "")))
        value, problem = say_value(seg, raw, tz)
        if problem:
            out.problems.append(problem)
        elif seg.say_as == "money":
            out.variables[variable(seg.index)] = value[0]
            out.variables[variable(seg.index, "C")] = value[1]
            out.shown.append(f"<{seg.say_as} {raw.strip()}>")
        else:
            out.variables[variable(seg.index)] = value
            out.shown.append(f"<{seg.say_as} {raw.strip()}>")
    return out
