"""The campaign form: its fields, the inline options and windows, and what it hands the domain.

The rules (ranges, lengths, what a running campaign may not change) come from
``app.campaigns``; the form only offers them and turns its data into the values,
options and windows that ``campaigns.create`` / ``update`` check and store.
"""

from __future__ import annotations

import json
from datetime import datetime, time
from zoneinfo import ZoneInfo, available_timezones

from flask_admin.form import BaseForm
from flask_admin.model.form import InlineFormAdmin
from wtforms import fields, validators

from app.campaigns import (
    LIMITS,
    LOCKED_AFTER_DRAFT,
    MAX_LENGTHS,
    caller_id_problems,
    date_problems,
)
from app.callee_hours import window_problems as callee_window_problems
from app.errors import ValidationError
from app.menu import LABEL_MAX, TARGET_MAX
from app.models import OPTION_ACTIONS, OPTION_DIGITS, RETRYABLE_OUTCOMES
from app.web.admin.media import STOCK_SOUNDS
from app.windows import Span

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ZONES = sorted(available_timezones())
FORM_COLUMNS = (
    "name",
    "contact_list",
    "timezone",
    "starts_at",
    "ends_at",
    "max_channels",
    "max_attempts",
    "weight",
    "retry_on",
    "retry_busy_s",
    "retry_noanswer_s",
    "retry_failed_s",
    "ring_timeout_s",
    "max_call_s",
    "caller_id",
    "message_sound",
    "message_template",
    "digit_timeout_s",
    "message_repeats",
    "callee_window",
)
# not rendered for a running campaign, so not accepted either (the domain refuses them too)
LOCKED_FIELDS = (*LOCKED_AFTER_DRAFT, "message_upload", "options")


def rule_of(problems):
    """A form validator that shows, at the field, what a campaign rule finds wrong with it."""

    def check(form, field):
        found = problems(field.name, field.data) if field.data not in (None, "") else []
        if found:
            raise validators.ValidationError(found[0])

    return check


FORM_ARGS = {
    "name": {"validators": [validators.DataRequired(),
                            validators.Length(max=MAX_LENGTHS["name"])]},
    "timezone": {"choices": [fields.SelectChoice(z) for z in ZONES], "default": "UTC"},
    # local time here: the domain checks the UTC value again once the zone is known
    "starts_at": {"validators": [rule_of(date_problems)]},
    "ends_at": {"validators": [rule_of(date_problems)]},
    "caller_id": {"validators": [rule_of(lambda name, value: caller_id_problems(value))],
                  "description": '"Name" <number> or a number; empty: the trunk\'s own'},
    "message_sound": {
        "label": "Stock sound",
        "choices": [fields.SelectChoice("", "(none: use the uploaded file)")]
        + [fields.SelectChoice(s) for s in STOCK_SOUNDS],
    },
    "message_template": {
        "label": "Personalised message (template)",
        "render_kw": {"rows": 8, "class": "form-control text-monospace"},
        "description": 'JSON, segments in order: {"segments": [{"kind": "sound", "sound": '
                       '"hello"}, {"kind": "tts", "text": "Hello {name}"}, {"kind": "say", '
                       '"field": "amount", "as": "number|digits|alpha|date|time|money"}]}; '
                       "the fields are the contact list's columns (listed on the campaign's "
                       "Messages page). Empty: the stock sound or file for everyone.",
    },
    "callee_window": {
        "label": "Callee's hours",
        "validators": [rule_of(lambda name, value: callee_window_problems(value))],
        "description": "HH:MM-HH:MM: also call each contact only inside these hours of its own "
                       "time zone (from its number; most restrictive when it may be in several; "
                       "unknown: the campaign's zone). Empty: off.",
    },
    "retry_on": {
        "label": "Retry on",
        "choices": [fields.SelectChoice(o) for o in RETRYABLE_OUTCOMES],
    },
    **{
        name: {"validators": [validators.NumberRange(*limit.form_range())]}
        for name, limit in LIMITS.items()
    },
}


class TemplateField(fields.TextAreaField):
    """The message template as JSON (app.messages.template); empty: no template."""

    def _value(self):
        if isinstance(self.data, dict):
            return json.dumps(self.data, indent=1, ensure_ascii=False) if self.data else ""
        return self.data or ""

    def process_formdata(self, valuelist):
        self.data = {}
        if not valuelist or not valuelist[0].strip():
            return
        try:
            self.data = json.loads(valuelist[0])
        except ValueError as exc:
            self.data = None
            raise validators.ValidationError(f"not JSON: {exc}") from None


