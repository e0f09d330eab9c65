"""Deleting a contact list: refused while a campaign that is not CLOSED uses it.

The one rule for every path (the back office's delete and bulk delete, the
import starting over): ``campaigns_using`` names the campaigns, and
``ContactListInUseError`` says which. The database holds the same line (see
migration 0005): a campaign past DRAFT keeps its list, and its contacts stay.
"""

from __future__ import annotations

import logging
from pathlib import Path

from peewee import IntegrityError

from app.contacts.errors import ContactListInUseError
from app.contacts.rejects import rejects_file
from app.db import write_transaction
from app.errors import NotFoundError
from app.models import CLOSED, DRAFT, Campaign, ContactList

log = logging.getLogger(__name__)


def campaigns_using(list_id: int) -> list[Campaign]:
    """The campaigns not CLOSED that use list ``list_id``, oldest first."""
    return list(
        Campaign.select(Campaign.id, Campaign.name, Campaign.state)
        .where((Campaign.contact_list == list_id) & (Campaign.state != CLOSED))
        .order_by(Campaign.id)
    )


def refuse_if_used(list_id: int, name: str, action: str = "deleted", drafts: bool = True):
    """Raise when a campaign not CLOSED uses the list (``drafts=False``: not DRAFT either).

    Raises:
        ContactListInUseError: naming the campaigns.
    """
    users = [c for c in campaigns_using(list_id) if drafts or c.state != DRAFT]
    if users:
        raise ContactListInUseError(list_id, name, users, action)


def delete_contact_list(list_id: int, by: str = "") -> str:
    """Delete a list, its contacts and its rejects CSV; return its name.

    CLOSED campaigns that used it forget it (their results keep the phones).

    Raises:
        NotFoundError: no such list.
        ContactListInUseError: a campaign not CLOSED uses it; nothing is deleted.
    """
    contact_list = ContactList.get_or_none(ContactList.id == list_id)
    if contact_list is None:
        raise NotFoundError(f"contact list {list_id} does not exist")
    name, rejects = contact_list.name, rejects_file(list_id)
    try:
        with write_transaction():  # it reads (in use?) before it writes
            refuse_if_used(list_id, name)
            Campaign.update(contact_list=None).where(
                (Campaign.contact_list == list_id) & (Campaign.state == CLOSED)
            ).execute()
            # the contacts go with it (ON DELETE CASCADE)
            ContactList.delete().where(ContactList.id == list_id).execute()
    except IntegrityError:
        # a campaign took the list between the check and the delete: the
        # database refused (RESTRICT, or the triggers of migration 0005)
        refuse_if_used(list_id, name)
        raise
    if rejects is not None:
        Path(rejects).unlink(missing_ok=True)
    log.info("contact list deleted list=%s name=%r by=%s", list_id, name, by)
    return name
