"""Time measured in working hours on the calendar of repos-config: weekends and holidays stop the
clock, and so do the hours outside the working day. Pure: instants in, instants out, all UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from controller.core.model import Calendar

_LIMIT_DAYS = 3660  # a timer that needs ten years of calendar is a configuration mistake


def _bounds(cal: Calendar, day: date) -> tuple[datetime, datetime] | None:
    """The working interval of a day, in UTC, or None on a day off."""
    if day.weekday() in cal.weekend or day.isoformat() in cal.holidays:
        return None
    tz = ZoneInfo(cal.timezone)
    start = datetime.combine(day, _clock(cal.day_start), tz)
    end = (datetime.combine(day + timedelta(days=1), time(0), tz) if cal.day_end == "24:00"
           else datetime.combine(day, _clock(cal.day_end), tz))
    return start.astimezone(UTC), end.astimezone(UTC)


def _clock(text: str) -> time:
    return time(int(text[:2]), int(text[3:5]))


def _local_day(cal: Calendar, instant: datetime) -> date:
    return instant.astimezone(ZoneInfo(cal.timezone)).date()


def add_working_hours(cal: Calendar, start: datetime, hours: float) -> datetime:
    """The instant when ``hours`` of working time have passed since ``start``."""
    remaining = timedelta(hours=hours)
    day = _local_day(cal, start)
    for _ in range(_LIMIT_DAYS):
        bounds = _bounds(cal, day)
        if bounds is not None:
            begin, end = max(bounds[0], start), bounds[1]
            if begin < end:
                if remaining <= end - begin:
                    return begin + remaining
                remaining -= end - begin
        day += timedelta(days=1)
    raise ValueError("no working time found within ten years; check repos-config/calendar.yaml")


def working_hours_between(cal: Calendar, start: datetime, end: datetime) -> float:
    if end <= start:
        return 0.0
    total = timedelta()
    day, last = _local_day(cal, start), _local_day(cal, end)
    while day <= last:
        bounds = _bounds(cal, day)
        if bounds is not None:
            begin, finish = max(bounds[0], start), min(bounds[1], end)
            if begin < finish:
                total += finish - begin
        day += timedelta(days=1)
    return total.total_seconds() / 3600.0