class HourMinuteField(fields.StringField):
    """A local time typed as HH:MM (or HH:MM:SS)."""

    def _value(self):
        if isinstance(self.data, time):
            return self.data.strftime("%H:%M")
        return self.data or ""

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist or not valuelist[0].strip():
            return
        raw = valuelist[0].strip()
        for fmt in ("%H:%M", "%H:%M:%S"):
            try:
                self.data = datetime.strptime(raw, fmt).time()
                return
            except ValueError:
                continue
        raise validators.ValidationError(f"{raw!r} is not a time like 09:00")


def local_naive(value: datetime | None, zone: str) -> datetime | None:
    """A stored UTC datetime as the naive local time the form shows."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


class OptionInline(InlineFormAdmin):
    form_columns = ("id", "digit", "label", "action", "target")
    form_label = "Digit option"

    def get_form(self):
        class OptionForm(BaseForm):
            pass

        return self._fields(OptionForm)

    def _fields(self, form_class):
        form_class.id = fields.HiddenField(validators=[validators.Optional()])
        form_class.digit = fields.SelectField(
            "Digit", choices=[fields.SelectChoice(d) for d in OPTION_DIGITS])
        form_class.label = fields.StringField(
            "Label", validators=[validators.InputRequired(), validators.Length(max=LABEL_MAX)]
        )
        form_class.action = fields.SelectField(
            "Action", choices=[fields.SelectChoice(a) for a in OPTION_ACTIONS])
        form_class.target = fields.StringField(
            "Transfer target", validators=[validators.Length(max=TARGET_MAX)],
            description="A phone number (dialled like a contact), or EXTEN@CONTEXT for a "
                        "context the administrator allowed (TRANSFER_CONTEXTS)",
        )
        return form_class


class WindowInline(InlineFormAdmin):
    form_columns = ("id", "weekday", "starts", "ends")
    form_label = ("Call window (local time; an end at or before the start runs past midnight, "
                  "00:00-00:00 is all day)")

    def get_form(self):
        class WindowForm(BaseForm):
            pass

        return self._fields(WindowForm)

    def _fields(self, form_class):
        form_class.id = fields.HiddenField(validators=[validators.Optional()])
        form_class.weekday = fields.SelectField(
            "Weekday", choices=[fields.SelectChoice(i, d) for i, d in enumerate(WEEKDAYS)],
            coerce=int
        )
        form_class.starts = HourMinuteField(
            "Starts (HH:MM)", validators=[validators.InputRequired()]
        )
        form_class.ends = HourMinuteField("Ends (HH:MM)", validators=[validators.InputRequired()])
        return form_class


def form_values(form) -> dict:
    """The campaign fields the form holds (a running campaign's form lacks the locked ones)."""
    return {name: form[name].data for name in FORM_COLUMNS if name in form}


def _kept(inline):
    return [entry.form for entry in inline.entries if not inline.should_delete(entry)]


def form_options(form) -> list[dict] | None:
    """The digit options as typed, or None when the form has none (a running campaign)."""
    if "options" not in form:
        return None
    return [
        {"digit": f.digit.data, "label": f.label.data, "action": f.action.data,
         "target": f.target.data or ""}
        for f in _kept(form.options)
    ]


def form_windows(form) -> list[Span] | None:
    """The call windows as typed, or None when the form has none."""
    if "windows" not in form:
        return None
    return [Span(f.weekday.data, f.starts.data, f.ends.data) for f in _kept(form.windows)]


def uploaded_message(form):
    """The uploaded message file, or None when the form has no upload (or an empty one)."""
    upload = form.message_upload.data if "message_upload" in form else None
    return upload if upload and getattr(upload, "filename", "") else None


def check_message(form, values: dict, stored_file: str) -> None:
    """A campaign made in the form needs a stock sound, an upload or a file already stored.

    Raises:
        ValidationError: none of the three.
    """
    if "message_sound" in form and not uploaded_message(form) and not values.get("message_sound") \
            and not stored_file and not values.get("message_template"):
        raise ValidationError("choose a stock sound, upload a message file or write a template")
