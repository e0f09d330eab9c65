"""Read-only views of calls (attempts, events) and the user admin view."""

from __future__ import annotations

import logging

from flask_admin.contrib.peewee.filters import FilterEqual
from flask_login import current_user
from wtforms import fields, validators

from app.web.admin.base import IdFilter, SecureModelView, utc_filters
from app.web.admin.campaign_columns import in_campaign_zone
from app.envreaders import EMAIL_RE
from app.users import ADMIN, hash_password, validate_new_user
from app.errors import ValidationError
from app.events import OUTCOMES
from app.models import ROLES, CallAttempt, CallEvent

log = logging.getLogger(__name__)


class ReadOnlyView(SecureModelView):
    writable = False
    can_export = False
    column_display_pk = True


class AttemptView(ReadOnlyView):
    column_list = (
        "id", "campaign", "contact", "number", "state", "outcome", "digit",
        "originated_at", "answered_at", "finished_at", "channel_id",
    )
    column_default_sort = ("id", True)
    column_sortable_list = ("id", "originated_at")
    column_filters = (
        IdFilter(CallAttempt.campaign, "Campaign"),
        FilterEqual(CallAttempt.outcome, "Outcome", options=[(o, o) for o in OUTCOMES]),
        FilterEqual(CallAttempt.state, "State", options=[(s, s) for s in ("originating", "up", "done")]),
        *utc_filters(CallAttempt.originated_at, "Originated"),
    )
    column_formatters = {
        "campaign": lambda v, c, m, n: m.campaign_id,
        "contact": lambda v, c, m, n: m.contact_id,
        **{name: in_campaign_zone(name) for name in ("originated_at", "answered_at", "finished_at")},
    }


class EventView(ReadOnlyView):
    column_list = (
        "id", "campaign_id", "contact_id", "attempt", "name", "source", "received_at", "uniqueid", "channel",
    )
    column_default_sort = ("id", True)
    column_sortable_list = ("id", "received_at")
    column_searchable_list = ("uniqueid",)
    column_filters = (
        IdFilter(CallEvent.campaign_id, "Campaign"),
        FilterEqual(CallEvent.name, "Event"),
        FilterEqual(CallEvent.source, "Source", options=[(s, s) for s in ("agi", "fallback", "ami")]),
        *utc_filters(CallEvent.received_at, "Received"),
    )
    column_formatters = {"received_at": in_campaign_zone("received_at")}


class UserView(SecureModelView):
    """Admins manage users; passwords are hashed, never shown."""

    roles = (ADMIN,)
    can_delete = False  # deactivate instead: campaigns keep their author
    column_list = ("id", "username", "email", "role", "active", "created_at", "last_login_at")
    column_details_list = column_list  # never the password hash
    column_searchable_list = ("username",)
    column_filters = ("role", "active")
    form_columns = ("username", "email", "role", "active")
    form_overrides = {"role": fields.SelectField}
    form_args = {
        "role": {"choices": [fields.SelectChoice(r) for r in ROLES]},
        "username": {"validators": [validators.DataRequired(), validators.Length(max=64)]},
        # where the mail of the campaigns they create goes (optional)
        "email": {"validators": [validators.Optional(), validators.Length(max=254),
                                 validators.Regexp(EMAIL_RE, message="not an e-mail address")]},
    }
    form_extra_fields = {
        "new_password": fields.PasswordField(
            "Password", description="At least 8 characters; leave empty to keep the current one."
        )
    }

    def on_model_change(self, form, model, is_created):
        password = form.new_password.data or ""
        if is_created or password:
            validate_new_user(model.username, model.role, password)
            model.password_hash = hash_password(password)
        elif model.role not in ROLES:
            raise ValidationError(f"role must be one of {', '.join(ROLES)}")
        if not is_created and model.id == current_user.user_id and (
            model.role != ADMIN or not model.active
        ):
            raise ValidationError("you cannot demote or deactivate yourself")
        log.info("user saved user=%s role=%s by=%s", model.username, model.role, current_user.username)


__all__ = ["AttemptView", "EventView", "UserView"]
