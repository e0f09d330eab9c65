"""Appending contacts to a ready list (the API's "append contacts").

The same phone rule as an import (``phones.require_phone`` in the list's
country), the same duplicate rule (the unique (list, phone) index, through
``writer``), the same counters; refused while a campaign that used the
list no longer dials (FINISHED and later). Contacts added while a campaign
dials the list get their dial state in the same transaction (``running``).
"""

from __future__ import annotations

import json
import logging

from peewee import fn

from app.clock import utcnow
from app.contacts.running import refuse_if_finishing, seed_added
from app.contacts.phones import require_phone
from app.contacts.writer import ContactWriter
from app.db import database, row_id, write_transaction
from app.errors import NotFoundError, ValidationError
from app.models import Contact, ContactList
from app.quoting import cut

log = logging.getLogger(__name__)

READY = "ready"
MAX_APPEND = 1000  # contacts per call: a larger batch is a file to upload


def append_contacts(list_id, rows, now=None) -> dict:
    """Add ``rows`` ({"phone", "fields"}) to list ``list_id``; return the counts and rejects.

    ``fields`` may only name the list's columns. A refused row is reported (its
    index and why), never stored; the others are added in one transaction, and the
    campaigns dialing the list get them due at ``now`` (default: the clock).

    Raises:
        NotFoundError: no such list.
        ValidationError: the list is not ready, or too many rows.
        ContactListInUseError: a FINISHED..FINALIZING campaign uses the list.
    """
    rows = list(rows)
    if len(rows) > MAX_APPEND:
        raise ValidationError(f"contacts: at most {MAX_APPEND} a call (this one has {len(rows)})")
    with write_transaction():
        contact_list = ContactList.get_or_none(ContactList.id == row_id(list_id))
        if contact_list is None:
            raise NotFoundError(f"contact list {str(list_id)[:20]} does not exist")
        if contact_list.status != READY:
            raise ValidationError(f"contact list {contact_list.id} is {contact_list.status}: "
                                  "contacts can be added once it is ready")
        refuse_if_finishing(contact_list.id, contact_list.name)
        good, rejected = _checked(contact_list, rows)
        inserted = ContactWriter(database.obj, contact_list.id).write(good)
        if good:  # the campaigns dialing the list call them too
            seed_added(contact_list.id, good[0][2] - 1, now or utcnow())
        counts = dict(received=len(rows), imported=inserted, duplicate=len(good) - inserted,
                      rejected=rejected)
        ContactList.update(
            rows_total=ContactList.rows_total + len(rows),
            rows_imported=ContactList.rows_imported + inserted,
            rows_duplicate=ContactList.rows_duplicate + len(good) - inserted,
            rows_rejected=ContactList.rows_rejected + len(rejected),
        ).where(ContactList.id == contact_list.id).execute()
    log.info("contacts appended list=%s received=%s imported=%s", contact_list.id, len(rows),
             inserted)
    return counts


def _checked(contact_list, rows):
    """([(phone, fields_json, position)], [{"index", "reason"}]) of ``rows``."""
    columns = set(contact_list.columns or ())
    last = Contact.select(fn.MAX(Contact.position)).where(
        Contact.contact_list == contact_list.id).scalar() or 0
    good, rejected = [], []
    for index, row in enumerate(rows):
        fields = dict(row.get("fields") or {})
        unknown = sorted(set(fields) - columns)
        try:
            if unknown:
                raise ValidationError(f"the list has no column {cut(unknown[0], 40)!r}")
            phone = require_phone(str(row.get("phone", "")), contact_list.default_country)
        except ValidationError as exc:
            rejected.append({"index": index, "reason": cut(str(exc), 200)})
            continue
        cells = {name: str(fields.get(name, "")) for name in columns}
        good.append((phone, json.dumps(cells, ensure_ascii=False, separators=(",", ":"),
                                       sort_keys=True), last + index + 1))
    return good, rejected
