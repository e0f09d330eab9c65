"""Call windows in the campaign's time zone, across DST changes, with date bounds."""

from datetime import datetime, time, timezone

import pytest

from app.errors import ValidationError
from app.models import CallWindow, Campaign
from app.windows import (
    LATEST,
    Span,
    campaign_opening,
    describe_windows,
    opening,
    parse_windows,
    window_problems,
)

UTC = timezone.utc
NY = "America/New_York"
WEEKDAYS_9_TO_17 = [Span(d, time(9), time(17)) for d in range(5)]


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_it_opens_at_local_nine_in_winter_and_summer():
    # 2026-03-06 (Fri, EST, UTC-5) and 2026-03-09 (Mon, EDT, UTC-4)
    assert not opening(WEEKDAYS_9_TO_17, NY, utc(2026, 3, 6, 13, 59)).open
    assert opening(WEEKDAYS_9_TO_17, NY, utc(2026, 3, 6, 14, 0)).open
    assert opening(WEEKDAYS_9_TO_17, NY, utc(2026, 3, 9, 13, 0)).open
    assert not opening(WEEKDAYS_9_TO_17, NY, utc(2026, 3, 9, 12, 59)).open
    assert not opening(WEEKDAYS_9_TO_17, NY, utc(2026, 3, 9, 21, 0)).open


def test_it_finds_the_next_start_across_the_spring_forward_weekend():
    # Friday 17:30 EST -> next opening Monday 09:00 EDT = 13:00 UTC (not 14:00)
    result = opening(WEEKDAYS_9_TO_17, NY, utc(2026, 3, 6, 22, 30))
    assert not result.open
    assert result.reason == "outside window"
    assert result.next_start == utc(2026, 3, 9, 13, 0)


def test_it_finds_the_next_start_across_the_fall_back_weekend():
    # Friday 2026-10-30 after hours (EDT) -> Monday 2026-11-02 09:00 EST = 14:00 UTC
    result = opening(WEEKDAYS_9_TO_17, NY, utc(2026, 10, 30, 22, 0))
    assert result.next_start == utc(2026, 11, 2, 14, 0)


def test_it_keeps_a_window_inside_the_dst_gap_after_the_gap():
    # Sunday 2026-03-08 02:00-04:00 local: 02:00-03:00 does not exist that night
    spans = [Span(6, time(2), time(4))]
    result = opening(spans, NY, utc(2026, 3, 8, 5, 0))  # 00:00 EST
    assert result.next_start == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert opening(spans, NY, utc(2026, 3, 8, 7, 30)).open
    assert not opening(spans, NY, utc(2026, 3, 8, 8, 0)).open  # 04:00 EDT


def test_it_counts_the_repeated_hour_once_on_fall_back():
    # Sunday 2026-11-01 00:00-03:00 local lasts four real hours (01:00-02:00 twice)
    spans = [Span(6, time(0), time(3))]
    assert opening(spans, NY, utc(2026, 11, 1, 4, 0)).open  # 00:00 EDT
    assert opening(spans, NY, utc(2026, 11, 1, 6, 30)).open  # 01:30 EST (second time)
    assert opening(spans, NY, utc(2026, 11, 1, 7, 59)).open  # 02:59 EST
    assert not opening(spans, NY, utc(2026, 11, 1, 8, 0)).open  # 03:00 EST


def test_it_runs_a_window_past_midnight():
    spans = [Span(4, time(22), time(2))]  # Friday 22:00 -> Saturday 02:00
    assert opening(spans, "UTC", utc(2026, 3, 7, 1, 0)).open  # Saturday 01:00
    assert not opening(spans, "UTC", utc(2026, 3, 7, 2, 0)).open


def test_it_reports_closes_at_while_open():
    result = opening(WEEKDAYS_9_TO_17, "Europe/Paris", utc(2026, 7, 1, 10, 0))
    assert result.open
    assert result.closes_at == utc(2026, 7, 1, 15, 0)  # 17:00 CEST


