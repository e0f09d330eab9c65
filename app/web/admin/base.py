"""Access rules shared by every back-office view."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.contrib.peewee import ModelView
from flask_admin.contrib.peewee import filters as peewee_filters
from flask_admin.model import filters as admin_filters
from flask_login import current_user

from datetime import timezone

from app.users import ADMIN, OPERATOR
from app.errors import CallcastError


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
        return query.where(self.column == int(value))

    def operation(self):
        return "id is"

    def validate(self, value):
        return str(value).isdigit()


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


class SecureModelView(AccessMixin, ModelView):
    """A model view where viewers read and operators/admins write."""

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
            flash(str(exc), "error")
            return True
        return super().handle_view_exception(exc)


class SecureBaseView(AccessMixin, BaseView):
    pass


class HomeView(AccessMixin, AdminIndexView):
    @expose("/")
    def index(self):
        return redirect(url_for("campaign.index_view"))
