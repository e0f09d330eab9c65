"""The campaign page's settings and report in words, in the request's language."""

from __future__ import annotations

from flask_babel import gettext

from app import presenting
from app.clock import utcnow
from app.console_figures import calls_per_minute
from app.events import OUTCOMES
from app.models import CLOSED, CallWindow, CampaignOption
from app.web.i18n import locale


def campaign_words(campaign, report) -> dict:
    """Times, windows, retry policy, menu and (once closed) the report, as the page shows them."""
    lang = locale()
    zone = campaign.timezone
    options = list(campaign.options.order_by(CampaignOption.digit))
    windows = list(campaign.windows.order_by(CallWindow.weekday, CallWindow.starts))
    words = {
        "times": [(label, presenting.local_time(value, zone, lang)) for label, value in (
            ("Created", campaign.created_at), ("Starts", campaign.starts_at),
            ("Ends", campaign.ends_at), ("Activated", campaign.activated_at),
            ("Finished", campaign.finished_at), ("Closed", campaign.closed_at),
        ) if value is not None],
        "window_lines": presenting.window_lines(windows, lang),
        "retry": presenting.retry_sentence(campaign, lang),
        "menu": presenting.menu_preview(options, lang),
        "outcome_names": {o: presenting.outcome_label(o, lang) for o in (*OUTCOMES, "unknown")},
        "dialer_status_at": presenting.local_time(campaign.dialer_status_at, zone, lang)
        if campaign.dialer_status_at else "",
    }
    data = (report.data or {}) if report is not None and campaign.state == CLOSED else {}
    if "contacts" in data:
        words.update(
            summary=presenting.report_summary(data, lang),
            digit_rows=presenting.digit_rows(data, lang),
            outcome_rows=[(presenting.outcome_label(k, lang), presenting.number(v, lang))
                          for k, v in data.get("outcomes", {}).items() if v],
            captions=presenting.chart_captions(data, lang),
        )
    return words


def live_words(live: dict, zone: str) -> dict:
    """The live JSON plus what the page's charts and labels need: calls per minute, words."""
    lang = locale()
    return {
        **live,
        # the calls ended in each of the last 30 minutes, for the page's chart
        "per_minute": calls_per_minute([live["id"]], utcnow())[live["id"]],
        "state_label": gettext(live["state"]),
        "dialer_status_at_text": presenting.local_time(live["dialer_status_at"], zone, lang)
        if live.get("dialer_status_at") else "",
    }
