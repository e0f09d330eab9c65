"""The rejects CSV of a contact list: every refused line with the reason, under EXPORT_DIR."""

from __future__ import annotations

from pathlib import Path

from app import csvcells
from app.config import get_settings
from app.models import ContactList
from app.private_files import open_private


class RejectsWriter:
    """The rejects CSV, opened on the first reject."""

    def __init__(self, path: Path, columns):
        self.path, self.columns = path, list(columns)
        self.handle = self.writer = None
        self.count = 0

    def write(self, rejects):
        """Append (line, reason, cells) rows, the file created with its header on the first."""
        if not rejects:
            return
        if self.writer is None:
            # utf-8-sig: spreadsheet programs then read accents right; owner-only:
            # the rejected lines are people's numbers
            self.handle = open_private(self.path, "w", encoding="utf-8-sig", newline="")
            self.writer = csvcells.writer(self.handle)
            self.writer.writerow(["line", "reason", *self.columns])
        for line, reason, cells in rejects:
            self.writer.writerow([line, reason, *cells])
        self.count += len(rejects)

    def close(self):
        """Close the file, if one was opened."""
        if self.handle is not None:
            self.handle.close()


def rejects_path_for(list_id: int) -> Path:
    """Where the rejects CSV of list ``list_id`` is written."""
    return get_settings().export_dir / "rejects" / f"contact-list-{list_id}-rejects.csv"


def rejects_file(list_id: int) -> Path | None:
    """The rejects CSV of a list, if it has one (only ever a file under EXPORT_DIR)."""
    contact_list = ContactList.get_or_none(ContactList.id == list_id)
    if contact_list is None or not contact_list.rejects_path:
        return None
    path = Path(contact_list.rejects_path).resolve()
    root = get_settings().export_dir.resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path
