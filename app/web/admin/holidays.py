"""Holidays: add, list, remove (the work is app.holidays's, as for ``flask holiday``)."""

from __future__ import annotations

import logging

from flask import abort, flash
from flask_login import current_user
from wtforms import fields, validators

from app import holidays
from app.clock import utcnow
from app.errors import CallcastError
from app.web.admin.base import SecureModelView, can_act

log = logging.getLogger(__name__)


class HolidayView(SecureModelView):
    can_edit = False  # remove and add again: a date and a name are the whole record
    column_list = ("day", "name", "campaign_id", "created_at")
    column_labels = {"campaign_id": "Campaign (empty: every campaign)"}
    column_default_sort = ("day", False)
    column_sortable_list = ("day", "name", "campaign_id")
    column_filters = ("campaign_id", "day")
    form_columns = ("day", "name", "campaign_id")
    form_overrides = {"day": fields.DateField, "campaign_id": fields.IntegerField}
    form_args = {
        "day": {"description": "A date in each campaign's own time zone: nothing is dialled "
                               "from its 00:00 to 24:00 there.",
                "validators": [validators.DataRequired()]},
        "name": {"validators": [validators.DataRequired(), validators.Length(max=100)]},
        "campaign_id": {"label": "Campaign id (empty: every campaign)",
                        "validators": [validators.Optional()]},
    }

    def create_model(self, form):
        try:
            holiday = holidays.add_holiday(form.day.data, form.name.data, utcnow(),
                                           form.campaign_id.data)
        except CallcastError as exc:
            flash(str(exc), "error")
            return False
        log.info("holiday add id=%s by=%s", holiday.id, current_user.username)
        return holiday

    def delete_model(self, model):
        if not can_act():
            abort(403)
        try:
            holidays.remove_holiday(model.id)
        except CallcastError as exc:
            flash(str(exc), "error")
            return False
        return True
