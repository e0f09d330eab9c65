"""One contact's message as a WAV for the console's "preview for contact N".

The TTS parts come from the engine (``app.messages.tts``, not cached: a preview writes
nothing); the Say parts are the prompts Asterisk would play, joined from the stock
sounds under ``ASTERISK_SOUNDS_DIR`` (a sound that is not there is left out and named).
Which prompts a Say application plays is ``pbxsim.say``: a transcription of Asterisk's
``main/say.c`` that imports nothing, shared so the preview and the simulator agree.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from app.errors import ValidationError
from app.messages.template import parse
from app.messages.tts import RATE, samples, engine_of, resample
from app.messages.values import render_contact, variable
from app.pbx.dialplan_message import asterisk_language
from pbxsim import say

# formats read from the stock sounds: WAV, and the raw 8 kHz signed linear
RAW = {".sln": "<i2"}
MAX_PREVIEW_S = 300


def say_prompts(seg, variables: dict, timezone: str, exists) -> list[str]:
    """The stock prompts of one Say segment, as main/say.c names them (English)."""
    value = variables[variable(seg.index)]
    if seg.say_as == "number":
        return say.number_files(int(value))
    if seg.say_as == "digits":
        return say.digit_files(value, exists)
    if seg.say_as == "alpha":
        return say.character_files(value, exists)
    if seg.say_as in ("date", "time"):
        return say.date_files(int(value), timezone, seg.format)
    cents = variables[variable(seg.index, "C")]
    out = say.number_files(int(value)) + [seg.unit]
    return out + (say.number_files(int(cents)) + [seg.subunit] if cents else [])


class StockSounds:
    """Asterisk's sound folder for one language: ``<dir>/<lang>/name`` then ``<dir>/name``."""

    def __init__(self, folder: Path, language: str):
        self.bases = [Path(folder) / language, Path(folder)]

    def path(self, name: str) -> Path | None:
        for base in self.bases:
            for ext in (".wav", *RAW):
                candidate = base / f"{name}{ext}"
                if candidate.is_file():
                    return candidate
        return None

    def exists(self, name: str) -> bool:
        return self.path(name) is not None

    def pcm(self, name: str):
        path = self.path(name)
        if path is None:
            return None
        if path.suffix in RAW:
            return np.frombuffer(path.read_bytes(), RAW[path.suffix]).astype(np.float64) / 32768
        pcm, rate = samples(path.read_bytes())
        return resample(pcm, rate)


def preview_wav(campaign, fields: dict, settings) -> tuple[bytes, list[str]]:
    """The WAV of one contact's message and the stock prompts that were missing.

    Raises:
        ValidationError: the campaign has no template, or the contact's values do not fit it.
    """
    template = parse(campaign.message_template)
    if template.empty:
        raise ValidationError("this campaign has no message template")
    out = render_contact(template, fields, campaign.timezone)
    if out.problems:
        raise ValidationError("; ".join(out.problems))
    stock = StockSounds(settings.asterisk_sounds_dir, asterisk_language(template.language))
    engine = engine_of(settings)
    pieces, missing = [], []
    for seg in template.segments:
        if seg.kind == "tts":
            pcm, rate = samples(engine.synthesize(out.texts[seg.index], template.language,
                                                   template.voice))
            pieces.append(resample(pcm, rate))
            continue
        names = [seg.sound] if seg.kind == "sound" else say_prompts(
            seg, out.variables, campaign.timezone, stock.exists)
        for name in names:
            pcm = stock.pcm(name)
            if pcm is None:
                missing.append(name)
            else:
                pieces.append(pcm)
    joined = np.concatenate(pieces) if pieces else np.zeros(0)
    joined = joined[: RATE * MAX_PREVIEW_S]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.clip(np.round(joined * 32767), -32768, 32767).astype("<i2").tobytes())
    return buf.getvalue(), missing
