"""Files only the service's own user may read: contact uploads, exports, the SQLite database.

They hold phone numbers and what people answered, so they are created 0600,
in folders created 0700, whatever the umask. Not among them: campaign audio
under MEDIA_DIR and the generated dialplan, which Asterisk (another user)
reads; so MEDIA_DIR itself is 0755 (``shared``).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE, DIR_MODE = 0o600, 0o700
SHARED_DIR_MODE = 0o755
# personal data Asterisk plays (a contact's synthesized message): the owner writes, the
# group reads (the deployment's MEDIA_DIR is setgid callcast and Asterisk is in that
# group: deploy/ansible/roles/asterisk), nobody else
GROUP_FILE_MODE, GROUP_DIR_MODE = 0o640, 0o750
# the files SQLite keeps next to a database; it creates them with the database's mode
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def make_dirs(folder, shared=None, mode: int = DIR_MODE) -> Path:
    """Create ``folder`` and its missing parents 0700, whatever the umask; return it.

    ``shared``: a parent others go through (MEDIA_DIR): it and the missing
    folders above it are made 0755 instead. ``mode``: another mode for the folders created.
    Folders that exist are left as they are.
    """
    folder = Path(folder)
    if shared is not None:
        make_dirs(shared, mode=SHARED_DIR_MODE)
    missing, probe = [], folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=mode)
        except FileExistsError:
            continue  # another process made it first
        # mkdir's mode went through the umask; the setgid bit a folder inherits
        # stays (the deployment's MEDIA_DIR is setgid, so Asterisk's group reads)
        os.chmod(path, mode | (os.stat(path).st_mode & stat.S_ISGID))
    return folder


def open_private(path, mode: str = "wb", shared=None, group: bool = False, **kwargs):
    """Open ``path`` for writing, created (or truncated) 0600, its folders by ``make_dirs``.

    ``group``: 0640 in folders 0750 instead, for files Asterisk's group must read.
    """
    path = Path(path)
    file_mode = GROUP_FILE_MODE if group else FILE_MODE
    make_dirs(path.parent, shared, GROUP_DIR_MODE if group else DIR_MODE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, file_mode)
    try:
        os.fchmod(fd, file_mode)  # a file written before this rule was 0644
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def create_private(path) -> Path:
    """Create ``path`` empty and 0600 (truncated if it exists); return it."""
    with open_private(path):
        pass
    return Path(path)


def private_sqlite(path) -> None:
    """Make a SQLite database owner-only before SQLite opens it (its -wal/-shm follow it).

    A missing file is created 0600; an existing one is never opened here (closing
    a descriptor would drop the POSIX locks this process's SQLite connections
    hold on it), only its mode and its side files' are tightened, when ours.
    """
    path = Path(path)
    make_dirs(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        return
    except FileExistsError:
        pass
    for target in [path] + [Path(f"{path}{suffix}") for suffix in SQLITE_SIDE_FILES]:
        tighten(target)


def tighten(path) -> bool:
    """Make an existing file of ours 0600 when others could read it; return whether it changed.

    Anything else (a folder, another user's file) is left alone.
    """
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(found.st_mode) or found.st_uid != os.getuid():
        return False
    if not found.st_mode & 0o077:
        return False
    os.chmod(path, FILE_MODE)
    log.info("made owner-only path=%s (was %o)", path, found.st_mode & 0o777)
    return True
