"""Campaign views: list, create/edit with inline options and windows, actions, live page."""

from __future__ import annotations

import logging
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import abort, current_app, flash, g, jsonify, redirect, request, send_file, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.peewee.form import save_inline
from flask_admin.form import BaseForm, DateTimeField
from flask_admin.model.form import InlineFormAdmin
from flask_login import current_user
from markupsafe import Markup
from wtforms import fields, validators

from app.clock import utcnow
from app.web.admin.base import SecureModelView, can_act
from app.web.admin.campaign_ops import OPS, run_op
from app.web.admin.media import STOCK_SOUNDS, store_message
from app.web.admin.stats import TTLCache, cached_progress, live_view, page_progress, shared_live_view
from app.campaigns import get_campaign
from app.db import database
from app.errors import CallcastError, NotFoundError, ValidationError
from app.models import (
    ACTIVE,
    CLOSED,
    DRAFT,
    OPTION_ACTIONS,
    OPTION_DIGITS,
    PAUSED,
    RETRYABLE_OUTCOMES,
    CallWindow,
    Campaign,
    CampaignOption,
    CampaignReport,
    ContactList,
)

log = logging.getLogger(__name__)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# fields a running campaign's dialplan and contact rows were built from: changing
# them after activation would corrupt it, so they are only editable in DRAFT
LOCKED_AFTER_DRAFT = (
    "contact_list",
    "timezone",
    "message_upload",
    "message_sound",
    "digit_timeout_s",
    "message_repeats",
    "options",
)
# once it is finishing or closed, nothing changes any more
EDITABLE_STATES = (DRAFT, ACTIVE, PAUSED)
ZONES = sorted(available_timezones())


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


def to_utc(value: datetime | None, zone: str) -> datetime | None:
    """A naive local time from the form, in the campaign's zone, as aware UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))


def stats_cache() -> TTLCache:
    """This app's cache of campaign figures (a new app, as in each test, starts empty)."""
    return current_app.extensions.setdefault("callcast_stats_cache", TTLCache())


def render_progress(done: int, total: int) -> Markup:
    percent = round(100.0 * done / total, 1) if total else 0.0
    return Markup(
        '<div class="progress" style="min-width:8em" title="{d} / {t}">'
        '<div class="progress-bar" role="progressbar" style="width:{p}%">{p}%</div></div>'
        '<small>{d} / {t}</small>'
    ).format(d=done, t=total, p=percent)


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
            "Label", validators=[validators.InputRequired(), validators.Length(max=100)]
        )
        form_class.action = fields.SelectField(
            "Action", choices=[fields.SelectChoice(a) for a in OPTION_ACTIONS])
        form_class.target = fields.StringField(
            "Transfer target", validators=[validators.Length(max=100)],
            description="Dial string for a transfer, e.g. PJSIP/desk",
        )
        return form_class


class WindowInline(InlineFormAdmin):
    form_columns = ("id", "weekday", "starts", "ends")
    form_label = "Call window (local time; an end at or before the start runs past midnight, 00:00-00:00 is all day)"

    def get_form(self):
        class WindowForm(BaseForm):
            pass

        return self._fields(WindowForm)

    def _fields(self, form_class):
        form_class.id = fields.HiddenField(validators=[validators.Optional()])
        form_class.weekday = fields.SelectField(
            "Weekday", choices=[fields.SelectChoice(i, d) for i, d in enumerate(WEEKDAYS)],
            coerce=int)
        form_class.starts = HourMinuteField("Starts (HH:MM)", validators=[validators.InputRequired()])
        form_class.ends = HourMinuteField("Ends (HH:MM)", validators=[validators.InputRequired()])
        return form_class


