"""Report periods: whole days in the business time zone (settings.BUSINESS_TIME_ZONE).

A period is a run of calendar days, [first, last] inclusive, turned into the instants [start, end) at
local midnight. Midnight comes from zoneinfo, so a day with a daylight-saving change is 23 or 25 hours
long, exactly as the business lives it. Every period has a previous one of the same number of days,
ending where it starts, for the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

MAX_DAYS = 731  # two years: the longest range a custom period may cover


class Preset(StrEnum):
    TODAY = "today"
    LAST_7_DAYS = "7d"
    LAST_WEEK = "lastweek"
    LAST_30_DAYS = "30d"
    THIS_MONTH = "month"
    LAST_MONTH = "lastmonth"
    CUSTOM = "custom"

    @property
    def label(self) -> str:
        return {
            "today": "Today",
            "7d": "Last 7 days",
            "lastweek": "Last week (Mon–Sun)",
            "30d": "Last 30 days",
            "month": "This month",
            "lastmonth": "Last month",
            "custom": "Custom",
        }[self.value]


DEFAULT_PRESET = Preset.LAST_7_DAYS


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of `day` in `tz`, in UTC. Where midnight does not exist (a zone that springs
    forward at 00:00), the day starts at the first instant that does."""
    # zoneinfo reads a wall time inside a gap with the offset in force before it (fold=0), which lands
    # on the instant the gap ends: the day's first real instant.
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """Whole business days [first, last] in `tz`. The facts (reports.facts) count a period's days as they
    stand at `now` (what had ended, which windows were lost by then); a page's period, as chosen, has no
    `now`. A period whose last day comes before its first holds no day: what is left to count live when
    the rollup holds every day of a page (reports.selectors.Sources)."""

    first: date
    last: date
    tz: ZoneInfo
    preset: Preset = Preset.CUSTOM
    now: datetime | None = field(default=None, kw_only=True)

    @property
    def days(self) -> int:
        return max(0, (self.last - self.first).days + 1)

    @property
    def is_empty(self) -> bool:
        return self.last < self.first

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, self.tz)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), self.tz)

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]

    def previous(self) -> Period:
        """The same number of days, immediately before."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1), self.tz)

    def label(self) -> str:
        if self.first == self.last:
            return f"{self.first:%a %d %b %Y}"
        return f"{self.first:%d %b %Y} – {self.last:%d %b %Y}"


def today_in(tz: ZoneInfo, now: datetime) -> date:
    return now.astimezone(tz).date()


def preset_period(preset: Preset, *, tz: ZoneInfo, now: datetime) -> Period:
    """The days a preset covers, up to and including today (business time zone); last week and last
    month are the whole calendar week (Monday to Sunday) and month before the current one."""
    today = today_in(tz, now)
    if preset is Preset.LAST_WEEK:
        monday = today - timedelta(days=today.weekday())
        return Period(monday - timedelta(days=7), monday - timedelta(days=1), tz, preset)
    if preset is Preset.LAST_MONTH:
        last = today.replace(day=1) - timedelta(days=1)
        return Period(last.replace(day=1), last, tz, preset)
    first = {
        Preset.TODAY: today,
        Preset.LAST_7_DAYS: today - timedelta(days=6),
        Preset.LAST_30_DAYS: today - timedelta(days=29),
        Preset.THIS_MONTH: today.replace(day=1),
    }[preset]
    return Period(first, today, tz, preset)
