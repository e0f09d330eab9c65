"""Actors on the ``default`` queue for contact lists.

The lifecycle process runs them (``dramatiq tasks -Q drain finalize default``, see
the Procfile). The work is in
``app.contacts``; a bad file is a permanent error (no retry).
"""

from __future__ import annotations

import logging

import dramatiq

from tasks.broker import DEFAULT, broker  # noqa: F401  (sets the broker first)

from app import contacts
from app.db import connection
from app.errors import NotFoundError, ValidationError
from app.uploads import discard_upload

log = logging.getLogger(__name__)


@dramatiq.actor(
    queue_name=DEFAULT,
    throws=(ValidationError, NotFoundError),
    max_retries=3,
    time_limit=2 * 3600 * 1000,
)
def import_contact_list(list_id: int, path: str, options: dict | None = None):
    """Import an uploaded CSV into contact list ``list_id`` (idempotent)."""
    with connection():
        result = contacts.import_contact_list(list_id, path, **(options or {}))
    # the rows are in the database (and the rejects in their own CSV): an
    # uploaded file is not needed any more; a failed import keeps it until the
    # hourly clean-up, for a look at what went wrong
    if result.status == contacts.READY and discard_upload(path):
        log.info("upload deleted list=%s path=%s", list_id, path)
    log.info("import done list=%s status=%s", list_id, result.status)
