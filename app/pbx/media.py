"""Sound files for the PBX hosts, through the database: recorded where stored, written by agents.

A dialplan plays the campaign's message and its voicemail message by absolute
path under MEDIA_DIR (``app.pbx.dialplan.prompt_of``). A PBX host with a dialplan
agent (``tasks.pbxagent``) shares no file system with the host that stored them,
so every path that stores such a file also records its bytes here (``record``:
the console's uploads; each activation records the files the CLI and the API name,
and those of the campaigns running since before this table, ``record_played``). The agent's message carries only (path, sha256) pairs
(``needed``); the agent reads the bytes from the database and writes each file
that is missing or different under its own MEDIA_DIR (``materialize``) before it
writes the dialplan. The speech files of personalised messages are recorded too,
by the ``tts`` step that makes them, when the pool has an agent PBX
(``agent_pbxs``): that step sends them to the agents files-only and waits for them
before their contacts may be called (``app.messages.audio``); an agent that starts
writes every file recorded for a campaign in a dialplan state (``recorded``). The
rows of a campaign go when its working rows are purged at close (``release``), and an
agent deletes its copies of a closed campaign's speech files (``prune_speech``).

Only names relative to MEDIA_DIR travel: an absolute name is played as it is,
so an activation refuses one while the pool has an agent PBX (``problems``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
from pathlib import Path, PurePosixPath

from app.amd import settings_of as amd_settings_of
from app.clock import utcnow
from app.messages.prompts import speech_folders
from app.models import CLOSED, FINALIZING, Campaign
from app.pbx.dialplan_spec import campaign_spec
from app.pbx.errors import DialplanError, MediaError
from app.pbx.tables import MediaFile, Pbx
from app.private_files import open_private

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024  # a campaign message, as the uploads bound it
MAX_PATH = 500  # media_file.path
CHUNK = 1 << 20


def check_relative(path) -> str:
    """``path`` as a clean name relative to MEDIA_DIR.

    Raises:
        MediaError: empty, too long, absolute, or with a '..' or '.' part (it would
            leave MEDIA_DIR or name one file twice).
    """
    text = str(path or "")
    if not text or len(text) > MAX_PATH or "\\" in text or "\x00" in text:
        raise MediaError(f"media path {text[:80]!r}: empty, too long or with a bad character")
    pure = PurePosixPath(text)
    if pure.is_absolute() or any(part in ("..", ".", "") for part in text.split("/")):
        raise MediaError(f"media path {text[:80]!r} is not a plain path under MEDIA_DIR")
    return str(pure)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record(path, data: bytes, campaign_id: int, now=None) -> MediaFile:
    """Keep ``data`` (the file stored at MEDIA_DIR/``path``) for the PBX hosts.

    The campaign that records a path last keeps its row (``release``).

    Raises:
        MediaError: a bad path, or more than ``MAX_BYTES``.
    """
    relative = check_relative(path)
    data = bytes(data)
    if len(data) > MAX_BYTES:
        raise MediaError(f"media file {relative}: larger than {MAX_BYTES // (1024 * 1024)} MB")
    values = {"sha256": sha256_of(data), "size": len(data), "data": data,
              "campaign_id": int(campaign_id), "created_at": now or utcnow()}
    (MediaFile.insert(path=relative, **values)
     .on_conflict(conflict_target=[MediaFile.path], update=values).execute())
    log.info("media recorded path=%s bytes=%d campaign=%s", relative, len(data), campaign_id)
    return MediaFile.get(MediaFile.path == relative)


def played_names(campaign) -> list[str]:
    """The files a campaign's dialplan plays, as the campaign names them."""
    spec = campaign_spec(campaign, [])
    names = [spec.message_file] if spec.template.empty and spec.message_file else []
    amd = amd_settings_of(spec.amd)
    if amd.enabled and amd.leaves_message() and amd.message_file:
        names.append(amd.message_file)
    return names


def problems(campaign, agent_pbxs: bool) -> list[str]:
    """Why the files of ``campaign`` cannot reach the agent PBX hosts (empty: fine)."""
    if not agent_pbxs:
        return []
    try:
        names = played_names(campaign)
    except DialplanError:
        return []  # the activation's rendering says why
    found = []
    for name in names:
        try:
            check_relative(name)
        except MediaError:
            found.append(f"message file {name!r}: the PBX hosts with an agent receive only "
                         "files named relative to MEDIA_DIR")
    return found


def record_played(campaign, media_dir) -> int:
    """Record the files ``campaign`` plays from this host's MEDIA_DIR when the database
    lacks them or holds other bytes (the CLI and the API name files, they upload none).

    Returns how many were recorded; a file missing here or not relative is left alone
    (``problems`` and the activation's own checks say so).

    Raises:
        MediaError: a file larger than ``MAX_BYTES``.
    """
    recorded = 0
    for name in played_names(campaign):
        try:
            relative = check_relative(name)
        except MediaError:
            continue
        source = Path(media_dir) / relative
        if not source.is_file():
            continue
        if source.stat().st_size > MAX_BYTES:
            raise MediaError(f"media file {relative}: larger than {MAX_BYTES // 1048576} MB")
        data = source.read_bytes()
        row = MediaFile.select(MediaFile.sha256).where(MediaFile.path == relative).first()
        if row is None or row.sha256 != sha256_of(data):
            record(relative, data, campaign_spec(campaign, []).id)
            recorded += 1
    return recorded


