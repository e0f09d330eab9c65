"""The do-not-call list: add, remove, search, upload."""

from __future__ import annotations

import logging

import phonenumbers
from flask_login import current_user
from wtforms import fields, validators

from app.admin.base import SecureModelView
from app.errors import ValidationError
from app.models import DoNotCall, utcnow

log = logging.getLogger(__name__)


def normalize_dnc_phone(raw: str, country: str) -> str:
    """E.164 for a number typed by an operator.

    Raises:
        ValidationError: it is not a valid phone number for ``country``.
    """
    try:
        parsed = phonenumbers.parse((raw or "").strip(), (country or "US").upper())
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{raw!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"{raw!r} is not a valid number for {country.upper()}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class DoNotCallView(SecureModelView):
    can_edit = False  # remove and add again: a number is the whole record
    column_list = ("phone", "source", "note", "created_at")
    column_default_sort = ("id", True)
    column_sortable_list = ("phone", "created_at")
    column_searchable_list = ("phone", "note")
    column_filters = ("source", "created_at")
    form_columns = ("phone", "note")
    form_extra_fields = {
        "country": fields.StringField(
            "Default country",
            default="US",
            validators=[validators.DataRequired(), validators.Length(min=2, max=2)],
            description="For numbers typed without +country code.",
        )
    }
    form_args = {"phone": {"validators": [validators.DataRequired(), validators.Length(max=40)]}}

    def on_model_change(self, form, model, is_created):
        model.phone = normalize_dnc_phone(model.phone, form.country.data)
        if is_created:
            model.source = "manual"
            model.created_at = utcnow()
            if DoNotCall.select().where(DoNotCall.phone == model.phone).exists():
                raise ValidationError(f"{model.phone} is already on the do-not-call list")
        log.info("do-not-call add phone=%s by=%s", model.phone, current_user.username)

    def on_model_delete(self, model):
        log.info("do-not-call remove phone=%s by=%s", model.phone, current_user.username)
