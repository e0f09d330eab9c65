"""/api/v1/contact-lists: create by CSV upload, read progress, append contacts.

An upload is streamed to disk by ``app.uploads`` (as the console's is), checked
by the same sniffing and plan (``app.contacts.create_contact_list``), and
imported as the console imports it: inline when small, else by the
``tasks.importing.import_contact_list`` actor; poll the list for its progress.
"""

from __future__ import annotations

import logging

from flask import current_app, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from app import contacts, uploads
from app.db import database
from app.errors import CallcastError, NotFoundError
from app.models import ContactList
from app.web.admin.contacts import INLINE_IMPORT_BYTES, list_json
from app.web.api.access import caller
from app.web.api.campaigns import page_of
from app.web.api.errors import ApiError
from app.web.api.schemas import (
    QUERY,
    AppendResult,
    ContactListSchema,
    ContactsIn,
    ListUploadFile,
    ListPage,
    ListUploadForm,
    PageArgs,
)

log = logging.getLogger(__name__)

blp = Blueprint("api_lists", __name__, url_prefix="/api/v1/contact-lists",
                description="Contact lists: upload a CSV, follow its import, add contacts")


def contact_list_json(contact_list: ContactList) -> dict:
    return {**list_json(contact_list), "source_filename": contact_list.source_filename,
            "default_country": contact_list.default_country,
            "phone_column": contact_list.phone_column, "columns": contact_list.columns or [],
            "created_at": contact_list.created_at}


def get_list(list_id: int) -> ContactList:
    found = ContactList.get_or_none(ContactList.id == list_id)
    if found is None:
        raise NotFoundError(f"contact list {list_id} does not exist")
    return found


@blp.route("/")
class ContactLists(MethodView):
    @blp.arguments(PageArgs, **QUERY)
    @blp.response(200, ListPage)
    def get(self, args):
        """Contact lists, newest first."""
        rows, paging = page_of(ContactList.select(), args, ContactList.id.desc())
        return {"items": [contact_list_json(c) for c in rows], **paging}

    @blp.arguments(ListUploadForm, location="form")
    @blp.arguments(ListUploadFile, location="files")
    @blp.response(201, ContactListSchema)
    def post(self, form, files):
        """Create a list from a CSV file (multipart ``file``); small files import at once."""
        storage = files["file"]
        if not hasattr(storage, "stream"):
            raise ApiError(422, "validation_failed", "file: send the CSV as a file part",
                           {"file": ["not a file"]})
        # the name the client gave, as one printable line (PostgreSQL refuses NUL in text)
        filename = "".join(ch for ch in storage.filename or "" if ch.isprintable())[:255]
        filename = filename or "upload.csv"
        _token, path = uploads.save_by_token(storage.stream,
                                             current_app.config["SETTINGS"].media_dir)
        options = {k: form[k] for k in ("delimiter", "has_header") if k in form}
        try:
            with database.atomic():
                contact_list, _plan = contacts.create_contact_list(
                    form["name"], path, form["country"],
                    phone_column=form.get("phone_column") or None, source_filename=filename,
                    created_by=caller().user_id, **options)
        except CallcastError:
            uploads.discard_upload(path)
            raise
        _import(contact_list, path, options)
        return contact_list_json(get_list(contact_list.id))


def _import(contact_list, path, options) -> None:
    """Import here when the file is small (the rejects are known at once), else on the queue."""
    size = path.stat().st_size
    if size <= INLINE_IMPORT_BYTES:
        try:
            done = contacts.import_contact_list(contact_list.id, str(path), workers=0, **options)
            if done.status == contacts.READY:
                uploads.discard_upload(path)
        except CallcastError as exc:
            # the list says failed, with why: the answer shows it
            log.info("api import failed list=%s: %s", contact_list.id, exc)
    else:
        from tasks.importing import import_contact_list

        import_contact_list.send(contact_list.id, str(path), options)
    log.info("api contact list upload list=%s user=%s bytes=%s", contact_list.id,
             caller().username, size)


@blp.route("/<int:list_id>")
@blp.response(200, ContactListSchema)
def read_list(list_id):
    """One list: its import status and counters (poll it while ``importing``)."""
    return contact_list_json(get_list(list_id))


@blp.route("/<int:list_id>/contacts", methods=["POST"])
@blp.arguments(ContactsIn)
@blp.response(200, AppendResult)
def append(body, list_id):
    """Add contacts to a ready list; refused rows are reported with why, the rest added."""
    get_list(list_id)
    return contacts.append_contacts(list_id, body["contacts"])


@blp.route("/<int:list_id>/rejects.csv")
@blp.response(200, {"type": "string"}, content_type="text/csv")
def rejects(list_id):
    """The rows the import refused, with why (404 when none)."""
    path = contacts.rejects_file(get_list(list_id).id)
    if path is None:
        raise NotFoundError(f"contact list {list_id} has no rejects")
    return send_file(path, mimetype="text/csv", as_attachment=True,
                     download_name=f"list-{list_id}-rejects.csv")
