"""Campaign views: list, create/edit with inline options and windows, actions, live page.

The form is in campaign_forms, the list's columns in campaign_columns; the rules
and the writes are the campaign domain's (``app.campaigns``).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

import logging
from pathlib import Path

from flask import Response, abort, current_app, flash, jsonify, redirect, request, send_file, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.form import DateTimeField
from flask_login import current_user
from wtforms import fields

from app import campaigns
from app.clock import utcnow
from app.db import row_id, write_transaction
from app.errors import CallcastError, NotFoundError
from app.models import (
    CLOSED,
    DRAFT,
    RETRYABLE_OUTCOMES,
    CallWindow,
    Campaign,
    CampaignOption,
    CampaignReport,
    ContactList,
)
from app.web.admin import amd_form
from app.web.admin.base import SecureModelView, can_act
from app.web.admin.campaign_columns import COLUMN_FORMATTERS, remember_page, stats_cache
from app.messages.prepare import skipped_note
from app.web.admin.campaign_forms import (
    FORM_ARGS,
    FORM_COLUMNS,
    LOCKED_FIELDS,
    WEEKDAYS,
    OptionInline,
    TemplateField,
    WindowInline,
    check_message,
    form_options,
    form_values,
    form_windows,
    local_naive,
    uploaded_message,
)
from app.web.admin.campaign_ops import OPS, run_op
from app.web.admin.campaign_words import campaign_words, live_words
from app.web.error_words import translate_error
from app.web.admin.campaign_reuse import CampaignReuseMixin
from app.web.admin.media import store_message
from app.web.admin.stats import live_view, shared_live_view

log = logging.getLogger(__name__)


class CampaignView(CampaignReuseMixin, SecureModelView):
    edit_template = "callcast/campaign_edit.html"
    create_template = "callcast/campaign_create.html"
    details_template = "callcast/campaign_live.html"

    column_list = ("id", "name", "state", "dialer_status", "progress", "contact_list", "max_channels", "created_at")
    column_sortable_list = ("id", "name", "state", "created_at", "max_channels")
    column_default_sort = ("id", True)
    column_searchable_list = ("name",)
    column_filters = ("state", "name", "created_at")
    column_labels = {"id": "ID", "name": _l("Name"), "state": _l("State"),
                     "dialer_status": _l("Dialer"), "progress": _l("Progress"),
                     "contact_list": _l("Contact list"), "max_channels": _l("Max channels"),
                     "created_at": _l("Created")}
    can_delete = False  # campaigns are closed, never deleted from the console

    form_columns = FORM_COLUMNS
    form_extra_fields = {
        "message_upload": fields.FileField(
            "Message file (WAV 8/16 kHz mono 16-bit, or GSM)",
            description="Replaces the stock sound when given.",
        ),
        **amd_form.AMD_FIELDS,
    }
    form_overrides = {
        # Flask-Admin's subclass: the same picker; wtforms' DateTimeField itself is deprecated
        "starts_at": DateTimeField,
        "ends_at": DateTimeField,
        "timezone": fields.SelectField,
        "message_sound": fields.SelectField,
        "message_template": TemplateField,
        "retry_on": fields.SelectMultipleField,
    }
    form_args = FORM_ARGS
    inline_models = (OptionInline(CampaignOption), WindowInline(CallWindow))

    # --- list ---------------------------------------------------------------

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True,
                 page_size=None):
        count, rows = super().get_list(page, sort_column, sort_desc, search, filters, execute,
                                       page_size)
        if not execute:
            return count, rows
        rows = list(rows)
        remember_page(rows)
        return count, rows

    column_formatters = COLUMN_FORMATTERS

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
            amd_form.fill(form, obj)
        if obj is not None and obj.state != DRAFT:
            # not rendered, not accepted: the server refuses the change, not the browser
            for name in LOCKED_FIELDS:
                if name in form:
                    del form[name]
            amd_form.lock(form)
        self._ready_lists(form)
        return form

    def _save(self, form, model, is_created):
        """Create or change the campaign, its options, windows and message in one transaction."""
        values = form_values(form)
        if amd_form.amd_values(form) is not None:
            values["amd"] = amd_form.amd_values(form)
        voicemail = amd_form.uploaded_voicemail(form)
        if voicemail:  # checked as present now, stored once the campaign has an id
            values["amd"].update(message_file=amd_form.PENDING_UPLOAD, message_sound="")
        upload = uploaded_message(form)
        if upload:
            values["message_sound"] = ""
        check_message(form, values, "" if is_created else model.message_file)
        now, user_id = utcnow(), current_user.user_id
        options, windows = form_options(form), form_windows(form)
        # one write transaction from the first read: under load a deferred one
        # failed at once with "database is locked" when it came to write
        with write_transaction():
            if is_created:
                model = campaigns.create(values, now, user_id, options or (), windows or ())
            else:
                model = campaigns.update(model.id, values, now, user_id, options, windows)
            if upload:
                media_dir = current_app.config["SETTINGS"].media_dir
                stored = store_message(media_dir, model.id, upload.filename, upload.read())
                model = campaigns.update(model.id, {"message_file": stored}, now, user_id)
            if voicemail:
                media_dir = current_app.config["SETTINGS"].media_dir
                model = amd_form.store_voicemail(model, voicemail, media_dir, now, user_id)
        return model

    def create_model(self, form):
        try:
            model = self._save(form, None, True)
        except Exception as exc:
            if not self.handle_view_exception(exc):
                flash(f"Failed to create the campaign: {exc}", "error")
                log.exception("campaign create failed")
            return False
        self.after_model_change(form, model, True)
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
                run_op(op_name, raw, utcnow(), user_id=current_user.user_id)
                done += 1
            except CallcastError as exc:
                flash(translate_error(str(exc)), "error")
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
            if op_name == "activate" and skipped_note(campaign_id):  # app.messages
                flash(skipped_note(campaign_id) + ": see the Messages tab.", "warning")
        except NotFoundError:
            abort(404)
        except CallcastError as exc:
            flash(translate_error(str(exc)), "error")
        return redirect(url_for(".details_view", id=campaign_id))

    # --- live page and report -------------------------------------------------

    @expose("/details/")
    def details_view(self):
        campaign_id = row_id(request.args.get("id", ""))
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
            can_reuse=can_act(),
            options=list(campaign.options.order_by(CampaignOption.digit)),
            windows=list(campaign.windows.order_by(CallWindow.weekday, CallWindow.starts)),
            weekdays=WEEKDAYS,
            return_url=url_for(".index_view"),
            words=campaign_words(campaign, report),
        )

    @expose("/live/<int:campaign_id>.json")
    def live_json(self, campaign_id):
        try:
            campaign = campaigns.get_campaign(campaign_id)
        except NotFoundError:
            abort(404)
        live = shared_live_view(campaign_id, stats_cache())
        return jsonify(live_words(live, campaign.timezone))

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

    @expose("/report/<int:campaign_id>.pdf")
    def report_pdf(self, campaign_id):
        """The report as a PDF, in the console's language."""
        from app.reports_pdf import report_pdf
        from app.web.i18n import locale

        try:
            pdf = report_pdf(campaign_id, locale())
        except NotFoundError:
            abort(404)
        log.info("report PDF downloaded campaign=%s user=%s", campaign_id, current_user.username)
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-report.pdf"'})

    @expose("/report/<int:campaign_id>/chart/<chart>")
    def report_chart(self, campaign_id, chart):
        report = self._report(campaign_id)
        path = (report.charts or {}).get(chart)
        if not path:
            abort(404)
        return self._send_stored(path)

