"""Access rules shared by every back-office view, and what a list accepts from a URL."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView
from flask_admin.contrib.peewee import ModelView
from flask_admin.contrib.peewee import filters as peewee_filters
from flask_admin.model import filters as admin_filters
from flask_admin.model import typefmt
from flask_babel import gettext
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from datetime import datetime, timezone

from app import presenting
from app.db import MAX_INTEGER, row_id
from app.users import ADMIN, OPERATOR
from app.errors import CallcastError
from app.web.error_words import translate_error

# the furthest page a list shows: past it every list is empty anyway, and an
# OFFSET beyond 64 bits would raise in the driver
MAX_PAGE = 10**9
# a search longer than this finds nothing a shorter one would not
MAX_SEARCH = 200


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` in a URL: a number no row can have is no page (404), not a 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INTEGER)
        super().__init__(map, *args, **kwargs)


def storable(value) -> bool:
    """Whether a cleaned filter value fits a query on either engine."""
    if isinstance(value, (list, tuple)):
        return all(storable(v) for v in value)
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -MAX_INTEGER - 1 <= value <= MAX_INTEGER
    if isinstance(value, str):
        return "\x00" not in value  # PostgreSQL refuses NUL in text
    if isinstance(value, datetime):
        return 1 <= value.year <= 9998  # a UTC shift of a year-9999 date overflows
    return True


def signed_in() -> bool:
    return bool(current_user and current_user.is_authenticated)


def can_act() -> bool:
    """Operators and admins change things; viewers only look."""
    return signed_in() and current_user.role in (ADMIN, OPERATOR)


def is_admin() -> bool:
    return signed_in() and current_user.role == ADMIN


def to_sign_in():
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _aware(value):
    """Filter values are typed as UTC; UTCDateTimeField refuses naive datetimes."""
    if isinstance(value, list):
        return [_aware(v) for v in value]
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class UtcAfter(peewee_filters.DateTimeGreaterFilter):
    def clean(self, value):
        return _aware(super().clean(value))

    def operation(self):
        return "after (UTC)"


class UtcBefore(peewee_filters.DateTimeSmallerFilter):
    def clean(self, value):
        return _aware(super().clean(value))

    def operation(self):
        return "before (UTC)"


class UtcBetween(peewee_filters.DateTimeBetweenFilter):
    def clean(self, value):
        return _aware(super().clean(value))

    def operation(self):
        return "between (UTC)"


def utc_filters(column, name):
    """After / before / between filters for a UTCDateTimeField."""
    return [UtcAfter(column, name), UtcBefore(column, name), UtcBetween(column, name)]


class IdFilter(peewee_filters.BasePeeweeFilter):
    """column = an id (a foreign key or a plain id column the index covers)."""

    def apply(self, query, value):
        return query.where(self.column == row_id(value))

    def operation(self):
        return "id is"

    def validate(self, value):
        return row_id(value) is not None


class FilterConverter(peewee_filters.FilterConverter):
    """Flask-Admin matches filters by field class name; teach it ours."""

    @admin_filters.convert("UTCDateTimeField")
    def conv_utc_datetime(self, column, name):
        return utc_filters(column, name)

    @admin_filters.convert("ForeignKeyField")
    def conv_foreign_key(self, column, name):
        return [f(column, name) for f in self.int_filters[:2]]


class AccessMixin:
    """Every view needs a signed-in user; ``roles`` narrows it further."""

    roles: tuple[str, ...] | None = None

    def is_accessible(self):
        if not signed_in():
            return False
        return self.roles is None or current_user.role in self.roles

    def inaccessible_callback(self, name, **kwargs):
        if not signed_in():
            return to_sign_in()
        abort(403)


def _utc_time(view, value, name=None):
    """A stored instant in a list or details page: to the second, the zone named."""
    from app.web.i18n import locale

    return presenting.local_time(value, "UTC", locale())


DATETIME_FORMATTERS = {**typefmt.BASE_FORMATTERS, datetime: _utc_time}
DETAIL_DATETIME_FORMATTERS = {**typefmt.DETAIL_FORMATTERS, datetime: _utc_time}


class SecureModelView(AccessMixin, ModelView):
    """A model view where viewers read and operators/admins write."""

    column_type_formatters = DATETIME_FORMATTERS
    column_type_formatters_detail = DETAIL_DATETIME_FORMATTERS

    def search_placeholder(self):
        """Which columns the search box looks in, never Flask-Admin's "None"."""
        columns = [c if isinstance(c, str) else c.name for c in (self.column_searchable_list or ())]
        names = [str(self.get_column_name(c)) for c in columns]
        return gettext("Search: %(columns)s", columns=", ".join(names)) if names else gettext("Search")

    page_size = 25
    can_set_page_size = True
    page_size_options = (25, 50, 100)
    # the pager never counts the whole table: lists must stay fast at 1M rows
    simple_list_pager = True
    filter_converter = FilterConverter()
    can_view_details = True
    writable = True  # False: nobody writes, whatever the role

    @property
    def can_create(self):
        return self.writable and can_act()

    @property
    def can_edit(self):
        return self.writable and can_act()

    @property
    def can_delete(self):
        return self.writable and can_act()

    def is_action_allowed(self, name):
        return can_act() and super().is_action_allowed(name)

    def handle_view_exception(self, exc):
        # our own errors carry a message written for the operator
        if isinstance(exc, CallcastError):
            flash(translate_error(str(exc)), "error")
            return True
        return super().handle_view_exception(exc)

    # --- whatever a URL says: a page, never a 500 ------------------------------------

    def _get_list_extra_args(self):
        """The list's query arguments, each made one the list can answer.

        A page past MAX_PAGE (or below 0) is the last (the first) one; a sort
        index that names no sortable column is the default order; a search loses
        NUL characters and is cut to MAX_SEARCH.
        """
        args = super()._get_list_extra_args()
        sort = args.sort
        if sort is not None:
            column = self._get_column_by_idx(sort)
            if column is None or column[0] not in self._sortable_columns:
                sort = None
        search = (args.search or "").replace("\x00", "")[:MAX_SEARCH] or None
        # filters passed on as they are: clone() would turn no filters ([]) into None
        return args.clone(page=min(max(args.page or 0, 0), MAX_PAGE), sort=sort, search=search,
                          filters=args.filters)

    def _get_list_filter_args(self):
        """Filters from the URL, without values no query on either engine can hold."""
        filters = super()._get_list_filter_args()
        if not filters:
            return filters
        kept = []
        for idx, name, value in filters:
            try:
                fits = storable(self._filters[idx].clean(value))
            except (TypeError, ValueError, OverflowError):
                fits = False
            if fits:
                kept.append((idx, name, value))
            else:
                flash(self.get_invalid_value_msg(value[:40], self._filters[idx]), "error")
        return kept

    def get_one(self, id):
        """The row with primary key ``id``, or None (also when no row could have that key)."""
        if self._primary_key_is_integer() and row_id(id) is None:
            return None
        return super().get_one(id)

    def _primary_key_is_integer(self) -> bool:
        return self.model._meta.primary_key.field_type in ("AUTO", "INT", "BIGAUTO", "BIGINT")

    def handle_action(self, return_view=None):
        """A bulk action, refused as a whole when a selected id is no possible row."""
        if self._primary_key_is_integer():
            bad = [i for i in request.form.getlist("rowid") if row_id(i) is None]
            if bad:
                flash(f"No such record: {bad[0][:40]}", "error")
                return redirect(self.get_url(".index_view"))
        return super().handle_action(return_view)


class SecureBaseView(AccessMixin, BaseView):
    pass

