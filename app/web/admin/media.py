"""Campaign messages: check an uploaded WAV or GSM file and store it in MEDIA_DIR.

A stored message is also recorded in the database (``app.pbx.media.record``): the
PBX hosts with a dialplan agent get it from there.

Asterisk plays ``.wav`` as 16-bit signed linear mono at 8 kHz (``wav``) or
16 kHz (``wav16``), and ``.gsm`` as raw GSM 06.10 frames of 33 bytes whose
first nibble is 0xD. Anything else would play as noise or not at all, so it
is refused here with the reason.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from app.errors import ValidationError
from app.pbx import media
from app.uploads import store_bytes

MAX_MESSAGE_BYTES = media.MAX_BYTES  # what the database keeps for the PBX hosts, too
WAV_RATES = (8000, 16000)
GSM_FRAME = 33
# stock sounds shipped with Asterisk's core sound package
STOCK_SOUNDS = (
    "hello-world",
    "demo-congrats",
    "demo-thanks",
    "vm-goodbye",
    "tt-monkeys",
    "tt-weasels",
    "beep",
    "custom/callcast-default",
)


def check_wav(data: bytes) -> dict:
    """The format of a playable WAV.

    Raises:
        ValidationError: not RIFF/WAVE, not PCM, not mono 16-bit at 8/16 kHz, or no audio.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValidationError("not a WAV file (no RIFF/WAVE header)")
    pos, fmt, audio_bytes = 12, None, None
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise ValidationError("WAV fmt chunk is truncated")
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif chunk_id == b"data":
            audio_bytes = len(body)
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    if fmt is None:
        raise ValidationError("WAV has no fmt chunk")
    audio_format, channels, rate, _, _, bits = fmt
    if audio_format != 1:
        raise ValidationError(f"WAV must be PCM (format 1), got format {audio_format}")
    if channels != 1:
        raise ValidationError(f"WAV must be mono, got {channels} channels")
    if bits != 16:
        raise ValidationError(f"WAV must be 16-bit, got {bits}-bit")
    if rate not in WAV_RATES:
        raise ValidationError(f"WAV must be 8000 or 16000 Hz, got {rate} Hz")
    if not audio_bytes:
        raise ValidationError("WAV has no audio data")
    return {"format": "wav", "rate": rate, "seconds": round(audio_bytes / (2 * rate), 2)}


def check_gsm(data: bytes) -> dict:
    """The length of a playable raw GSM 06.10 file.

    Raises:
        ValidationError: empty, not whole 33-byte frames, or a frame without the 0xD signature.
    """
    if not data:
        raise ValidationError("GSM file is empty")
    if len(data) % GSM_FRAME:
        raise ValidationError(f"GSM file is not whole {GSM_FRAME}-byte frames ({len(data)} bytes)")
    for offset in range(0, len(data), GSM_FRAME):
        if data[offset] >> 4 != 0xD:
            raise ValidationError(f"GSM frame {offset // GSM_FRAME + 1} has no 0xD signature")
    return {"format": "gsm", "rate": 8000, "seconds": round(len(data) / GSM_FRAME * 0.02, 2)}


def check_message(filename: str, data: bytes) -> dict:
    """Check a message by its extension and content.

    Raises:
        ValidationError: unknown extension, too large, or a bad file.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise ValidationError(f"message is larger than {MAX_MESSAGE_BYTES // (1024 * 1024)} MB")
    ext = Path(filename or "").suffix.lower()
    if ext == ".wav":
        return check_wav(data)
    if ext == ".gsm":
        return check_gsm(data)
    raise ValidationError("message must be a .wav or .gsm file")


def store_message(media_dir: Path, campaign_id: int, filename: str, data: bytes) -> str:
    """Check, store and record a message; return its path relative to ``media_dir``.

    The name carries a content hash so a new upload never overwrites a file a
    running call may be playing. Called inside the transaction that names it.

    Raises:
        ValidationError: the file would not play (see check_message).
    """
    info = check_message(filename, data)
    digest = hashlib.sha256(data).hexdigest()[:12]
    relative = Path("campaigns") / str(campaign_id) / f"message-{digest}.{info['format']}"
    store_bytes(Path(media_dir) / relative, data)
    media.record(relative, data, campaign_id)
    return str(relative)
