"""The report's charts: outcomes, digits, answered per attempt, attempts per contact,
calls per hour (the campaign's time zone named on its axis), and AMD verdicts.

Every PNG is drawn by the one bar chart here, so they all look alike, and the same
report gives the same bytes.
"""

from __future__ import annotations

import io
import textwrap

from app.amd_figures import amd_charts


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


LABEL_WIDTH = 12  # characters per line of a bar's label


def _figure():
    # Figure + Agg canvas, not pyplot: no global state, safe in worker threads.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _bar_png(title, labels, values, xlabel, ylabel) -> bytes:
    fig = _figure()
    ax = fig.add_subplot()
    ax.bar(range(len(values)), values, color="#3b75af")
    # option labels are free text: wrap them so neighbours never overlap
    labels = [textwrap.fill(str(label), LABEL_WIDTH) for label in labels]
    ax.set_xticks(range(len(labels)), labels, fontsize=8 if len(labels) > 6 else 9)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for i, v in enumerate(values):
        ax.annotate(str(v), (i, v), ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    # no timestamp in the metadata: the same report gives the same bytes
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def chart_images(data: dict) -> dict[str, bytes]:
    """PNG bytes of each chart (outcomes, digits, answered per attempt, attempts, per hour) of a report."""
    outcomes = [(k, v) for k, v in data["outcomes"].items() if v] or [("none", 0)]
    digits = [(f"{d['digit']} {d['label']}".strip(), d["count"]) for d in data["digits"]]
    digits.append(("no digit", data.get("answered_without_digit", 0)))
    per_attempt = list(data["answered_per_attempt"].items()) or [("-", 0)]
    name = data.get("campaign", {}).get("name", "")
    charts = {
        "outcomes": _bar_png(f"Outcomes — {name}", *zip(*outcomes), "outcome", "contacts"),
        "digits": _bar_png(f"Digits pressed — {name}", *zip(*digits), "option", "contacts"),
        "answered_per_attempt": _bar_png(
            f"Answered per attempt — {name}", *zip(*per_attempt), "attempt", "answered contacts"
        ),
        **extra_charts(data, _bar_png),
    }
    return {**charts, **amd_charts(data, _bar_png)}  # people, machines, not sure (AMD on)
