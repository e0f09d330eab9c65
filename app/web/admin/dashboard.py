"""The home dashboard: every campaign that is not CLOSED, one row each, refreshed live.

The page polls ``/admin/dashboard.json``; each row's actions post to
``/admin/act/<id>/<op>``, which runs the same ``run_op`` as the campaign page
(roles and CSRF as everywhere) and comes back here.
"""

from __future__ import annotations

import time

from flask import abort, current_app, flash, jsonify, redirect, url_for
from flask_admin import AdminIndexView, expose
from flask_babel import gettext
from flask_login import current_user

from app import presenting
from app.clock import utcnow
from app.console_figures import calls_per_minute, campaign_warnings, open_campaigns
from app.errors import CallcastError, NotFoundError
from app.web.admin.base import AccessMixin, can_act
from app.web.admin.campaign_columns import stats_cache
from app.web.admin.campaign_ops import OPS, run_op
from app.web.admin.stats import cached_progress, digit_counts, outcome_counts
from app.web.health import run_checks
from app.web.error_words import translate_error
from app.web.i18n import locale
from app.dialer.live import in_flight_count

# the page polls every 5 s: figures at most this stale
COUNTS_TTL = 4.0


def health_warnings() -> list[str]:
    """The failing /health checks (cached like /health's), as lines for the page."""
    settings = current_app.config["SETTINGS"]
    _ok, results = current_app.extensions["health"].get(lambda: run_checks(settings, utcnow()))
    return [gettext("Health check %(name)s failing: %(detail)s", name=name, detail=r["detail"])
            for name, r in sorted(results.items()) if not r["ok"]]


def _warning_text(warning: dict, zone: str, lang: str) -> str:
    if warning["kind"] == "breaker":
        return gettext("Route breaker paused the campaign at %(at)s",
                       at=presenting.local_time(warning["at"], zone, lang))
    return gettext("%(count)s call reports quarantined in the last hour", count=warning["count"])


def _counts(campaign_id: int) -> tuple[dict, dict]:
    """(outcomes, digits) so far, computed at most once per COUNTS_TTL per campaign and process.

    Each reads the campaign's whole working set (bench/dashboard.py: ~50 ms a campaign
    at 20,000 contacts); every viewer polling the dashboard shares one computation.
    """
    cache, now = stats_cache(), time.monotonic()
    hit = cache.get(("dashboard", campaign_id), COUNTS_TTL, now)
    if hit is None:
        hit = (outcome_counts(campaign_id, False), digit_counts(campaign_id, False))
        cache.put(("dashboard", campaign_id), hit, now)
    return hit


def _row(campaign, per_minute, warnings, live, lang) -> dict:
    done, total = cached_progress(campaign, stats_cache())
    outcomes, digits = _counts(campaign.id)
    final = sum(outcomes.values())
    labels = {o.digit: o.label for o in campaign.options}
    return {
        "id": campaign.id,
        "name": campaign.name,
        "url": url_for("campaign.details_view", id=campaign.id),
        "state": campaign.state,
        "state_label": gettext(campaign.state),
        "contacts_final": done,
        "contacts_total": total,
        "percent": round(100.0 * done / total, 1) if total else 0.0,
        "calls_up": live.get(campaign.id, 0),
        "max_channels": campaign.max_channels,
        "per_minute": per_minute,
        "answer_rate": presenting.percent(outcomes.get("answered", 0) / final if final else 0.0, lang),
        "digits": [{"digit": d, "label": labels.get(d, ""), "count": digits.get(d, 0)}
                   for d in sorted(set(labels) | set(digits))],
        "dialer_status": campaign.dialer_status or "-",
        "dialer_status_at": presenting.local_time(campaign.dialer_status_at, campaign.timezone, lang)
        if campaign.dialer_status_at else "",
        "warnings": [_warning_text(w, campaign.timezone, lang) for w in warnings],
        "ops": [{"name": op.name, "label": gettext(op.label)} for op in OPS.values()
                if op.name != "activate" and campaign.state in op.sources] if can_act() else [],
    }


def dashboard_data() -> dict:
    """Every row of the dashboard and the warnings above them."""
    now, lang = utcnow(), locale()
    found = open_campaigns()
    ids = [c.id for c in found]
    per_minute = calls_per_minute(ids, now)
    warnings = campaign_warnings(found, now)
    live = {cid: in_flight_count([cid]) for cid in ids}
    return {
        "updated": presenting.local_time(now, "UTC", lang),
        "health": health_warnings(),
        "campaigns": [_row(c, per_minute[c.id], warnings[c.id], live, lang) for c in found],
    }


class DashboardView(AccessMixin, AdminIndexView):
    """The console's home page."""

    @expose("/")
    def index(self):
        return self.render("callcast/dashboard.html", data=dashboard_data(),
                           csrf_action=url_for(".act", campaign_id=0, op_name="pause")[:-len("0/pause")])

    @expose("/dashboard.json")
    def data(self):
        return jsonify(dashboard_data())

    @expose("/act/<int:campaign_id>/<op_name>", methods=["POST"])
    def act(self, campaign_id, op_name):
        """Pause, resume or finish one campaign from its row."""
        if not can_act():
            abort(403)
        if op_name not in OPS or op_name == "activate":
            abort(404)
        try:
            run_op(op_name, campaign_id, utcnow(), user_id=current_user.user_id)
            flash(gettext("%(action)s: done.", action=gettext(OPS[op_name].label)), "success")
        except NotFoundError:
            abort(404)
        except CallcastError as exc:
            flash(translate_error(str(exc)), "error")
        return redirect(url_for(".index"))
