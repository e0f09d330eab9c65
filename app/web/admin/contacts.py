"""Contact lists (upload, import progress, rejects), their contacts, and the do-not-call list."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

import logging

from flask import abort, current_app, flash, g, jsonify, redirect, request, send_file, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user
from markupsafe import Markup

from app import contacts, uploads
from app.web.admin.base import IdFilter, SecureModelView, can_act
from app.db import database, row_id
from app.errors import CallcastError
from app.models import Contact, ContactList
from app.quoting import quote_input
from app.web.error_words import shorten  # shortened, in the console's language

log = logging.getLogger(__name__)

# files up to this size import inside the request (rejects show at once);
# larger ones go to the ``default`` queue with a progress bar
INLINE_IMPORT_BYTES = 512 * 1024
# refusals of a bulk delete shown one by one (flash messages live in the cookie)
SHOWN_REFUSALS = 3
DELIMITER_CHOICES = [("", "detect")] + [
    (d, contacts.DELIMITER_NAMES[d]) for d in contacts.DELIMITERS
]


def save_upload(storage):
    """Store a form's uploaded file under this app's MEDIA_DIR; return (token, path)."""
    return uploads.save_by_token(storage.stream, current_app.config["SETTINGS"].media_dir)


def upload_path(token: str):
    """The upload ``save_upload`` stored under ``token``.

    Raises:
        ValidationError: a malformed token or a file that is gone.
    """
    return uploads.upload_path(token, current_app.config["SETTINGS"].media_dir)


def about_file(filename, exc) -> str:
    """An error about an uploaded file as the operator reads it: which file, then why."""
    return shorten(f"{quote_input(filename, 60) if filename else 'the file'}: {exc}")


def overrides_from(form) -> dict:
    """Delimiter / header choices the operator made on the preview."""
    found = {}
    delimiter = form.get("delimiter", "")
    if delimiter:
        found["delimiter"] = delimiter
    header = form.get("has_header", "")
    if header in ("yes", "no"):
        found["has_header"] = header == "yes"
    return found


def render_import_progress(contact_list: ContactList) -> Markup:
    """The status; while importing, how many rows are read so far (the total is unknown until the end)."""
    if contact_list.status != "importing":
        return Markup("{}").format(contact_list.status)
    done = contact_list.rows_imported + contact_list.rows_rejected + contact_list.rows_duplicate
    return Markup(
        '<div class="progress" style="min-width:8em"><div class="progress-bar progress-bar-striped '
        'progress-bar-animated" style="width:100%">{} rows</div></div>'
    ).format(done)


def list_json(contact_list: ContactList) -> dict:
    done = contact_list.rows_imported + contact_list.rows_rejected + contact_list.rows_duplicate
    return {
        "id": contact_list.id,
        "name": contact_list.name,
        "status": contact_list.status,
        "rows_total": contact_list.rows_total,
        "rows_done": done,
        "rows_imported": contact_list.rows_imported,
        "rows_rejected": contact_list.rows_rejected,
        "rows_duplicate": contact_list.rows_duplicate,
        "error": contact_list.error,
        "rejects": bool(contact_list.rejects_path),
    }


class ContactListView(SecureModelView):
    """Lists show counters stored by the import: no row is counted on a page load."""

    details_template = "callcast/contact_list_details.html"
    list_template = "callcast/contact_list_list.html"
    can_edit = False  # a list is what was imported; upload a new one instead
    column_list = (
        "id", "name", "status", "rows_imported", "rows_rejected", "rows_duplicate",
        "default_country", "phone_column", "source_filename", "created_at",
    )
    column_labels = {
        "name": _l("Name"), "status": _l("Status"),
        "rows_imported": _l("Contacts"),
        "rows_rejected": _l("Rejected"),
        "rows_duplicate": _l("Duplicates"),
        "default_country": _l("Country"),
        "phone_column": _l("Phone column"), "source_filename": _l("Source file"),
        "created_at": _l("Created"),
    }
    column_default_sort = ("id", True)
    column_sortable_list = ("id", "name", "created_at")
    column_searchable_list = ("name",)
    column_filters = ("status", "created_at")
    column_formatters = {
        "status": lambda v, c, m, n: render_import_progress(m),
        "name": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(
            url_for(".details_view", id=m.id), m.name
        ),
    }

    @property
    def can_create(self):
        return False  # lists are created by the upload page, not a bare form

    def _upload_page(self, values, token="", plan=None, error="", status=200):
        """The upload page: the form (no plan yet) or what was detected, with any error."""
        page = self.render("callcast/contact_list_upload.html", values=values, plan=plan,
                           token=token, error=error, delimiters=DELIMITER_CHOICES)
        return page, status

    @expose("/upload/", methods=["GET", "POST"])
    def upload_view(self):
        """Step 1: the file, a name and a default country; step 2: what was detected."""
        if not can_act():
            abort(403)
        values = {"name": "", "country": "US", "delimiter": "", "has_header": "", "phone_column": ""}
        if request.method == "GET":
            return self._upload_page(values)
        values.update({k: request.form.get(k, v) for k, v in values.items()})
        token = request.form.get("token", "")
        storage = request.files.get("file")
        try:
            if storage and storage.filename:
                token, path = save_upload(storage)
                values["filename"] = storage.filename
            else:
                path = upload_path(token)
                values["filename"] = request.form.get("filename", "")
        except CallcastError as exc:
            return self._upload_page(values, error=about_file(values.get("filename"), exc),
                                     status=400)
        return self._preview_page(values, token, path)

    def _preview_page(self, values, token, path, refusal=""):
        """What was detected in the upload, with the file's and the name's errors (then 400).

        ``refusal``: why the list was not created, shown when neither explains it.
        """
        plan, errors = None, []
        try:
            plan = contacts.preview(
                path,
                values["country"] or "US",
                phone_column=values["phone_column"] or None,
                **overrides_from(request.form),
            )
        except CallcastError as exc:
            errors.append(about_file(values.get("filename"), exc))
        try:
            contacts.check_list_name(values["name"])
        except CallcastError as exc:
            errors.append(shorten(exc))
        if refusal and not errors:
            errors.append(shorten(refusal))
        status = 400 if errors or not plan else 200
        return self._upload_page(values, token, plan, "; ".join(errors), status)

    @expose("/upload/confirm/", methods=["POST"])
    def confirm_view(self):
        """Step 3: create the list and import it (here when small, in the background when large)."""
        if not can_act():
            abort(403)
        form = request.form
        filename = form.get("filename", "")
        try:
            path = upload_path(form.get("token", ""))
        except CallcastError as exc:
            flash(shorten(exc), "error")
            return redirect(url_for(".upload_view"))
        try:
            with database.atomic():
                contact_list, plan = contacts.create_contact_list(
                    form.get("name", ""),
                    path,
                    form.get("country", "US") or "US",
                    phone_column=form.get("phone_column") or None,
                    source_filename=filename or path.name,
                    created_by=current_user.user_id,
                    **overrides_from(form),
                )
        except CallcastError as exc:
            # the upload is still there: the same page again, with what to change
            values = {k: form.get(k, "") for k in ("name", "country", "delimiter", "has_header",
                                                    "phone_column", "filename")}
            return self._preview_page(values, form.get("token", ""), path, refusal=str(exc))
        self._import(contact_list, path, filename)
        return redirect(url_for(".details_view", id=contact_list.id))

    def _import(self, contact_list, path, filename):
        """Import the new list here when its file is small, else on the ``default`` queue."""
        options = overrides_from(request.form)
        size = path.stat().st_size  # before the import, which deletes the upload once done
        if size <= INLINE_IMPORT_BYTES:
            try:
                done = contacts.import_contact_list(
                    contact_list.id, str(path), workers=0, **options
                )
                if done.status == contacts.READY:
                    uploads.discard_upload(path)
            except CallcastError as exc:
                flash(f"Import failed: {about_file(filename, exc)}", "error")
        else:
            from tasks.importing import import_contact_list

            import_contact_list.send(contact_list.id, str(path), options)
        log.info("contact list upload list=%s user=%s bytes=%s", contact_list.id,
                 current_user.username, size)

    @expose("/details/")
    def details_view(self):
        list_id = row_id(request.args.get("id", ""))
        contact_list = ContactList.get_or_none(ContactList.id == list_id) if list_id else None
        if contact_list is None:
            flash("No such contact list.", "error")
            return redirect(url_for(".index_view"))
        rejects = read_rejects(contact_list, limit=200)
        return self.render(
            self.details_template,
            contact_list=contact_list,
            live=list_json(contact_list),
            rejects=rejects,
            return_url=url_for(".index_view"),
        )

    @expose("/progress/<int:list_id>.json")
    def progress_json(self, list_id):
        contact_list = ContactList.get_or_none(ContactList.id == list_id)
        if contact_list is None:
            abort(404)
        return jsonify(list_json(contact_list))

    @expose("/rejects/<int:list_id>.csv")
    def rejects_csv(self, list_id):
        path = contacts.rejects_file(list_id)
        if path is None:
            abort(404)
        log.info("rejects downloaded list=%s user=%s", list_id, current_user.username)
        return send_file(path, as_attachment=True, download_name=f"list-{list_id}-rejects.csv",
                         mimetype="text/csv")

    def delete_model(self, model):
        """Delete one list through the domain (Flask-Admin's own would null campaigns' keys)."""
        if not can_act():
            abort(403)
        try:
            contacts.delete_contact_list(model.id, by=current_user.username)
        except CallcastError as exc:
            flash(shorten(exc), "error")
            return False
        return True

    @action("delete", "Delete", "Delete the selected lists and their contacts?")
    def action_delete(self, ids):
        """Delete each selected list through the domain; the refused ones say why."""
        if not can_act():
            abort(403)
        deleted, refused = 0, []
        for list_id in ids:
            try:
                contacts.delete_contact_list(int(list_id), by=current_user.username)
                deleted += 1
            except (CallcastError, ValueError) as exc:
                refused.append(str(exc))
        for message in refused[:SHOWN_REFUSALS]:
            flash(shorten(message), "error")
        if len(refused) > SHOWN_REFUSALS:
            flash(f"{len(refused) - SHOWN_REFUSALS} more lists were refused.", "error")
        if deleted:
            flash(f"{deleted} contact list(s) deleted.", "success")


def read_rejects(contact_list: ContactList, limit: int):
    """The first ``limit`` rows of the rejects CSV: (header, rows)."""
    import csv

    path = contacts.rejects_file(contact_list.id)
    if path is None:
        return None
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = []
        for row in reader:
            rows.append(row)
            if len(rows) >= limit:
                break
    return {"header": header, "rows": rows}


class ContactView(SecureModelView):
    """A million rows: keyed pages on an index, never a COUNT(*)."""

    writable = False
    column_list = ("id", "contact_list", "position", "phone", "fields")
    column_labels = {"contact_list": _l("Contact list"), "position": _l("Line"),
                     "phone": _l("Phone"), "fields": _l("Fields")}
    # file order: (contact_list, position) is an index, so a page of one list is
    # an index range, never a sort of the list's million rows
    column_default_sort = [("contact_list", False), ("position", False)]
    column_sortable_list = ()
    column_searchable_list = ("phone",)
    column_filters = (IdFilter(Contact.contact_list, "List"),)
    column_formatters = {
        "contact_list": lambda v, c, m, n: v._list_name(m.contact_list_id),
        "fields": lambda v, c, m, n: ", ".join(f"{k}={val}" for k, val in (m.fields or {}).items()),
    }

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, rows = super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)
        if not execute:
            return count, rows
        rows = list(rows)
        list_ids = {c.contact_list_id for c in rows}
        # the names of the lists on this page only, in one query
        g.list_names = dict(
            ContactList.select(ContactList.id, ContactList.name).where(ContactList.id.in_(list_ids)).tuples()
        ) if list_ids else {}
        return count, rows

    def _list_name(self, list_id):
        return getattr(g, "list_names", {}).get(list_id, list_id)
