"""The do-not-call list: add, remove, search, upload (the work is app.dnc's)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

import logging

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user
from wtforms import fields, validators

from app import dnc, uploads
from app.web.admin.base import SecureModelView, can_act
from app.web.admin.contacts import about_file
from app.errors import CallcastError
from app.web.error_words import shorten  # shortened, in the console's language

log = logging.getLogger(__name__)

SHOWN_REJECTS = 200


class DoNotCallView(SecureModelView):
    list_template = "callcast/dnc_list.html"
    can_edit = False  # remove and add again: a number is the whole record
    column_list = ("phone", "source", "note", "created_at")
    column_labels = {"phone": _l("Phone"), "source": _l("Source"), "note": _l("Note"),
                     "created_at": _l("Added")}
    column_default_sort = ("id", True)
    column_sortable_list = ("phone", "created_at")
    column_filters = ("source",)
    column_searchable_list = ("phone", "note")  # shows the box; get_list searches
    form_columns = ("phone", "note")
    form_extra_fields = {
        "country": fields.StringField(
            "Default country",
            default="US",
            validators=[validators.DataRequired(), validators.Length(min=2, max=2)],
            description="For numbers typed without +country code.",
        )
    }
    form_args = {
        "phone": {"validators": [validators.DataRequired(), validators.Length(max=40)]},
        "note": {"validators": [validators.Length(max=255)]},
    }

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        # search by the digits of a number (any format) or by words of the note/source
        if search:
            query = dnc.search_query(search)
            for flt, _name, value in filters or ():
                f = self._filters[flt]
                query = f.apply(query, f.clean(value))
            page_size = page_size or self.page_size
            query = query.limit(page_size).offset((page or 0) * page_size)
            return None, list(query) if execute else query
        return super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)

    def create_model(self, form):
        try:
            entry, created = dnc.add_number(
                form.phone.data, form.country.data, source="manual", note=form.note.data or ""
            )
        except CallcastError as exc:
            flash(shorten(exc), "error")
            return False
        if not created:
            flash(f"{entry.phone} was already on the do-not-call list.", "info")
        log.info("do-not-call add phone=%s by=%s", entry.phone, current_user.username)
        return entry

    def delete_model(self, model):
        if not can_act():
            abort(403)
        try:
            dnc.remove_entry(model.id, by=current_user.username)  # writes the audit line
        except CallcastError as exc:
            flash(shorten(exc), "error")
            return False
        return True

    @action("delete", "Delete", "Take the selected numbers off the do-not-call list?")
    def action_delete(self, ids):
        """Remove the selected numbers, each with the same audit line as a single removal."""
        if not can_act():
            abort(403)
        try:
            removed = dnc.remove_entries(ids, by=current_user.username)
        except ValueError:
            flash("The selection is not a list of entries.", "error")
            return
        flash(f"{len(removed)} number(s) taken off the do-not-call list.", "success")

    @expose("/upload/", methods=["POST"])
    def upload_view(self):
        """Add every number of a CSV file; show what was rejected and why."""
        if not can_act():
            abort(403)
        storage = request.files.get("file")
        if not storage or not storage.filename:
            flash("Choose a CSV file to upload.", "error")
            return redirect(url_for(".index_view"))
        _, path = uploads.save_by_token(storage.stream, current_app.config["SETTINGS"].media_dir)
        try:
            result = dnc.upload(path, request.form.get("country", "US") or "US", source="upload")
        except CallcastError as exc:
            flash(f"Upload refused: {about_file(storage.filename, exc)}", "error")
            return redirect(url_for(".index_view"))
        finally:
            path.unlink(missing_ok=True)
        log.info("do-not-call upload by=%s added=%s", current_user.username, result.added)
        return self.render(
            "callcast/dnc_upload.html",
            result=result,
            rejects=result.rejects[:SHOWN_REJECTS],
            filename=storage.filename,
        )
