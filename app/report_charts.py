"""The report's charts beyond outcomes and digits: attempts per contact, calls per hour.

Drawn with the report module's bar chart, so every PNG looks alike; the per-hour
chart names the campaign's time zone on its axis.
"""

from __future__ import annotations


def extra_charts(data: dict, bar_png) -> dict[str, bytes]:
    """PNG bytes of the attempts histogram and the calls-per-hour chart of a report."""
    name = data.get("campaign", {}).get("name", "")
    zone = data.get("campaign", {}).get("timezone") or "UTC"
    histogram = list((data.get("attempts_histogram") or {}).items()) or [("-", 0)]
    hours = data.get("calls_per_hour") or []
    # "2026-11-30T10:00+01:00" -> "11-30 10:00", the hour as the campaign's clock read it
    per_hour = [(h["hour"][5:16].replace("T", " "), h["calls"]) for h in hours] or [("-", 0)]
    return {
        "attempts_histogram": bar_png(
            f"Calls per contact — {name}", *zip(*histogram), "calls received", "contacts"
        ),
        "calls_per_hour": bar_png(
            f"Calls per hour — {name}", *zip(*per_hour), f"hour ({zone})", "calls"
        ),
    }
