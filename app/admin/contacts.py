"""Contact lists (upload, import progress, rejects), their contacts, and the do-not-call list."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import abort, current_app, flash, jsonify, redirect, request, send_file, url_for
from flask_admin import expose
from flask_admin.contrib.peewee.filters import BasePeeweeFilter
from flask_login import current_user
from markupsafe import Markup

from app.admin.base import SecureModelView, can_act
from app.models import Contact, ContactList

log = logging.getLogger(__name__)


def render_import_progress(contact_list: ContactList) -> Markup:
    done = contact_list.rows_imported + contact_list.rows_rejected + contact_list.rows_duplicate
    total = contact_list.rows_total
    if contact_list.status != "importing":
        return Markup("{}").format(contact_list.status)
    percent = round(100.0 * done / total, 1) if total else 0.0
    return Markup(
        '<div class="progress" style="min-width:8em"><div class="progress-bar progress-bar-striped '
        'progress-bar-animated" style="width:{p}%">{p}%</div></div>'
    ).format(p=percent)


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
        "percent": round(100.0 * done / contact_list.rows_total, 1) if contact_list.rows_total else 0.0,
        "error": contact_list.error,
        "rejects": bool(contact_list.rejects_path),
    }


class ContactListView(SecureModelView):
    """Lists show counters stored by the import: no row is counted on a page load."""

    details_template = "callcast/contact_list_details.html"
    can_edit = False  # a list is what was imported; upload a new one instead
    column_list = (
        "id", "name", "status", "rows_imported", "rows_rejected", "rows_duplicate",
        "default_country", "phone_column", "source_filename", "created_at",
    )
    column_labels = {
        "rows_imported": "Contacts",
        "rows_rejected": "Rejected",
        "rows_duplicate": "Duplicates",
        "default_country": "Country",
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

    @expose("/details/")
    def details_view(self):
        list_id = request.args.get("id", type=int)
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
        contact_list = ContactList.get_or_none(ContactList.id == list_id)
        if contact_list is None or not contact_list.rejects_path:
            abort(404)
        path = stored_path(contact_list.rejects_path)
        if path is None:
            abort(404)
        log.info("rejects downloaded list=%s user=%s", list_id, current_user.username)
        return send_file(path, as_attachment=True, download_name=f"list-{list_id}-rejects.csv",
                         mimetype="text/csv")

    def delete_model(self, model):
        if not can_act():
            abort(403)
        return super().delete_model(model)


def stored_path(path_text: str) -> Path | None:
    """A file the import wrote, only from the media or export folders."""
    settings = current_app.config["SETTINGS"]
    path = Path(path_text)
    if not path.is_absolute():
        path = settings.media_dir / path
    path = path.resolve()
    roots = [settings.media_dir.resolve(), settings.export_dir.resolve()]
    if not any(path.is_relative_to(root) for root in roots) or not path.is_file():
        return None
    return path


def read_rejects(contact_list: ContactList, limit: int):
    """The first ``limit`` rows of the rejects CSV: (header, rows)."""
    import csv

    if not contact_list.rejects_path:
        return None
    path = stored_path(contact_list.rejects_path)
    if path is None:
        return None
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = []
        for row in reader:
            rows.append(row)
            if len(rows) >= limit:
                break
    return {"header": header, "rows": rows}


class ContactListFilter(BasePeeweeFilter):
    def apply(self, query, value):
        return query.where(self.column == int(value))

    def operation(self):
        return "id is"

    def validate(self, value):
        return str(value).isdigit()



class ContactView(SecureModelView):
    """A million rows: keyed pages on an index, never a COUNT(*)."""

    writable = False
    column_list = ("id", "contact_list", "position", "phone", "fields")
    column_labels = {"position": "Line"}
    column_default_sort = ("id", False)
    column_sortable_list = ("id", "position")
    column_searchable_list = ("phone",)
    column_filters = (ContactListFilter(Contact.contact_list, "List"),)
    column_formatters = {
        "contact_list": lambda v, c, m, n: v._list_name(m.contact_list_id),
        "fields": lambda v, c, m, n: ", ".join(f"{k}={val}" for k, val in (m.fields or {}).items()),
    }

    def _list_name(self, list_id):
        cache = getattr(request, "_callcast_list_names", None)
        if cache is None:
            cache = dict(ContactList.select(ContactList.id, ContactList.name).tuples())
            request._callcast_list_names = cache
        return cache.get(list_id, list_id)
