"""The personalised message of a campaign in the console: each contact's message text (or why it
is skipped), "preview for contact N" as a WAV the browser plays, and the skipped list as CSV.

Everything goes through the domain: ``render_contact`` (the same values the dialer sends),
``preview_wav`` and ``skipped_csv`` (app.messages).
"""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, request, url_for
from flask_admin import expose

from app.errors import ValidationError
from app.messages.prepare import skipped_csv
from app.messages.preview import preview_wav
from app.messages.template import parse, template_problems
from app.messages.values import render_contact
from app.models import Campaign, Contact
from app.web.admin.base import SecureBaseView

PER_PAGE = 50


def _campaign(campaign_id):
    return Campaign.get_or_none(Campaign.id == campaign_id) if campaign_id else None


def contact_rows(campaign, page: int) -> list[dict]:
    """One page of the campaign's contacts with what their message says (or its problems)."""
    template = parse(campaign.message_template) if not template_problems(
        campaign.message_template) else None
    rows = []
    query = (Contact.select().where(Contact.contact_list == campaign.contact_list_id)
             .order_by(Contact.position).paginate(page, PER_PAGE))
    for contact in query:
        out = render_contact(template, contact.fields, campaign.timezone) if template else None
        rows.append({"id": contact.id, "line": contact.position, "phone": contact.phone,
                     "text": " ".join(out.shown) if out else "",
                     "problems": "; ".join(out.problems) if out else ""})
    return rows


class MessageView(SecureBaseView):
    """/admin/messages/?campaign=<id>: the contacts' messages of one campaign."""

    @expose("/")
    def index(self):
        campaign = _campaign(request.args.get("campaign", type=int))
        if campaign is None or campaign.contact_list_id is None:
            flash("Choose a campaign with a contact list.", "error")
            return redirect(url_for("campaign.index_view"))
        page = max(1, min(request.args.get("page", 1, type=int), 100_000))
        found = template_problems(campaign.message_template, campaign.contact_list.columns)
        return self.render("callcast/messages.html", campaign=campaign, page=page,
                           columns=campaign.contact_list.columns, problems=found,
                           rows=contact_rows(campaign, page), per_page=PER_PAGE,
                           preview_line=request.args.get("line", type=int))

    @expose("/preview/<int:campaign_id>/<int:line>.wav")
    def preview(self, campaign_id, line):
        """The WAV of the contact on line ``line`` of the list (TTS + stock prompts)."""
        campaign = _campaign(campaign_id)
        contact = campaign and Contact.get_or_none(
            (Contact.contact_list == campaign.contact_list_id) & (Contact.position == line))
        if contact is None:
            return Response("no such contact in this campaign's list\n", status=404,
                            mimetype="text/plain")
        try:
            wav, missing = preview_wav(campaign, contact.fields, current_app.config["SETTINGS"])
        except ValidationError as exc:
            return Response(f"{exc}\n", status=422, mimetype="text/plain")
        headers = {"X-Callcast-Missing-Prompts": ",".join(missing)[:500]} if missing else {}
        return Response(wav, mimetype="audio/wav", headers=headers)

    @expose("/skipped/<int:campaign_id>.csv")
    def skipped(self, campaign_id):
        if _campaign(campaign_id) is None:
            return Response("no such campaign\n", status=404, mimetype="text/plain")
        return Response(skipped_csv(campaign_id), mimetype="text/csv", headers={
            "Content-Disposition": f"attachment; filename=campaign-{campaign_id}-skipped.csv"})
