"""The campaign view's reuse and compliance actions: clone, templates, stop one contact.

A mixin of ``CampaignView``; the work is ``app.campaigns.cloning``'s, as for the
CLI and the API.
"""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user

from app.campaigns import cloning, recycling
from app.contacts.stopping import stop_contact
from app.clock import utcnow
from app.errors import CallcastError, NotFoundError
from app.events import OUTCOMES
from app.web.admin.base import can_act

log = logging.getLogger(__name__)


class CampaignReuseMixin:
    """Clone and template endpoints and list actions of the campaign view."""

    @expose("/clone/<int:campaign_id>", methods=["POST"])
    def clone_view(self, campaign_id):
        """Clone one campaign (the page's button, or "new from template"); open the copy's form."""
        if not can_act():
            abort(403)
        make = cloning.new_from_template if request.form.get("from_template") else cloning.clone
        name = (request.form.get("name") or "").strip() or None
        try:
            copy = make(campaign_id, utcnow(), current_user.user_id, name=name)
        except NotFoundError:
            abort(404)
        except CallcastError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index_view"))
        flash(f"Created DRAFT campaign {copy.id} ({copy.name}); check it before activating.",
              "success")
        return redirect(url_for(".edit_view", id=copy.id))

    @expose("/template/<int:campaign_id>", methods=["POST"])
    def template_view(self, campaign_id):
        """Mark one campaign as a template, or no longer (``on`` in the form)."""
        if not can_act():
            abort(403)
        try:
            cloning.mark_template(campaign_id, request.form.get("on") == "1", utcnow(),
                                  current_user.user_id)
        except NotFoundError:
            abort(404)
        except CallcastError as exc:
            flash(str(exc), "error")
        return redirect(url_for(".details_view", id=campaign_id))

    @expose("/stop-contact/<int:campaign_id>", methods=["POST"])
    def stop_contact_view(self, campaign_id):
        """Stop one contact (by phone or id), optionally onto the do-not-call list."""
        if not can_act():
            abort(403)
        try:
            done = stop_contact(campaign_id, request.form.get("contact", ""), utcnow(),
                                dnc=request.form.get("dnc") == "1",
                                note=(request.form.get("note") or "")[:255],
                                user_id=current_user.user_id)
        except CallcastError as exc:
            flash(str(exc), "error")
        else:
            listed = " and put on the do-not-call list" if done["dnc"] else ""
            flash(f"Contact {done['phone']} stopped (it was {done['was']}){listed}.", "success")
        return redirect(url_for(".details_view", id=campaign_id))

    @expose("/recycle/<int:campaign_id>", methods=["POST"])
    def recycle_view(self, campaign_id):
        """Preview, or build, the recycled list and DRAFT campaign of a finished campaign."""
        if not can_act():
            abort(403)
        form = request.form
        try:
            flt = recycling.make_filter(
                form.getlist("outcome"), [d for d in (form.get("digits") or "")[:24]
                                          if not d.isspace() and d != ","],
                _number(form.get("min_attempts"), 0),
                _number(form.get("max_attempts"), recycling.MAX_ATTEMPTS_FILTER))
            if form.get("preview"):
                count = recycling.preview(campaign_id, flt)
                flash(f"Recycle ({flt.describe()}): {count} contacts match.", "info")
                return redirect(url_for(".details_view", id=campaign_id))
            copy, _list, count = recycling.recycle(
                campaign_id, flt, utcnow(), current_user.user_id,
                name=(form.get("name") or "").strip()[:200] or None)
        except NotFoundError:
            abort(404)
        except CallcastError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".details_view", id=campaign_id))
        flash(f"Created DRAFT campaign {copy.id} with {count} contacts ({flt.describe()}).",
              "success")
        return redirect(url_for(".edit_view", id=copy.id))

    def recycle_outcomes(self):
        """The outcomes the recycle form offers."""
        return (*OUTCOMES, recycling.NOT_CALLED)

    def _clone_many(self, ids, make_template=None):
        done = 0
        for raw in ids:
            try:
                if make_template is None:
                    cloning.clone(raw, utcnow(), current_user.user_id)
                else:
                    cloning.mark_template(raw, make_template, utcnow(), current_user.user_id)
                done += 1
            except CallcastError as exc:
                flash(str(exc), "error")
        return done

    @action("clone", "Clone", "Copy the selected campaigns into new DRAFT campaigns?")
    def action_clone(self, ids):
        done = self._clone_many(ids)
        if done:
            flash(f"Cloned {done} campaign(s) into new DRAFT campaigns.", "success")

    @action("template", "Mark as template", "Offer the selected campaigns as templates?")
    def action_template(self, ids):
        done = self._clone_many(ids, make_template=True)
        if done:
            flash(f"{done} campaign(s) marked as template.", "success")

    @action("untemplate", "Not a template", "Stop offering the selected campaigns as templates?")
    def action_untemplate(self, ids):
        done = self._clone_many(ids, make_template=False)
        if done:
            flash(f"{done} campaign(s) no longer templates.", "success")

    def create_templates(self):
        """The templates the create page offers."""
        return cloning.templates() if can_act() else []


def _number(text, default: int):
    """A form's whole number (the filter bounds it); a blank is ``default``, garbage is -1."""
    text = (text or "").strip()
    if not text:
        return default
    return int(text) if text.isdigit() and len(text) < 6 else -1
