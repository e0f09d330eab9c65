"""A stand-in for Asterisk's stock sounds: short 8 kHz WAVs under the names main/say.c plays."""

from __future__ import annotations

import string
import wave
from pathlib import Path

FILE_S = 0.1  # every stock sound lasts this long


def stock_names() -> list[str]:
    digits = [f"digits/{n}" for n in [*range(21), 30, 40, 50, 60, 70, 80, 90]]
    digits += [f"digits/{w}" for w in ("hundred", "thousand", "million", "billion", "minus",
                                       "oh", "oclock", "a-m", "p-m", "star", "pound",
                                       "dollars")]
    digits += [f"digits/h-{n}" for n in [*range(1, 20), 20, 30]]
    digits += [f"digits/day-{n}" for n in range(7)] + [f"digits/mon-{n}" for n in range(12)]
    letters = [f"letters/{c}" for c in string.ascii_lowercase] + ["letters/space",
                                                                  "letters/dash"]
    return digits + letters + ["cents", "hello", "hello-world", "euros"]


def write_wav(path: Path, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * int(8000 * seconds))
    return path


def make_sounds(folder: Path, language: str = "en") -> Path:
    """``folder/<language>/<name>.wav`` for every stock name; returns ``folder``."""
    for name in stock_names():
        write_wav(folder / language / f"{name}.wav", FILE_S)
    return folder
