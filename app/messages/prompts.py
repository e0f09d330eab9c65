"""Where a synthesized text's file is, named under a MEDIA_DIR: the one rule the synthesis
cache (``app.messages.audio``), activation and the Originate (``app.pbx.originate``: the
MEDIA_DIR of the PBX that carries the call) share. Paths only: no file is touched here.
"""

from __future__ import annotations

import re
from pathlib import Path

# a CC_V<n> value naming a synthesized file: <MEDIA_DIR>/tts/campaign-<id>/<sha256>
PROMPT_RE = re.compile(r"/tts/campaign-([0-9]{1,18})/([0-9a-f]{64})\Z")
FOLDER_RE = re.compile(r"campaign-([0-9]{1,18})\Z")


def speech_root(media_dir) -> Path:
    """The folder of every campaign's speech files under ``media_dir``."""
    return Path(media_dir) / "tts"


def audio_dir(settings, campaign_id: int) -> Path:
    return speech_root(settings.media_dir) / f"campaign-{int(campaign_id)}"


def speech_folders(media_dir) -> dict[int, Path]:
    """campaign id -> its folder of speech files under ``media_dir`` (real folders only)."""
    root = speech_root(media_dir)
    if not root.is_dir():
        return {}
    found = {}
    for entry in root.iterdir():
        match = FOLDER_RE.match(entry.name)
        if match and entry.is_dir() and not entry.is_symlink():
            found[int(match.group(1))] = entry
    return found


def audio_file(settings, campaign_id: int, digest: str) -> Path:
    """The WAV of one text; the dialplan plays it as this path without ``.wav``."""
    return audio_dir(settings, campaign_id) / f"{digest}.wav"


def prompt_of(settings, campaign_id: int, digest: str) -> str:
    return str(audio_file(settings, campaign_id, digest))[: -len(".wav")]


def prompts_under(variables, campaign_id: int, settings) -> dict:
    """``variables`` with each synthesized file of ``campaign_id`` named under
    ``settings.media_dir`` (activation stored them under its own: a PBX host with an
    agent keeps its copies under the MEDIA_DIR it reported)."""
    out = dict(variables or {})
    for name, value in out.items():
        found = PROMPT_RE.search(value) if isinstance(value, str) else None
        if found and int(found.group(1)) == int(campaign_id):
            out[name] = prompt_of(settings, campaign_id, found.group(2))
    return out
