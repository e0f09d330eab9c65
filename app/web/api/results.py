"""/api/v1/campaigns/<id>/status, results, report, report.csv, skipped.csv: what the console
shows."""

from __future__ import annotations

from pathlib import Path

from flask import Response, current_app, send_file
from flask_smorest import Blueprint

from app import campaigns
from app.errors import NotFoundError
from app.messages.prepare import skipped_csv
from app.models import CLOSED, ContactResult
from app.reports import stored_report
from app.web.admin.campaign_columns import stats_cache
from app.web.admin.stats import shared_live_view
from app.web.api.campaigns import page_of
from app.web.api.schemas import QUERY, LiveSchema, PageArgs, ReportSchema, ResultPage

blp = Blueprint("api_results", __name__, url_prefix="/api/v1/campaigns",
                description="Live status, per-contact results, the report and its CSV")


@blp.route("/<int:campaign_id>/status")
@blp.response(200, LiveSchema)
def status(campaign_id):
    """The live page's figures, with the dialer's status line ("why is it not dialing?")."""
    campaigns.get_campaign(campaign_id)
    return shared_live_view(campaign_id, stats_cache())


@blp.route("/<int:campaign_id>/results")
@blp.arguments(PageArgs, **QUERY)
@blp.response(200, ResultPage)
def results(args, campaign_id):
    """Per-contact results of a closed campaign, in contact order, a page at a time."""
    campaigns.get_campaign(campaign_id)
    query = ContactResult.select().where(ContactResult.campaign == campaign_id)
    rows, paging = page_of(query, args, ContactResult.contact_id)
    items = [{name: getattr(r, name) for name in (
        "contact_id", "phone", "outcome", "attempts", "digit", "digit_label", "answered_at",
        "talk_seconds", "last_attempt_at", "amd_verdict", "amd_cause")} for r in rows]
    return {"items": items, **paging}


def _report(campaign_id):
    campaign = campaigns.get_campaign(campaign_id)
    report = stored_report(campaign.id)
    if report is None or campaign.state != CLOSED:
        raise NotFoundError(f"campaign {campaign.id} is {campaign.state}: its report comes "
                            "when it is CLOSED")
    return report


@blp.route("/<int:campaign_id>/report")
@blp.response(200, ReportSchema)
def report(campaign_id):
    """The report the finalization stored (404 until the campaign is CLOSED)."""
    found = _report(campaign_id)
    return {"campaign_id": campaign_id, "step": found.step, "report": found.data or {}}


@blp.route("/<int:campaign_id>/report.csv")
@blp.response(200, {"type": "string"}, content_type="text/csv")
def report_csv(campaign_id):
    """The per-contact CSV the finalization wrote (404 until then)."""
    found = _report(campaign_id)
    settings = current_app.config["SETTINGS"]
    path = Path(found.csv_path or "")
    if not path.is_absolute():
        path = settings.export_dir / path
    path = path.resolve()
    allowed = [settings.export_dir.resolve(), settings.media_dir.resolve()]
    if not found.csv_path or not any(path.is_relative_to(r) for r in allowed) \
            or not path.is_file():
        raise NotFoundError(f"campaign {campaign_id} has no CSV")
    return send_file(path, mimetype="text/csv", as_attachment=True,
                     download_name=f"campaign-{campaign_id}-report.csv")


@blp.route("/<int:campaign_id>/skipped.csv")
@blp.response(200, {"type": "string"}, content_type="text/csv")
def skipped(campaign_id):
    """The contacts skipped at activation because their values do not fit the personalised
    message: contact id, line in the file, phone, the reason naming the field."""
    campaigns.get_campaign(campaign_id)
    return Response(skipped_csv(campaign_id), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=campaign-{campaign_id}-skipped.csv"})
