"""Time measured in working hours on the calendar of repos-config: weekends, public holidays and
the federation's closing days stop the clock, and so do the hours outside the working day. Pure:
instants in, instants out, all UTC. The only user of the holidays package, whose rules give the
public holidays of a country (and subdivision) for any year, so nobody types them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from controller.core.model import Calendar, World
from controller.errors import Problem

_LIMIT_DAYS = 3660  # a timer that needs ten years of calendar is a configuration mistake
CALENDAR_FILE = "repos-config/calendar.yaml"


@lru_cache(maxsize=256)
def public_holidays(country: str, subdivision: str | None, year: int) -> dict[str, str]:
    """ISO date -> name of the public holidays of a country (and subdivision) in a year; empty for
    a country the package does not know (the calendar-country rule reports that)."""
    import holidays  # here: a run that counts no working days need not load it

    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError:
        return {}
    return {day.isoformat(): name for day, name in sorted(found.items())}


def is_day_off(cal: Calendar, day: date) -> bool:
    if day.weekday() in cal.weekend or day.isoformat() in cal.holidays:
        return True
    return bool(cal.country) and day.isoformat() in public_holidays(cal.country, cal.subdivision, day.year)


def check_calendar_country(world: World) -> Iterable[Problem]:
    """The country and subdivision that calendar.yaml names must be known, or no holiday would count."""
    cal = world.config.calendar if world.config else None
    if cal is None or not cal.country:
        return
    subdivisions = _subdivisions(cal.country)
    if subdivisions is None:
        yield Problem(CALENDAR_FILE, f"country {cal.country!r} has no public-holiday calendar",
                      "use an ISO 3166-1 alpha-2 code such as NL, DE or IT", "/country", rule="calendar-country")
    elif cal.subdivision and cal.subdivision not in subdivisions:
        yield Problem(CALENDAR_FILE, f"{cal.country} has no subdivision {cal.subdivision!r}",
                      "use one of: " + ", ".join(subdivisions), "/subdivision", rule="calendar-country")


def _subdivisions(country: str) -> list[str] | None:
    """The subdivisions of a country the holidays package knows, None for one it does not. Only
    that country's module is imported: listing every country imports them all (about a second)."""
    import holidays
    from holidays.registry import EntityLoader

    if country not in set(EntityLoader.get_country_codes()):
        return None
    return list(getattr(holidays, country).subdivisions)


@lru_cache(maxsize=8192)
def _bounds(cal: Calendar, day: date) -> tuple[datetime, datetime] | None:
    """The working interval of a day, in UTC, or None on a day off."""
    if is_day_off(cal, day):
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
