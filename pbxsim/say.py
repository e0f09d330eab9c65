"""What Asterisk's Say applications play, file by file, and how long a sound file lasts.

The file lists follow Asterisk's ``main/say.c`` for English:

* ``SayNumber``: ``get_number_str_en`` (``digits/minus``, ``digits/N`` below 20, tens,
  ``digits/hundred``, ``digits/thousand``, ``digits/million``, ``digits/billion``; 0 is
  ``digits/0``);
* ``SayDigits``: ``ast_get_digit_str`` (``digits/N``, ``digits/star``, ``digits/pound``,
  ``digits/minus``), keeping only files that exist (``ast_fileexists``);
* ``SayAlpha``: ``ast_get_character_str`` with ``AST_SAY_CASE_NONE`` (``letters/x``,
  ``digits/N``, ``letters/space``, ``letters/dash`` ...), only files that exist;
* ``SayUnixTime``: ``ast_say_date_with_format_en`` for the letters A a B b h d e Y I l H k
  M p P and ' ' (ignored); ``d``/``e`` say an enumeration (``ast_say_enumeration_full_en``).

``Sounds`` resolves a name as ``ast_openstream`` does (absolute, else
``<sounds dir>/<language>/name`` then ``<sounds dir>/name``, any known format) and
reads its length: a WAV from its header, raw formats from their size.
"""

from __future__ import annotations

import logging
import os
import wave
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

# bytes per second of the raw formats (main/formats/*)
RAW_RATES = {".sln": 16000, ".ulaw": 8000, ".alaw": 8000, ".gsm": 1650, ".g722": 8000}
FORMATS = (".wav", ".WAV", *RAW_RATES)
INT_MAX = 2**31 - 1

_CHARACTERS = {"*": "digits/star", "#": "digits/pound", "!": "letters/exclaimation-point",
               "@": "letters/at", "$": "letters/dollar", "-": "letters/dash",
               ".": "letters/dot", "=": "letters/equals", "+": "letters/plus",
               "/": "letters/slash", " ": "letters/space"}
_DIGITS = {"*": "digits/star", "#": "digits/pound", "-": "digits/minus"}


class Sounds:
    """Sound files as pbxsim finds them, and their lengths (cached)."""

    def __init__(self, sounds_dir: str | None = None):
        self.sounds_dir = sounds_dir or None
        self._seconds = {}

    def path_of(self, name: str, language: str = "en") -> str | None:
        """The file Asterisk would open for ``name``, or None."""
        if os.path.isabs(name):
            bases = [name]
        elif self.sounds_dir:
            bases = [os.path.join(self.sounds_dir, language, name),
                     os.path.join(self.sounds_dir, name)]
        else:
            return None
        for base in bases:
            for ext in FORMATS:
                if os.path.isfile(base + ext):
                    return base + ext
        return None

    def exists(self, name: str, language: str = "en") -> bool:
        return self.path_of(name, language) is not None

    def seconds(self, path: str) -> float:
        if path not in self._seconds:
            self._seconds[path] = _length(path)
        return self._seconds[path]


def _length(path: str) -> float:
    ext = os.path.splitext(path)[1]
    if ext in RAW_RATES:
        return os.path.getsize(path) / RAW_RATES[ext]
    try:
        with wave.open(path) as w:
            frames = w.getnframes()
            per_frame = w.getsampwidth() * w.getnchannels()
            # espeak-ng --stdout writes a placeholder size: trust the file's length then
            data = os.path.getsize(path) - 44
            if per_frame and frames * per_frame > data:
                frames = max(0, data // per_frame)
            return frames / float(w.getframerate())
    except (wave.Error, EOFError, OSError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return 0.0


def number_files(num: int) -> list[str]:
    """``get_number_str_en``."""
    if num == 0:
        return ["digits/0"]
    out = []
    playh = False
    while num or playh:
        if num < 0:
            out.append("digits/minus")
            num = -num if num > -INT_MAX - 1 else 0
        elif playh:
            out.append("digits/hundred")
            playh = False
        elif num < 20:
            out.append(f"digits/{num}")
            num = 0
        elif num < 100:
            out.append(f"digits/{num // 10 * 10}")
            num %= 10
        elif num < 1000:
            out.append(f"digits/{num // 100}")
            playh = True
            num %= 100
        else:
            for size, word in ((10**9, "billion"), (10**6, "million"), (10**3, "thousand")):
                if num >= size:
                    out += number_files(num // size) + [f"digits/{word}"]
                    num %= size
                    break
    return out


def enumeration_files(num: int) -> list[str]:
    """``ast_say_enumeration_full_en`` for the days of a month (1..31)."""
    if num < 20:
        return [f"digits/h-{num}"]
    tens, unit = divmod(num, 10)
    return [f"digits/h-{tens * 10}"] if unit == 0 else [f"digits/{tens * 10}", f"digits/h-{unit}"]


def digit_files(text: str, exists) -> list[str]:
    """``ast_get_digit_str``: only the files that exist."""
    names = [f"digits/{c}" if c.isdigit() else _DIGITS.get(c) for c in text]
    return [n for n in names if n and exists(n)]


def character_files(text: str, exists) -> list[str]:
    """``ast_get_character_str`` (case none): only the files that exist."""
    out = []
    for c in text:
        if c.isdigit():
            name = f"digits/{c}"
        elif c in _CHARACTERS:
            name = _CHARACTERS[c]
        else:
            name = f"letters/{c.lower()}"
        if exists(name):
            out.append(name)
        elif exists(f"letters/ascii{ord(c)}"):
            out.append(f"letters/ascii{ord(c)}")
    return out


def _hour24(hour: int, oh: bool) -> list[str]:
    out = ["digits/oh"] if (hour < 10 if oh else hour == 0) else []
    if hour:
        if hour > 20:
            out.append("digits/20")
            hour -= 20
        out.append(f"digits/{hour}")
    return out


def _minute(minute: int) -> list[str]:
    if minute == 0:
        return ["digits/oclock"]
    if minute < 10:
        return ["digits/oh", f"digits/{minute}"]
    return number_files(minute)


def date_files(unixtime: int, zone: str, fmt: str) -> list[str]:
    """``ast_say_date_with_format_en`` for the letters Callcast writes."""
    try:
        tz = ZoneInfo(zone) if zone else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        tz = timezone.utc
    tm = datetime.fromtimestamp(unixtime, tz)
    wday = (tm.weekday() + 1) % 7  # struct tm: 0 is Sunday
    out = []
    for letter in fmt:
        if letter in "Aa":
            out.append(f"digits/day-{wday}")
        elif letter in "Bbh":
            out.append(f"digits/mon-{tm.month - 1}")
        elif letter in "de":
            out += enumeration_files(tm.day)
        elif letter == "Y":
            out += number_files(tm.year)
        elif letter in "Il":
            hour = tm.hour % 12 or 12
            out.append(f"digits/{hour}")
        elif letter in "Hk":
            out += _hour24(tm.hour, letter == "H")
        elif letter == "M":
            out += _minute(tm.minute)
        elif letter in "Pp":
            out.append("digits/p-m" if tm.hour > 11 else "digits/a-m")
        elif letter != " ":
            log.warning("Unknown character in datetime format %s: %s", fmt, letter)
    return out
