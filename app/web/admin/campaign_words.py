"""The campaign page's settings and report in words, in the request's language."""

from __future__ import annotations

from app import presenting
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
