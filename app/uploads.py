"""Uploaded files under MEDIA_DIR: where they are stored, how, and when they are deleted.

Two folders hold uploaded CSVs: ``uploads`` (the back office's, previewed and
then imported by a token) and ``imports`` (copies made by ``save_upload``); the
CSVs are owner-only (``app.private_files``), the campaign messages are not.
The hourly clean-up (``app.lifecycle.clean_uploads``) empties both of old
files; an imported list's file goes at once (``discard_upload``). Campaign
messages are written by ``store_bytes``. Every upload is created by ``_create``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import uuid
from pathlib import Path

from app.config import get_settings
from app.errors import ValidationError
from app.private_files import SHARED_DIR_MODE, make_dirs, open_private

UPLOADS, IMPORTS = "uploads", "imports"
# Folders under MEDIA_DIR that hold uploaded CSVs (ours to delete).
UPLOAD_FOLDERS = (UPLOADS, IMPORTS)
UPLOAD_TOKEN = re.compile(r"^[0-9a-f]{32}$")
COPY_BUFFER = 1 << 20
# campaign messages: Asterisk, another user, plays them
AUDIO_MODE, AUDIO_DIR_MODE = 0o644, SHARED_DIR_MODE


def upload_dir(media_dir=None, folder: str = IMPORTS) -> Path:
    """The upload folder ``folder`` under ``media_dir`` (default: the settings' MEDIA_DIR)."""
    return Path(media_dir if media_dir is not None else get_settings().media_dir) / folder


def _create(target: Path):
    """Open a new campaign message for writing (binary), its folders made first (0755)."""
    make_dirs(target.parent, mode=AUDIO_DIR_MODE)
    return open(target, "wb")


def _copy(stream, target: Path) -> Path:
    """Copy a binary stream into a new upload file at ``target`` (a CSV: owner-only).

    Its folder (``uploads``, ``imports``) is made 0700; MEDIA_DIR above it keeps
    the default mode, as Asterisk reads the campaign messages in it.
    """
    with open_private(target, "wb", shared=target.parent.parent) as out:
        shutil.copyfileobj(stream, out, COPY_BUFFER)
    return target


def save_upload(stream, filename: str = "", media_dir=None) -> Path:
    """Copy an uploaded file (a binary stream) under MEDIA_DIR/imports; return its path.

    The stored name is random (the user's name is only kept as a suffix, made
    safe), so two uploads never overwrite each other and no path escapes.
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename or "upload.csv").name)[-80:]
    name = f"{uuid.uuid4().hex}-{stem.lstrip('.') or 'upload.csv'}"
    return _copy(stream, upload_dir(media_dir) / name)


def save_by_token(stream, media_dir) -> tuple[str, Path]:
    """Copy an uploaded CSV (a binary stream) under MEDIA_DIR/uploads; return (token, path).

    The token (random) names the file for the next form (``upload_path``).
    """
    token = secrets.token_hex(16)
    return token, _copy(stream, upload_dir(media_dir, UPLOADS) / f"{token}.csv")


def upload_path(token: str, media_dir) -> Path:
    """The upload stored by ``save_by_token`` under ``token``.

    Raises:
        ValidationError: a malformed token or a file that is gone.
    """
    if not UPLOAD_TOKEN.match(token or ""):
        raise ValidationError("the upload is unknown: upload the file again")
    path = upload_dir(media_dir, UPLOADS) / f"{token}.csv"
    if not path.is_file():
        raise ValidationError("the upload has expired: upload the file again")
    return path


def is_upload(path) -> bool:
    """Whether ``path`` is a file in one of MEDIA_DIR's upload folders (ours to delete)."""
    media = get_settings().media_dir.resolve()
    parent = Path(path).resolve().parent
    return any(parent == media / name for name in UPLOAD_FOLDERS)


def discard_upload(path) -> bool:
    """Delete an uploaded CSV once its list is imported; a file elsewhere is left alone.

    Returns whether a file was deleted.
    """
    if not is_upload(path):
        return False
    try:
        Path(path).unlink()
    except FileNotFoundError:
        return False
    return True


def store_bytes(target: Path, data: bytes) -> None:
    """Write an uploaded file's bytes to ``target`` through a temporary name, then rename.

    A reader (a call playing the file) never sees half of it. Asterisk, another
user, plays it: it and its folders are readable by all, whatever the umask.
    """
    tmp = target.with_suffix(target.suffix + ".part")
    with _create(tmp) as out:
        out.write(data)
    os.chmod(tmp, AUDIO_MODE)
    tmp.replace(target)
