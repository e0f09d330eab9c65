"""The text-to-speech engine behind a small interface, and its output as Asterisk plays it.

``engine_of(settings)``: espeak-ng (Debian's ``espeak-ng``) unless ``TTS_COMMAND``
names another command line. Either way the text goes on stdin (never on a command
line, never through a shell) and a WAV comes back, which ``telephony_wav`` turns into
8 kHz mono 16-bit PCM: what Asterisk's ``wav`` format plays without transcoding.
"""

from __future__ import annotations

import io
import shlex
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from app.errors import ValidationError

RATE = 8000
TIMEOUT_S = 60.0
FILTER_TAPS = 63


class TtsError(Exception):
    """The engine failed on one text (the message names the engine, never the text)."""


class Engine:
    """Say ``text`` in ``language`` / ``voice``; return the WAV bytes the engine wrote."""

    name = "engine"

    def synthesize(self, text: str, language: str, voice: str) -> bytes:  # pragma: no cover
        raise NotImplementedError


class EspeakEngine(Engine):
    """espeak-ng: ``-v <language>[+<voice>]``, text on stdin, WAV on stdout."""

    name = "espeak-ng"

    def __init__(self, binary: str = "espeak-ng"):
        self.binary = binary

    def synthesize(self, text, language, voice):
        spec = f"{language}+{voice}" if voice else language
        return _run([self.binary, "-v", spec, "--stdout"], text, self.name)


class CommandEngine(Engine):
    """``TTS_COMMAND``: a command line with ``{lang}``, ``{voice}``, ``{out}`` filled in."""

    def __init__(self, command: str):
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValidationError("TTS_COMMAND is empty")
        self.name = Path(self.argv[0]).name

    def synthesize(self, text, language, voice):
        with tempfile.TemporaryDirectory(prefix="callcast-tts-") as tmp:
            out = Path(tmp) / "out.wav"
            argv = [a.replace("{lang}", language).replace("{voice}", voice)
                    .replace("{out}", str(out)) for a in self.argv]
            written = _run(argv, text, self.name)
            uses_out = any("{out}" in a for a in self.argv)
            return out.read_bytes() if uses_out else written


def _run(argv, text: str, name: str) -> bytes:
    try:
        done = subprocess.run(argv, input=text.encode("utf-8"), capture_output=True,
                              timeout=TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise TtsError(f"{name}: command not found ({argv[0]})") from None
    except subprocess.TimeoutExpired:
        raise TtsError(f"{name}: no answer in {TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise TtsError(f"{name}: exit {done.returncode} {detail[0][:120]}")
    return done.stdout


def engine_of(settings) -> Engine:
    """The configured engine: ``TTS_COMMAND`` when set, else espeak-ng."""
    command = getattr(settings, "tts_command", "")
    return CommandEngine(command) if command else EspeakEngine()


def samples(data: bytes) -> tuple[np.ndarray, int]:
    """A WAV's samples as mono float64 in -1..1, and its rate."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise TtsError(f"the engine's output is no WAV: {exc}") from None
    if width == 1:
        pcm = (np.frombuffer(frames, np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        pcm = np.frombuffer(frames, "<i2").astype(np.float64) / 32768.0
    elif width == 4:
        pcm = np.frombuffer(frames, "<i4").astype(np.float64) / 2147483648.0
    else:
        raise TtsError(f"the engine's WAV has {width * 8}-bit samples")
    if channels > 1:
        pcm = pcm[: len(pcm) // channels * channels].reshape(-1, channels).mean(axis=1)
    return pcm, rate


def resample(pcm: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    """``pcm`` at ``target`` Hz: a windowed-sinc low-pass below the new Nyquist, then
    linear interpolation (a downsampling from espeak-ng's 22,050 Hz aliases without it)."""
    if rate == target or len(pcm) == 0:
        return pcm
    if target < rate:
        cutoff = 0.45 * target / rate  # of the source rate
        n = np.arange(FILTER_TAPS) - (FILTER_TAPS - 1) / 2
        taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(FILTER_TAPS)
        pcm = np.convolve(pcm, taps / taps.sum(), mode="same")
    count = int(round(len(pcm) * target / rate))
    if len(pcm) < 2:
        return np.resize(pcm, count)
    # linear interpolation at regular positions: indexes, not np.interp's search
    x = np.arange(count) * (rate / target)
    i = np.minimum(x.astype(np.int64), len(pcm) - 2)
    return pcm[i] + (pcm[i + 1] - pcm[i]) * (x - i)


def telephony_wav(data: bytes) -> tuple[bytes, int]:
    """Any PCM WAV as 8 kHz mono 16-bit WAV bytes, and its duration in milliseconds."""
    pcm, rate = samples(data)
    out = np.clip(np.round(resample(pcm, rate) * 32767.0), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(out.tobytes())
    return buf.getvalue(), int(len(out) * 1000 / RATE)
