"""Figures and settings as a person reads them, in English or Spanish.

The console, the PDF and the campaign-closed mail show the same words: times in
the campaign's zone without microseconds, durations ("1 min 12 s"), percentages
("70 %"), call windows ("all day", "closed"), the retry policy as a sentence and
the options as the menu a callee hears. Everything takes a ``locale`` ("en",
"es"); the words come from the catalogues under ``app/translations`` (compiled
by ``scripts/lib.sh``; without them the English source text is shown).
"""

from __future__ import annotations

import functools
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, get_day_names
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
LOCALES = ("en", "es")
DEFAULT_LOCALE = "en"


@functools.lru_cache(maxsize=8)
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` (the English source text when there is none)."""
    if locale not in LOCALES or locale == DEFAULT_LOCALE:
        return NullTranslations()
    found = Translations.load(str(TRANSLATIONS_DIR), [locale])
    return found if isinstance(found, Translations) else NullTranslations()


def _t(locale: str, text: str, **values) -> str:
    translated = translations(locale).gettext(text)
    return translated % values if values else translated


def known_locale(value: str | None) -> str:
    """``value`` when it is a console language, else the default."""
    try:
        language = Locale.parse((value or "").replace("-", "_")).language
    except (ValueError, TypeError, UnknownLocaleError):
        return DEFAULT_LOCALE
    return language if language in LOCALES else DEFAULT_LOCALE


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(value: datetime | str | None, zone_name: str | None, locale: str = DEFAULT_LOCALE) -> str:
    """An instant in the campaign's zone, to the second, the zone named: ``30 Nov 2026, 10:55:48 Europe/Madrid``."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    zone = _zone(zone_name)
    shown = format_datetime(value.replace(microsecond=0), "medium", tzinfo=zone, locale=locale)
    return f"{shown} {zone.key}"


def number(value, locale: str = DEFAULT_LOCALE) -> str:
    """An integer or a decimal with grouping as the locale writes it (1,234.5 / 1.234,5)."""
    return format_decimal(value if value is not None else 0, "#,##0.#", locale=locale)


def percent(ratio: float | None, locale: str = DEFAULT_LOCALE) -> str:
    """A ratio as a percentage with a space before the sign: ``70 %``, ``12,5 %``."""
    return f"{number(round(100.0 * (ratio or 0.0), 1), locale)} %"


def duration(seconds: float | None, locale: str = DEFAULT_LOCALE) -> str:
    """Seconds as ``1 h 5 min``, ``1 min 12 s`` or ``45 s`` (``-`` when unknown)."""
    if seconds is None:
        return "-"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{number(hours, locale)} h {minutes} min" if minutes else f"{number(hours, locale)} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def weekday_names(locale: str = DEFAULT_LOCALE) -> list[str]:
    """Monday..Sunday in the locale, capitalised."""
    names = get_day_names("wide", locale=locale)
    return [names[i].capitalize() for i in range(7)]


def _hhmm(value: time | str) -> str:
    return value.strftime("%H:%M") if isinstance(value, time) else str(value)[:5]


def window_lines(windows, locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """(day, hours) for each weekday: ``all day``, ``closed`` or ``09:00–12:00, 14:00–18:00``."""
    by_day: dict[int, list[str]] = {day: [] for day in range(7)}
    for w in windows:
        starts, ends = _hhmm(w.starts), _hhmm(w.ends)
        if starts == ends:
            by_day[w.weekday].append(_t(locale, "all day"))
        else:
            by_day[w.weekday].append(f"{starts}–{ends}")
    days = weekday_names(locale)
    return [(days[d], ", ".join(spans) if spans else _t(locale, "closed")) for d, spans in by_day.items()]


def outcome_label(outcome: str, locale: str = DEFAULT_LOCALE) -> str:
    """An outcome key in words (``noanswer`` -> ``No answer``)."""
    words = {
        "answered": _t(locale, "Answered"), "busy": _t(locale, "Busy"),
        "noanswer": _t(locale, "No answer"), "congestion": _t(locale, "Network congestion"),
        "unavailable": _t(locale, "Unavailable"), "failed": _t(locale, "Failed"),
        "lost": _t(locale, "Lost"), "dnc": _t(locale, "Do not call"),
        "unknown": _t(locale, "Unknown"), "machine": _t(locale, "Answering machine"),
        "machine-message": _t(locale, "Message left on a machine"),
        "bad_message": _t(locale, "Message could not be made"),
        "stopped": _t(locale, "Stopped"),
    }
    return words.get(outcome, outcome)


def retry_sentence(campaign, locale: str = DEFAULT_LOCALE) -> str:
    """``busy: retry after 5 min, up to 3 attempts; no answer: ...`` for the outcomes retried."""
    retried = campaign.retry_outcomes
    delays = {"busy": campaign.retry_busy_s, "noanswer": campaign.retry_noanswer_s,
              "congestion": campaign.retry_failed_s, "failed": campaign.retry_failed_s}
    parts = [
        _t(locale, "%(outcome)s: retry after %(delay)s, up to %(attempts)s attempts",
          outcome=outcome_label(name, locale).lower(), delay=duration(delays[name], locale),
          attempts=campaign.max_attempts)
        for name in ("busy", "noanswer", "congestion", "failed") if name in retried
    ]
    if not parts or campaign.max_attempts <= 1:
        return _t(locale, "no retries: one attempt per contact")
    return "; ".join(parts)


def menu_preview(options, locale: str = DEFAULT_LOCALE) -> list[str]:
    """The options as the callee hears them: ``Press 1: Confirm``, ``Press 4: transfer to 5550100``."""
    lines = []
    for o in options:
        if o.action == "transfer":
            what = _t(locale, "%(label)s (transferred to %(target)s)", label=o.label, target=o.target)
        elif o.action == "repeat":
            what = _t(locale, "%(label)s (hears the message again)", label=o.label)
        else:
            what = o.label
        lines.append(_t(locale, "Press %(digit)s: %(what)s", digit=o.digit, what=what))
    return lines


def report_summary(data: dict, locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """A closed campaign's headline figures as (label, value) rows."""
    n = functools.partial(number, locale=locale)
    return [
        (_t(locale, "Contacts"), n(data.get("contacts", 0))),
        (_t(locale, "Contacts called"), n(data.get("attempted", 0))),
        (_t(locale, "Calls placed"), n(data.get("attempts_total", 0))),
        (_t(locale, "Answered"), n(data.get("answered", 0))),
        (_t(locale, "Answer rate"), percent(data.get("answer_rate"), locale)),
        (_t(locale, "Average talk"), duration(data.get("talk_seconds_average"), locale)),
        (_t(locale, "Total talk"), duration(data.get("talk_seconds_total"), locale)),
        (_t(locale, "Answered without a choice"), n(data.get("answered_without_digit", 0))),
    ]


def digit_rows(data: dict, locale: str = DEFAULT_LOCALE) -> list[tuple[str, str, str]]:
    """(digit, label, count) of each digit pressed, then the answered calls without one."""
    found = [(d["digit"], d["label"] or _t(locale, "(not an option)"), number(d["count"], locale))
             for d in data.get("digits", [])]
    found.append(("-", _t(locale, "Answered without a choice"),
                  number(data.get("answered_without_digit", 0), locale)))
    return found


def chart_captions(data: dict, locale: str = DEFAULT_LOCALE) -> dict[str, str]:
    """The caption under each report chart, by chart name."""
    zone = (data.get("campaign") or {}).get("timezone") or "UTC"
    return {
        "outcomes": _t(locale, "Final outcome of each contact"),
        "digits": _t(locale, "Option chosen by the contacts who answered"),
        "answered_per_attempt": _t(locale, "Answered contacts by the attempt that reached them"),
        "attempts_histogram": _t(locale, "Contacts by the number of calls they received"),
        "calls_per_hour": _t(locale, "Calls and answers per hour, time zone %(zone)s", zone=zone),
        "amd": _t(locale, "Answered calls by answering-machine verdict"),
    }


def N_(text: str) -> str:
    """Marks a word the code chooses at run time (a state, a button) for the catalogues."""
    return text


# words shown from a value (``gettext(campaign.state)``): listed so pybabel extracts them
RUNTIME_WORDS = (
    N_("DRAFT"), N_("ACTIVE"), N_("PAUSED"), N_("FINISHED"), N_("DRAINING"), N_("FINALIZING"),
    N_("CLOSED"), N_("Activate"), N_("Pause"), N_("Resume"), N_("Finish now"),
    N_("Created"), N_("Starts"), N_("Ends"), N_("Activated"), N_("Finished"), N_("Closed"),
    N_("admin"), N_("operator"), N_("viewer"),
)
