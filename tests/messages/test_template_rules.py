"""The template rule and one contact's values: one test per error, each with its message."""

from __future__ import annotations

import pytest

from app.messages.template import parse, template_problems
from app.messages.values import render_contact

COLUMNS = ["name", "amount", "due", "code", "balance", "initials"]


def seg(**kw):
    return {"segments": [kw]}


def test_a_full_template_is_fine_and_parses_with_defaults():
    raw = {"language": "en", "voice": "", "segments": [
        {"kind": "sound", "sound": "hello"},
        {"kind": "say", "field": "amount", "as": "number"},
        {"kind": "say", "field": "code", "as": "digits"},
        {"kind": "say", "field": "initials", "as": "alpha"},
        {"kind": "say", "field": "due", "as": "date"},
        {"kind": "say", "field": "due", "as": "time", "format": "HM"},
        {"kind": "say", "field": "balance", "as": "money", "unit": "euros"},
        {"kind": "tts", "text": "Hello {name}, {{braces}} stay"},
    ]}
    assert template_problems(raw, COLUMNS) == []
    t = parse(raw)
    assert [s.kind for s in t.segments] == ["sound", "say", "say", "say", "say", "say", "say",
                                            "tts"]
    assert t.segments[4].format == "ABdY" and t.segments[6].subunit == "cents"
    assert t.segments[7].fields == ["name"]


def test_an_unknown_field_is_named_with_the_lists_columns():
    found = template_problems(seg(kind="say", field="amout", **{"as": "number"}), COLUMNS)
    assert found == ["segment 1: unknown field 'amout' (the list's columns: 'name', 'amount', "
                     "'due', 'code', 'balance', 'initials')"]


def test_an_unknown_placeholder_is_named():
    found = template_problems(seg(kind="tts", text="Hi {nmae}"), COLUMNS)
    assert found[0].startswith("segment 1: unknown field 'nmae'")


def test_a_broken_placeholder_is_refused():
    found = template_problems(seg(kind="tts", text="Hi {name"), COLUMNS)
    assert found[0].startswith("segment 1: text has a bad placeholder")


def test_a_sound_name_that_would_break_the_dialplan_is_refused():
    found = template_problems(seg(kind="sound", sound="hello,world)"), COLUMNS)
    assert found == ["segment 1: sound 'hello,world)' must be a sound name (letters, digits, "
                     "_ . / + -, at most 200)"]


def test_a_say_kind_and_format_are_checked():
    assert template_problems(seg(kind="say", field="due", **{"as": "weekday"}), COLUMNS) == [
        "segment 1: as must be one of number, digits, alpha, date, time, money, not 'weekday'"]
    found = template_problems(seg(kind="say", field="due", format="Y,'x'", **{"as": "date"}),
                              COLUMNS)
    assert found[0].startswith("segment 1: format 'Y,'x'' is not a SayUnixTime format")


def test_an_empty_text_and_a_bad_kind_and_language_are_refused():
    assert template_problems(seg(kind="tts", text="  "), COLUMNS) == [
        "segment 1: text is required"]
    assert template_problems(seg(kind="video"), COLUMNS) == [
        "segment 1: kind must be one of sound, say, tts, not 'video'"]
    found = template_problems({"language": "en;rm -rf", "segments": []})
    assert found == ["language 'en;rm -rf' must be a language code like en or pt-br"]


def render(kind, value, tz="Europe/Paris", **extra):
    if kind == "tts":
        raw = seg(kind="tts", text=extra.get("text", "Hello {name}"))
    else:
        raw = seg(kind="say", field="v", **{"as": kind}, **extra)
    return render_contact(parse(raw), {"v": value, "name": value}, tz)


def test_a_number_that_does_not_parse_names_the_field():
    assert render("number", "12a").problems == ["field 'v': '12a' is not a whole number"]
    assert render("number", "99999999999").problems == [
        "field 'v': '99999999999' is not a whole number"]
    assert render("number", " 1 234 ").variables == {"CC_V1": "1234"}


def test_a_date_that_does_not_parse_names_the_field():
    assert render("date", "31/02/2026").problems == [
        "field 'v': '31/02/2026' is not a date (YYYY-MM-DD [HH:MM])"]
    # in the campaign's zone: 2026-12-03 10:30 in Paris is 09:30 UTC
    assert render("date", "2026-12-03 10:30").variables == {"CC_V1": "1796290200"}
    assert render("time", "25:00").problems == ["field 'v': '25:00' is not a time (HH:MM)"]


def test_money_splits_the_cents():
    assert render("money", "124.5").variables == {"CC_V1": "124", "CC_C1": "50"}
    assert render("money", "124").variables == {"CC_V1": "124", "CC_C1": ""}
    assert render("money", "12,3,4").problems == [
        "field 'v': '12,3,4' is not an amount (like 124.50)"]


@pytest.mark.parametrize("value", ["O'Brien, Jr", "${EVIL}", "a)b", "x;y", "a" * 41])
def test_a_value_that_would_break_the_dialplan_is_refused_naming_the_field(value):
    found = render("alpha", value).problems
    assert len(found) == 1 and found[0].startswith("field 'v': ")
    assert "would break the dialplan as alpha" in found[0] or "is empty" in found[0]


def test_digits_refuse_anything_but_digits_star_and_pound():
    assert render("digits", "12-34").problems == [
        "field 'v': '12-34' would break the dialplan as digits (allowed: digits, * and #, "
        "at most 32)"]
    assert render("digits", "0042#").variables == {"CC_V1": "0042#"}


def test_a_text_empty_after_substitution_is_refused():
    out = render("tts", "  ", text="{name}")
    assert out.problems == ["segment 1: text is empty after substitution (fields 'name')"]
    ok = render("tts", "Maria\x00\n", text="Hello {name}!")
    assert ok.texts == {1: "Hello Maria!"} and ok.problems == []


def test_an_empty_field_is_named():
    assert render("number", "").problems == ["field 'v' is empty"]
