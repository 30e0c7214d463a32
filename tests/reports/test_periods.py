"""Report periods are whole days in the business time zone, DST included."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reports.forms import PeriodForm
from reports.periods import MAX_DAYS, Period, Preset, preset_period

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_day_starts_at_local_midnight():
    day = Period(date(2026, 1, 5), date(2026, 1, 5), BERLIN)
    assert day.start == datetime(2026, 1, 4, 23, 0, tzinfo=UTC)
    assert day.end == datetime(2026, 1, 5, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)],
    ids=["spring forward", "fall back", "summer"],
)
def test_days_with_a_clock_change_are_23_or_25_hours_long(day, hours):
    period = Period(day, day, BERLIN)
    assert period.end - period.start == timedelta(hours=hours)


def test_a_zone_that_skips_midnight_starts_the_day_at_its_first_instant():
    santiago = ZoneInfo("America/Santiago")  # clocks jump from 00:00 to 01:00 on 2024-09-08
    start = Period(date(2024, 9, 8), date(2024, 9, 8), santiago).start
    assert start == datetime(2024, 9, 8, 4, 0, tzinfo=UTC)
    assert start.astimezone(santiago).hour == 1


@pytest.mark.parametrize(
    ("preset", "first", "last"),
    [
        (Preset.TODAY, date(2026, 3, 2), date(2026, 3, 2)),
        (Preset.LAST_7_DAYS, date(2026, 2, 24), date(2026, 3, 2)),
        (Preset.LAST_30_DAYS, date(2026, 2, 1), date(2026, 3, 2)),
        (Preset.THIS_MONTH, date(2026, 3, 1), date(2026, 3, 2)),
        # 2 March 2026 is a Monday: last week is Monday 23 Feb to Sunday 1 March.
        (Preset.LAST_WEEK, date(2026, 2, 23), date(2026, 3, 1)),
        (Preset.LAST_MONTH, date(2026, 2, 1), date(2026, 2, 28)),
    ],
)
def test_presets_end_today_in_the_business_time_zone(preset, first, last):
    # 23:30 UTC on 1 March is already 2 March in Berlin.
    period = preset_period(preset, tz=BERLIN, now=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    assert (period.first, period.last) == (first, last)


@pytest.mark.parametrize(
    ("now", "first", "last"),
    [
        # Sunday 23:59:59 in Berlin is still this week; a second later last week is the one just ended.
        (datetime(2026, 3, 8, 22, 59, 59, tzinfo=UTC), date(2026, 2, 23), date(2026, 3, 1)),
        (datetime(2026, 3, 8, 23, 0, 0, tzinfo=UTC), date(2026, 3, 2), date(2026, 3, 8)),
    ],
)
def test_last_week_is_the_calendar_week_before_this_one_in_the_business_time_zone(now, first, last):
    period = preset_period(Preset.LAST_WEEK, tz=BERLIN, now=now)
    assert (period.first, period.last, period.days) == (first, last, 7)
    assert period.previous().last == first - timedelta(days=1)


def test_last_month_spans_the_whole_previous_month_across_a_year_boundary():
    period = preset_period(Preset.LAST_MONTH, tz=BERLIN, now=datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    assert (period.first, period.last) == (date(2025, 12, 1), date(2025, 12, 31))
    assert period.previous().first == date(2025, 10, 31)  # as many days (31), right before


def test_the_previous_period_has_as_many_days_right_before():
    month = Period(date(2026, 3, 1), date(2026, 3, 10), BERLIN)
    previous = month.previous()
    assert (previous.first, previous.last) == (date(2026, 2, 19), date(2026, 2, 28))
    assert previous.end == month.start


def test_the_form_accepts_custom_days_and_refuses_nonsense():
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    custom = PeriodForm({"range": "custom", "start": "2026-02-01", "end": "2026-02-28"})
    assert custom.period(tz=BERLIN, now=now) == Period(date(2026, 2, 1), date(2026, 2, 28), BERLIN)
    dates_only = PeriodForm({"start": "2026-02-01", "end": "2026-02-03"})  # dates alone mean custom
    assert dates_only.period(tz=BERLIN, now=now).days == 3
    for data in (
        {"range": "custom", "start": "2026-02-01"},
        {"range": "custom", "start": "2026-02-05", "end": "2026-02-01"},
        {"range": "custom", "start": "2020-01-01", "end": "2026-01-01"},
        {"range": "forever"},
    ):
        form = PeriodForm(data)
        assert not form.is_valid()
        assert form.period(tz=BERLIN, now=now).preset is Preset.LAST_7_DAYS
    assert MAX_DAYS >= 366
