"""How the campaign list shows a row: progress bars, links, list names."""

from __future__ import annotations

from flask import current_app, g, url_for
from markupsafe import Markup

from app import presenting
from app.models import Campaign, ContactList
from app.web.admin.stats import TTLCache, cached_progress, page_progress


def stats_cache() -> TTLCache:
    """This app's cache of campaign figures (a new app, as in each test, starts empty)."""
    return current_app.extensions.setdefault("callcast_stats_cache", TTLCache())


def remember_page(rows) -> None:
    """Look up the page's progress and list names once, not once per row."""
    g.campaign_progress = page_progress(rows, stats_cache())
    list_ids = {c.contact_list_id for c in rows if c.contact_list_id is not None}
    g.list_names = dict(
        ContactList.select(ContactList.id, ContactList.name)
        .where(ContactList.id.in_(list_ids)).tuples()
    ) if list_ids else {}


def render_progress(done: int, total: int) -> Markup:
    percent = round(100.0 * done / total, 1) if total else 0.0
    return Markup(
        '<div class="progress" style="min-width:8em" title="{d} / {t}">'
        '<div class="progress-bar" role="progressbar" aria-label="{d} / {t}" style="width:{p}%">{p}%</div></div>'
        '<small>{d} / {t}</small>'
    ).format(d=done, t=total, p=percent)


def format_progress(view, context, model, name):
    found = getattr(g, "campaign_progress", {}).get(model.id)
    return render_progress(*(found or cached_progress(model, stats_cache())))


def format_name(view, context, model, name):
    return Markup('<a href="{}">{}</a>').format(
        url_for(".details_view", id=model.id), model.name
    )


def format_contact_list(view, context, model, name):
    if model.contact_list_id is None:
        return ""
    return getattr(g, "list_names", {}).get(model.contact_list_id, model.contact_list_id)


def format_created(view, context, model, name):
    """When it was created, on the campaign's own clock."""
    from app.web.i18n import locale

    return presenting.local_time(model.created_at, model.timezone, locale())


COLUMN_FORMATTERS = {
    "created_at": format_created,
    "progress": format_progress,
    "name": format_name,
    "contact_list": format_contact_list,
}


def _campaign_zone(campaign_id) -> str:
    """The campaign's time zone, looked up once per campaign and request."""
    zones = g.setdefault("campaign_zones", {})
    if campaign_id not in zones:
        zones[campaign_id] = Campaign.select(Campaign.timezone).where(
            Campaign.id == campaign_id).scalar() or "UTC"
    return zones[campaign_id]


def in_campaign_zone(name: str):
    """A list formatter: the row's ``name`` instant on its campaign's clock, to the second."""
    def format_time(view, context, model, _name):
        from app.web.i18n import locale

        value = getattr(model, name)
        if value is None:
            return ""
        return presenting.local_time(value, _campaign_zone(model.campaign_id), locale())

    return format_time