def test_it_honours_start_and_end_dates():
    all_day = [Span(d, time(0), time(0)) for d in range(7)]
    starts, ends = utc(2026, 5, 1, 12), utc(2026, 5, 3, 12)
    before = opening(all_day, "UTC", utc(2026, 4, 30), starts, ends)
    assert not before.open and before.next_start == starts and before.reason == "before start date"
    assert opening(all_day, "UTC", utc(2026, 5, 2), starts, ends).open
    after = opening(all_day, "UTC", ends, starts, ends)
    assert not after.open and after.next_start is None and after.reason == "after end date"


def test_it_never_opens_past_the_end_date_even_when_a_window_follows():
    starts, ends = None, utc(2026, 3, 6, 23, 0)
    result = opening(WEEKDAYS_9_TO_17, NY, utc(2026, 3, 6, 22, 30), starts, ends)
    assert not result.open and result.next_start is None


def test_it_says_no_windows_when_there_are_none():
    result = opening([], "UTC", utc(2026, 1, 1))
    assert not result.open and result.reason == "no windows"


def test_it_parses_window_text():
    spans = parse_windows("mon-fri 09:00-12:00,14:00-18:00; sat 10-13")
    assert len(spans) == 11
    assert Span(5, time(10), time(13)) in spans
    assert parse_windows("daily 00:00-24:00") == [Span(d, time(0), time(0)) for d in range(7)]


@pytest.mark.parametrize("bad", ["", "funday 09:00-10:00", "mon 9-", "mon 25:00-26:00", "mon"])
def test_it_refuses_malformed_window_text(bad):
    with pytest.raises(ValidationError):
        parse_windows(bad)


def test_it_names_what_is_wrong_with_a_window():
    good = [Span(0, time(9), time(12)), Span(6, time(22), "02:00")]
    assert window_problems(good) == []
    bad = [Span(7, time(9), time(12)), Span(1, "9h", time(12))]
    assert window_problems(bad) == [
        "call window weekday 7 is not 0..6",
        "call window starts: not a time of day: '9h'",
    ]


def test_it_describes_a_campaigns_windows_in_order(db):
    campaign = Campaign.create(name="c")
    for weekday, starts, ends in ((4, time(14), time(18)), (0, time(9), time(12, 30))):
        CallWindow.create(campaign=campaign.id, weekday=weekday, starts=starts, ends=ends)
    assert describe_windows(campaign.id) == ["mon 09:00-12:30", "fri 14:00-18:00"]


@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "America/New_York"])
def test_it_never_overflows_on_far_dates_stored_before_the_bounds(db, tz):
    all_day = [Span(d, time(0), time(0)) for d in range(7)]
    far = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    result = opening(all_day, tz, utc(2026, 3, 6), starts_at=far)
    assert not result.open and result.next_start is None and result.reason == "date out of range"
    assert opening(all_day, tz, utc(2026, 3, 6), ends_at=far).open
    # a row written before the campaign rules had bounds, read the way the dialer reads it
    campaign = Campaign.create(name="c", timezone=tz, starts_at=datetime(9999, 12, 31, tzinfo=UTC))
    for span in all_day:
        CallWindow.create(campaign=campaign.id, weekday=span.weekday, starts=span.starts,
                          ends=span.ends)
    assert campaign_opening(Campaign.get_by_id(campaign.id), utc(2026, 3, 6)).next_start is None


def test_it_finds_the_next_opening_up_to_the_last_date_a_campaign_may_use():
    monday = [Span(0, time(9), time(17))]
    result = opening(monday, NY, utc(2026, 3, 6), starts_at=utc(2099, 12, 20))
    assert result.next_start == utc(2099, 12, 21, 14, 0)  # Monday 09:00 EST
    assert opening(monday, NY, utc(2026, 3, 6), starts_at=LATEST).reason == "date out of range"
