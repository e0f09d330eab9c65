"""The AMD figures of a campaign's report: humans, machines, messages left, not sure.

Read from the results (``contact_result.amd_verdict`` and ``outcome``), one GROUP BY.
``humans`` are the contacts whose last verdict was HUMAN; ``machines`` MACHINE;
``not_sure`` NOTSURE; ``hung_up`` HANGUP (the callee hung up during the analysis);
``messages_left`` the contacts with outcome ``machine-message``. The report's
answer rate counts outcome ``answered`` only: people, not machines.
"""

from __future__ import annotations

from app.amd import HANGUP, HUMAN, MACHINE, MESSAGE_LEFT, MESSAGE_OUTCOME, NOTSURE, VERDICT_EVENTS
from app.db import database, is_postgres

KEYS = {HUMAN: "humans", MACHINE: "machines", NOTSURE: "not_sure", HANGUP: "hung_up"}


def amd_figures(campaign_id: int) -> dict:
    """{humans, machines, not_sure, hung_up, messages_left} of the campaign's results."""
    query = ("SELECT amd_verdict, outcome, COUNT(*) FROM contact_result WHERE campaign_id = ? "
             "AND (amd_verdict <> '' OR outcome = ?) GROUP BY amd_verdict, outcome")
    if is_postgres():
        query = query.replace("?", "%s")
    figures = dict.fromkeys((*KEYS.values(), "messages_left"), 0)
    for verdict, outcome, count in database.execute_sql(
        query, (campaign_id, MESSAGE_OUTCOME)
    ).fetchall():
        if verdict in KEYS:
            figures[KEYS[verdict]] += count
        if outcome == MESSAGE_OUTCOME:
            figures["messages_left"] += count
    return figures


def format_lines(figures: dict) -> list[str]:
    """The report's text lines for the figures (none when no verdict was given)."""
    if not any(figures.values()):
        return []
    return ["  answering machines (AMD)"] + [
        f"    {name:<14} {figures[name]}" for name in (*KEYS.values(), "messages_left")
    ]


def live_counts(campaign_id: int) -> dict:
    """The same figures for a campaign still dialing: verdicts per attempt, from its events
    (every verdict reported so far, one per attempt; read through the event index)."""
    query = ("SELECT name, COUNT(*) FROM call_event WHERE campaign_id = ? "
             "AND (name LIKE 'amd-%' OR name = ?) GROUP BY name")
    if is_postgres():
        query = query.replace("%", "%%").replace("?", "%s")
    figures = dict.fromkeys((*KEYS.values(), "messages_left"), 0)
    for name, count in database.execute_sql(query, (campaign_id, MESSAGE_LEFT)).fetchall():
        if name == MESSAGE_LEFT:
            figures["messages_left"] += count
        elif name in VERDICT_EVENTS:
            figures[KEYS[VERDICT_EVENTS[name][0]]] += count
    return figures


def amd_charts(data: dict, bar_png) -> dict:
    """The report's AMD chart (``{"amd": png}``), or none for a campaign without verdicts.

    ``bar_png(title, labels, values, xlabel, ylabel)``: the report's bar chart maker.
    """
    figures = data.get("amd") or {}
    if not any(figures.values()):
        return {}
    name = data.get("campaign", {}).get("name", "")
    labels = [key.replace("_", " ") for key in figures]
    return {"amd": bar_png(f"Answering machines — {name}", labels, list(figures.values()),
                           "AMD verdict (last per contact), messages left", "contacts")}
