"""Append-only local journal of events the database could not take.

One JSON object per line. ``append`` writes a whole batch with one ``write``
and ``fsync``s before returning, so a connection is closed only after its
event is on disk. Replay reads from an offset kept in memory; the file is
truncated only once everything in it has been committed. A crash between
commit and truncation replays some events twice, which the idempotent insert
absorbs.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from datetime import datetime
from pathlib import Path

from agi.errors import JournalError
from agi.protocol import Event
from app.private_files import FILE_MODE, make_dirs, tighten

log = logging.getLogger(__name__)


def fallback_journal_path(journal_path):
    """The fallback instance's journal next to the primary's (``<stem>-fallback<suffix>``)."""
    path = Path(journal_path)
    return path.with_name(f"{path.stem}-fallback{path.suffix}")


def encode(event):
    return json.dumps(
        {
            "campaign_id": event.campaign_id,
            "contact_id": event.contact_id,
            "attempt": event.attempt,
            "name": event.name,
            "received_at": event.received_at.isoformat(),
            "uniqueid": event.uniqueid,
            "channel": event.channel,
            "source": event.source,
            "data": event.data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode(line):
    doc = json.loads(line)
    doc["received_at"] = datetime.fromisoformat(doc["received_at"])
    return Event(**doc)


class Journal:
    """The journal file, locked for this process.

    Raises (from ``open``):
        JournalError: the file cannot be opened or another daemon holds it.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._fd = None
        self._read = None
        self.depth = 0  # events appended and not yet replayed
        self._replay_offset = 0

    def open(self):
        """Open and lock the file, drop a torn last line, count pending events."""
        try:
            make_dirs(self.path.parent)
            created = not self.path.exists()
            # owner-only: the events name calls (channels carry phone numbers)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE)
            tighten(self.path)  # a journal written before this rule was 0640
            if created:
                # The file's directory entry must survive a power cut too.
                dir_fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:
            raise JournalError(f"cannot open journal {self.path}: {exc}") from exc
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            self._fd = None
            raise JournalError(f"journal {self.path} is locked by another process") from None
        self._read = open(self.path, "rb")  # noqa: SIM115 - lives as long as the journal
        data_end = 0
        count = 0
        for line in self._read:
            if not line.endswith(b"\n"):
                break
            count += 1
            data_end += len(line)
        size = os.fstat(self._fd).st_size
        if size != data_end:
            # A batch torn by a crash was never fsync'd, so no connection that
            # carried it was closed normally: dropping it loses nothing acknowledged.
            log.warning("journal %s: dropping %d bytes of a torn last line",
                        self.path, size - data_end)
            os.ftruncate(self._fd, data_end)
            os.fsync(self._fd)
        self.depth = count
        self._replay_offset = 0
        return self

    def append(self, events):
        """Write ``events`` and fsync.

        Raises:
            JournalError: the write or the fsync failed (disk full, I/O error).
        """
        payload = "".join(encode(e) + "\n" for e in events).encode("utf-8")
        try:
            view = memoryview(payload)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except OSError as exc:
            raise JournalError(f"journal {self.path}: write failed: {exc}") from exc
        self.depth += len(events)

    def pending(self, limit):
        """Up to ``limit`` events from the replay offset: (events, offset after, lines read)."""
        self._read.seek(self._replay_offset)
        events = []
        offset = self._replay_offset
        lines = 0
        while lines < limit:
            line = self._read.readline()
            if not line.endswith(b"\n"):
                break
            offset += len(line)
            lines += 1
            try:
                events.append(decode(line))
            except (ValueError, TypeError, KeyError):
                # Only this daemon writes the file; a bad line is corruption, and
                # skipping it is better than blocking every later event.
                log.error("journal %s: skipping unreadable line at offset %d",
                          self.path, offset - len(line))
        return events, offset, lines

    def replayed(self, count, offset):
        """Mark ``count`` lines up to ``offset`` as committed; truncate when all are."""
        self._replay_offset = offset
        self.depth = max(self.depth - count, 0)
        if offset >= os.fstat(self._fd).st_size:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
            self._replay_offset = 0
            self.depth = 0

    @property
    def rejected_path(self):
        return self.path.with_name(self.path.stem + ".rejected" + self.path.suffix)

    def set_aside(self, event):
        """Keep an event the database refuses for good in ``<journal>.rejected``.

        Raises:
            JournalError: it could not be written.
        """
        try:
            with open(self.rejected_path, "ab") as f:
                f.write((encode(event) + "\n").encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise JournalError(f"{self.rejected_path}: write failed: {exc}") from exc

    def close(self):
        if self._read is not None:
            self._read.close()
            self._read = None
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None
