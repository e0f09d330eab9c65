"""Contact lists from CSV files: sniffing, phone normalisation, streamed import.

The upload form calls ``preview(path)`` to show what was detected; the
``import_contact_list`` actor (queue ``default``) calls
``import_contact_list(list_id, path)``, which streams the file.

- ``phones``: default country, E.164 normalisation, why a number is refused
- ``sniffing``: encoding, delimiter, header line, column names, phone column
- ``plan``: ``ImportPlan`` (what was found plus overrides), preview, row estimate
- ``normalising``: records, chunks and the worker pool that normalises them
- ``writer``: the batched INSERT of contacts (SQLite and PostgreSQL forms)
- ``rejects``: the rejects CSV of a list
- ``importer``: create a list, import it, its status and counters
- ``deleting``: delete a list, refused while a campaign not CLOSED uses it
- ``appending``: add contacts to a ready list (the API's append)

Uploaded files themselves are stored by ``app.uploads``.
"""

from app.contacts.appending import append_contacts
from app.contacts.deleting import campaigns_using, delete_contact_list
from app.contacts.errors import ContactListInUseError
from app.contacts.importer import (
    FAILED,
    IMPORTING,
    READY,
    check_list_name,
    create_contact_list,
    import_contact_list,
)
from app.contacts.normalising import read_records
from app.contacts.phones import check_country, normalise_phone, require_phone
from app.contacts.plan import ImportPlan, estimate_rows, plan_import, preview
from app.contacts.rejects import rejects_file, rejects_path_for
from app.contacts.sniffing import DELIMITER_NAMES, DELIMITERS, detect_encoding

__all__ = [
    "ContactListInUseError",
    "DELIMITERS",
    "DELIMITER_NAMES",
    "FAILED",
    "IMPORTING",
    "READY",
    "ImportPlan",
    "append_contacts",
    "campaigns_using",
    "check_country",
    "check_list_name",
    "create_contact_list",
    "delete_contact_list",
    "detect_encoding",
    "estimate_rows",
    "import_contact_list",
    "normalise_phone",
    "plan_import",
    "preview",
    "read_records",
    "rejects_file",
    "rejects_path_for",
    "require_phone",
]