class CampaignView(SecureModelView):
    edit_template = "callcast/campaign_edit.html"
    details_template = "callcast/campaign_live.html"

    column_list = ("id", "name", "state", "dialer_status", "progress", "contact_list", "max_channels", "created_at")
    column_sortable_list = ("id", "name", "state", "created_at", "max_channels")
    column_default_sort = ("id", True)
    column_searchable_list = ("name",)
    column_filters = ("state", "name", "created_at")
    column_labels = {"dialer_status": "Dialer", "max_channels": "Max channels"}
    can_delete = False  # campaigns are closed, never deleted from the console

    form_columns = (
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
        "digit_timeout_s",
        "message_repeats",
    )
    form_extra_fields = {
        "message_upload": fields.FileField(
            "Message file (WAV 8/16 kHz mono 16-bit, or GSM)",
            description="Replaces the stock sound when given.",
        )
    }
    form_overrides = {
        # Flask-Admin's subclass: the same picker; wtforms' DateTimeField itself is deprecated
        "starts_at": DateTimeField,
        "ends_at": DateTimeField,
        "timezone": fields.SelectField,
        "message_sound": fields.SelectField,
        "retry_on": fields.SelectMultipleField,
    }
    form_args = {
        "name": {"validators": [validators.DataRequired(), validators.Length(max=200)]},
        "timezone": {"choices": [fields.SelectChoice(z) for z in ZONES], "default": "UTC"},
        "message_sound": {
            "label": "Stock sound",
            "choices": [fields.SelectChoice("", "(none: use the uploaded file)")]
            + [fields.SelectChoice(s) for s in STOCK_SOUNDS],
        },
        "retry_on": {
            "label": "Retry on",
            "choices": [fields.SelectChoice(o) for o in RETRYABLE_OUTCOMES],
        },
        "max_channels": {"validators": [validators.NumberRange(min=1, max=1000)]},
        "max_attempts": {"validators": [validators.NumberRange(min=1, max=20)]},
        "weight": {"validators": [validators.NumberRange(min=1, max=100)]},
        "retry_busy_s": {"validators": [validators.NumberRange(min=0)]},
        "retry_noanswer_s": {"validators": [validators.NumberRange(min=0)]},
        "retry_failed_s": {"validators": [validators.NumberRange(min=0)]},
        "ring_timeout_s": {"validators": [validators.NumberRange(min=5, max=120)]},
        "max_call_s": {"validators": [validators.NumberRange(min=10, max=3600)]},
        "digit_timeout_s": {"validators": [validators.NumberRange(min=1, max=60)]},
        "message_repeats": {"validators": [validators.NumberRange(min=1, max=10)]},
    }
    inline_models = (OptionInline(CampaignOption), WindowInline(CallWindow))

    # --- list ---------------------------------------------------------------

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, rows = super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)
        if not execute:
            return count, rows
        rows = list(rows)
        # one look-up per page, not one per row
        g.campaign_progress = page_progress(rows, stats_cache())
        list_ids = {c.contact_list_id for c in rows if c.contact_list_id is not None}
        g.list_names = dict(
            ContactList.select(ContactList.id, ContactList.name).where(ContactList.id.in_(list_ids)).tuples()
        ) if list_ids else {}
        return count, rows

    def _format_progress(view, context, model, name):
        found = getattr(g, "campaign_progress", {}).get(model.id)
        return render_progress(*(found or cached_progress(model, stats_cache())))

    def _format_name(view, context, model, name):
        return Markup('<a href="{}">{}</a>').format(
            url_for(".details_view", id=model.id), model.name
        )

    def _format_contact_list(view, context, model, name):
        if model.contact_list_id is None:
            return ""
        return getattr(g, "list_names", {}).get(model.contact_list_id, model.contact_list_id)

    column_formatters = {
        "progress": _format_progress,
        "name": _format_name,
        "contact_list": _format_contact_list,
    }

    # --- forms --------------------------------------------------------------

    @staticmethod
    def _ready_lists(form):
        if "contact_list" in form:
            form.contact_list.query = (
                ContactList.select().where(ContactList.status == "ready").order_by(ContactList.id.desc())
            )

    def create_form(self, obj=None):
        form = super().create_form(obj)
        self._ready_lists(form)
        if request.method == "GET":
            form.retry_on.data = list(RETRYABLE_OUTCOMES)
            form.timezone.data = "UTC"
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if obj is not None and request.method == "GET":
            form.retry_on.data = sorted(obj.retry_outcomes)
            form.starts_at.data = local_naive(obj.starts_at, obj.timezone)
            form.ends_at.data = local_naive(obj.ends_at, obj.timezone)
        if obj is not None and obj.state != DRAFT:
            # not rendered, not accepted: the server refuses the change, not the browser
            for name in LOCKED_AFTER_DRAFT:
                if name in form:
                    del form[name]
        self._ready_lists(form)
        return form

    def on_model_change(self, form, model, is_created):
        if not is_created and model.state not in EDITABLE_STATES:
            raise ValidationError(f"campaign {model.id} is {model.state}: it can no longer change")
        if isinstance(model.retry_on, (list, tuple)):
            unknown = set(model.retry_on) - set(RETRYABLE_OUTCOMES)
            if unknown:
                raise ValidationError(f"cannot retry on {', '.join(sorted(unknown))}")
            model.retry_on = ",".join(o for o in RETRYABLE_OUTCOMES if o in model.retry_on)
        try:
            ZoneInfo(model.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"unknown time zone {model.timezone!r}") from None
        model.starts_at = to_utc(model.starts_at, model.timezone)
        model.ends_at = to_utc(model.ends_at, model.timezone)
        if model.starts_at and model.ends_at and model.ends_at <= model.starts_at:
            raise ValidationError("the end must come after the start")
        if "options" in form:
            digits = [entry.form.digit.data for entry in form.options.entries if not form.options.should_delete(entry)]
            duplicates = sorted({d for d in digits if digits.count(d) > 1})
            if duplicates:
                raise ValidationError(f"digit {', '.join(duplicates)} is used by two options")
            for entry in form.options.entries:
                if entry.form.action.data == "transfer" and not entry.form.target.data:
                    raise ValidationError(f"option {entry.form.digit.data}: a transfer needs a target")
        now = utcnow()
        model.updated_at = now
        if is_created:
            model.created_at = now
            model.state = DRAFT
            model.created_by = current_user.user_id
        model.updated_by = current_user.user_id
        upload = form.message_upload.data if "message_upload" in form else None
        has_upload = bool(upload and getattr(upload, "filename", ""))
        if "message_sound" in form and not has_upload and not model.message_sound and not model.message_file:
            raise ValidationError("choose a stock sound or upload a message file")
        if has_upload:
            model.message_sound = ""

    def _save(self, form, model, is_created):
        """Save the campaign, its inline rows and its message in one transaction."""
        with database.atomic():
            form.populate_obj(model)
            self._on_model_change(form, model, is_created)
            model.save(force_insert=is_created)
            save_inline(form, model)
            upload = form.message_upload.data if "message_upload" in form else None
            if upload and getattr(upload, "filename", ""):
                media_dir = current_app.config["SETTINGS"].media_dir
                model.message_file = store_message(media_dir, model.id, upload.filename, upload.read())
                model.save()
        return model

    def create_model(self, form):
        try:
            model = self._save(form, self.model(), True)
        except Exception as exc:
            if not self.handle_view_exception(exc):
                flash(f"Failed to create the campaign: {exc}", "error")
                log.exception("campaign create failed")
            return False
        self.after_model_change(form, model, True)
        log.info("campaign created campaign=%s user=%s", model.id, current_user.username)
        return model

    def update_model(self, form, model):
        try:
            self._save(form, model, False)
        except Exception as exc:
            if not self.handle_view_exception(exc):
                flash(f"Failed to save the campaign: {exc}", "error")
                log.exception("campaign update failed campaign=%s", model.id)
            return False
        self.after_model_change(form, model, False)
        return True

    # --- actions ------------------------------------------------------------

    def _run_bulk(self, op_name, ids):
        done = 0
        for raw in ids:
            try:
                run_op(op_name, int(raw), utcnow(), user_id=current_user.user_id)
                done += 1
            except (CallcastError, ValueError) as exc:
                flash(str(exc), "error")
        if done:
            flash(f"{OPS[op_name].label}: {done} campaign(s).", "success")

    @action("activate", "Activate", "Activate the selected campaigns?")
    def action_activate(self, ids):
        self._run_bulk("activate", ids)

    @action("pause", "Pause", "Pause the selected campaigns?")
    def action_pause(self, ids):
        self._run_bulk("pause", ids)

    @action("resume", "Resume", "Resume the selected campaigns?")
    def action_resume(self, ids):
        self._run_bulk("resume", ids)

    @action("finish", "Finish now", "Finish the selected campaigns now? This cannot be undone.")
    def action_finish(self, ids):
        self._run_bulk("finish", ids)

    @expose("/act/<int:campaign_id>/<op_name>", methods=["POST"])
    def act_view(self, campaign_id, op_name):
        """One action from the campaign page's buttons."""
        if not can_act():
            abort(403)
        if op_name not in OPS:
            abort(404)
        try:
            run_op(op_name, campaign_id, utcnow(), user_id=current_user.user_id)
            flash(f"{OPS[op_name].label}: done.", "success")
        except NotFoundError:
            abort(404)
        except CallcastError as exc:
            flash(str(exc), "error")
        return redirect(url_for(".details_view", id=campaign_id))

    # --- live page and report -------------------------------------------------

    @expose("/details/")
    def details_view(self):
        campaign_id = request.args.get("id", type=int)
        campaign = Campaign.get_or_none(Campaign.id == campaign_id) if campaign_id else None
        if campaign is None:
            flash("No such campaign.", "error")
            return redirect(url_for(".index_view"))
        report = CampaignReport.get_or_none(CampaignReport.campaign == campaign.id)
        return self.render(
            self.details_template,
            campaign=campaign,
            live=live_view(campaign.id, stats_cache()),
            report=report if campaign.state == CLOSED else None,
            ops=[op for op in OPS.values() if campaign.state in op.sources] if can_act() else [],
            options=list(campaign.options.order_by(CampaignOption.digit)),
            windows=list(campaign.windows.order_by(CallWindow.weekday, CallWindow.starts)),
            weekdays=WEEKDAYS,
            return_url=url_for(".index_view"),
        )

    @expose("/live/<int:campaign_id>.json")
    def live_json(self, campaign_id):
        try:
            get_campaign(campaign_id)
        except NotFoundError:
            abort(404)
        return jsonify(shared_live_view(campaign_id, stats_cache()))

    def _report(self, campaign_id):
        report = CampaignReport.get_or_none(CampaignReport.campaign == campaign_id)
        if report is None:
            abort(404)
        return report

    def _send_stored(self, path_text, download_name=None, mimetype=None):
        """Send a file the lifecycle wrote, only from the export or media folders."""
        settings = current_app.config["SETTINGS"]
        path = Path(path_text)
        if not path.is_absolute():
            path = settings.export_dir / path
        path = path.resolve()
        allowed = [settings.export_dir.resolve(), settings.media_dir.resolve()]
        if not any(path.is_relative_to(root) for root in allowed) or not path.is_file():
            abort(404)
        return send_file(path, as_attachment=download_name is not None,
                         download_name=download_name, mimetype=mimetype)

    @expose("/report/<int:campaign_id>.csv")
    def report_csv(self, campaign_id):
        report = self._report(campaign_id)
        if not report.csv_path:
            abort(404)
        log.info("report downloaded campaign=%s user=%s", campaign_id, current_user.username)
        return self._send_stored(
            report.csv_path, download_name=f"campaign-{campaign_id}-report.csv", mimetype="text/csv"
        )

    @expose("/report/<int:campaign_id>/chart/<chart>")
    def report_chart(self, campaign_id, chart):
        report = self._report(campaign_id)
        path = (report.charts or {}).get(chart)
        if not path:
            abort(404)
        return self._send_stored(path)