def needed(campaigns) -> list[tuple[str, str]]:
    """The (relative path, sha256) of every recorded file ``campaigns`` play.

    ``campaigns``: specs, models, dicts or ids. A file no row holds is left out and
    logged: no PBX host could get it.
    """
    names = set()
    for campaign in campaigns:
        if isinstance(campaign, int):
            campaign = Campaign.get_or_none(Campaign.id == campaign)
            if campaign is None:
                continue
        try:
            names.update(played_names(campaign))
        except DialplanError:
            continue  # a campaign that cannot be rendered plays nothing
    relative = set()
    for name in names:
        try:
            relative.add(check_relative(name))
        except MediaError:
            continue  # absolute: played as named (``problems``)
    if not relative:
        return []
    found = dict(MediaFile.select(MediaFile.path, MediaFile.sha256)
                 .where(MediaFile.path.in_(sorted(relative))).tuples())
    for missing in sorted(relative - set(found)):
        log.warning("media file %s is not recorded: PBX hosts with an agent lack it", missing)
    return sorted(found.items())


def recorded(campaign_ids) -> list[tuple[str, str]]:
    """The (relative path, sha256) of every file recorded for ``campaign_ids``."""
    ids = sorted({int(i) for i in campaign_ids})
    if not ids:
        return []
    return list(MediaFile.select(MediaFile.path, MediaFile.sha256)
                .where(MediaFile.campaign_id.in_(ids)).order_by(MediaFile.path).tuples())


def agent_pbxs() -> list[Pbx]:
    """The enabled PBXs with a dialplan agent (their hosts get the files through here)."""
    return list(Pbx.select().where((Pbx.enabled == True) & (Pbx.agent == True))  # noqa: E712
                .order_by(Pbx.id))


def target_of(media_dir, path) -> Path:
    """Where ``path`` goes under ``media_dir``.

    Raises:
        MediaError: the path is not relative, or it leaves ``media_dir`` (through a
            symbolic link too).
    """
    root = Path(media_dir).resolve()
    target = root / check_relative(path)
    if not target.resolve().is_relative_to(root):
        raise MediaError(f"media path {path!r} leaves MEDIA_DIR")
    return target


def materialize(media_dir, manifest) -> int:
    """Write each (path, sha256) of ``manifest`` that is missing or different under
    ``media_dir``, from the database; return how many were written.

    Each file is written 0640 in folders 0750 (Asterisk's group plays them) through a
    temporary name, its sha256 checked before the rename: a call never plays half a file.

    Raises:
        MediaError: a bad path, or the database holds no copy with that sha256 (a
            newer message names the newer one).
    """
    written = 0
    for path, sha in manifest:
        target = target_of(media_dir, path)
        if _has(target, str(sha)):
            continue
        row = MediaFile.get_or_none(MediaFile.path == check_relative(path))
        if row is None or row.sha256 != sha:
            raise MediaError(f"media file {path}: the database holds no copy with sha256 "
                             f"{str(sha)[:12]}")
        _write(media_dir, target, bytes(row.data), row.sha256)
        written += 1
    return written


def release(campaign_id: int) -> int:
    """Delete the rows campaign ``campaign_id`` keeps (it closed); return how many.

    A row another campaign still plays (a clone names the same file) moves to it instead.
    """
    rows = list(MediaFile.select(MediaFile.id, MediaFile.path)
                .where(MediaFile.campaign_id == campaign_id))
    if not rows:
        return 0
    keeper = {}
    others = Campaign.select().where(Campaign.state.not_in((CLOSED, FINALIZING))
                                     & (Campaign.id != campaign_id))
    for other in others:
        try:
            for name in played_names(other):
                keeper.setdefault(name, other.id)
        except DialplanError:
            continue
    gone = [row.id for row in rows if row.path not in keeper]
    for row in rows:
        if row.path in keeper:
            MediaFile.update(campaign_id=keeper[row.path]).where(MediaFile.id == row.id).execute()
    if gone:
        MediaFile.delete().where(MediaFile.id.in_(gone)).execute()
    log.info("media released campaign=%s deleted=%d kept=%d", campaign_id, len(gone),
             len(rows) - len(gone))
    return len(gone)


def prune_speech(media_dir) -> int:
    """Delete the speech files under ``media_dir`` of campaigns that are CLOSED; how many
    campaigns' folders went.

    A PBX host with an agent keeps its copies (``materialize``) after the close, while the
    host that made them deleted its own at finalization (``app.messages.audio``); the
    closed campaign's context has left every dialplan by then, so nothing plays them.
    """
    folders = speech_folders(media_dir)
    if not folders:
        return 0
    closed = [cid for (cid,) in Campaign.select(Campaign.id).where(
        Campaign.id.in_(sorted(folders)) & (Campaign.state == CLOSED)).tuples()]
    for campaign_id in closed:
        shutil.rmtree(folders[campaign_id], ignore_errors=True)
    if closed:
        log.info("speech files of closed campaigns %s deleted under %s", closed, media_dir)
    return len(closed)


def _has(target: Path, sha: str) -> bool:
    if not target.is_file():
        return False
    digest = hashlib.sha256()
    with open(target, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest() == sha


def _write(media_dir, target: Path, data: bytes, sha: str) -> None:
    if sha256_of(data) != sha:
        raise MediaError(f"media file {target.name}: the database copy does not match its sha256")
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        with open_private(tmp, "wb", shared=media_dir, group=True) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if not _has(tmp, sha):
            raise MediaError(f"media file {target.name}: what was written does not match")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
