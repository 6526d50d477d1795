"""Freeze windows: periods of repos-config/freezes.yaml during which nothing, or nothing but
emergencies, is promoted to Production, for some stacks or for all. Owns reading the windows from
the file's accepted versions, the days they take off the working-day calendar, and the hold they
put on a release's way to Production. Pure: the snapshot and ``now`` in, windows and holds out.

A window counts only from the commit that adds it (a freeze never demotes what already reached
Production) and ends at its date, when the commit that lifts it lands, or when it is removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from controller.core.model import Calendar, Category, Config, Release, Snapshot, Touch
from controller.core.timeline import Event, Kind
from controller.core.yamlio import YamlError, read_yaml
from controller.errors import Problem

FREEZES_FILE = "repos-config/freezes.yaml"
_MOVES = (Kind.GRACE_OVER, Kind.DECIDE_SKIP)  # the events that take a release into Production


@dataclass(frozen=True)
class Lift:
    at: datetime
    by: str  # the author, as git names them
    commit: str
    reason: str


@dataclass(frozen=True)
class Freeze:
    name: str
    reason: str
    start: datetime  # effective: never before the commit that added it
    end: datetime | None  # effective: lifted or removed ends it; None holds until lifted
    stacks: frozenset[str] | None  # None: every stack
    emergencies_pass: bool
    stops_timers: bool
    lifted: Lift | None = None

    def holds(self, release: Release, at: datetime) -> bool:
        if at < self.start or (self.end is not None and at >= self.end):
            return False
        if self.stacks is not None and release.stack not in self.stacks:
            return False
        return not (self.emergencies_pass and release.category == Category.EMERGENCY)

    def until_text(self) -> str:
        return f"{self.end:%Y-%m-%d %H:%M} UTC" if self.end else "a manager lifts it"


def read_freezes(snapshot: Snapshot, config: Config | None, now: datetime,
                 landed_at: Callable[[Touch], datetime]) -> tuple[tuple[Freeze, ...], list[Problem]]:
    """The windows in force by ``now`` (as the accepted versions of freezes.yaml landed), and the
    problems of the file as it stands."""
    if config is None or FREEZES_FILE not in snapshot.files and not snapshot.touches(FREEZES_FILE):
        return (), []
    tz = ZoneInfo(config.calendar.timezone)
    seen: dict[str, tuple[datetime, dict]] = {}  # name -> (when it was added, its latest entry)
    lifts: dict[str, Lift] = {}
    gone: dict[str, datetime] = {}
    for touch in snapshot.touches(FREEZES_FILE):
        at = landed_at(touch)
        if at > now:
            break
        entries = _entries(snapshot.blobs.get(touch.blob) if touch.blob else b"")
        for name in [n for n in seen if n not in entries and n not in gone]:
            gone[name] = at
        for name, entry in entries.items():
            if name not in seen or name in gone:
                seen[name] = (at, entry)
                gone.pop(name, None)
                lifts.pop(name, None)
            seen[name] = (seen[name][0], entry)
            if entry.get("lifted") and name not in lifts:
                lifts[name] = Lift(at, touch.commit.author.name, touch.landed.short, entry["lifted"].get("reason", ""))
            elif not entry.get("lifted"):
                lifts.pop(name, None)
    freezes = []
    for name, (added, entry) in seen.items():
        begin, finish = _instant(entry.get("from"), tz), _instant(entry.get("until"), tz)
        start = max(begin, added) if begin else added
        ends = [t for t in (finish, lifts[name].at if name in lifts else None, gone.get(name)) if t is not None]
        end = min(ends, default=None)
        if end is not None and end <= start:
            continue  # over before it began: holds nothing
        stacks = entry.get("stacks")
        freezes.append(Freeze(name, entry.get("reason", ""), start, end, frozenset(stacks) if stacks else None,
                              entry.get("emergencies") == "allowed", bool(entry.get("stops_timers")),
                              lifts.get(name)))
    return tuple(sorted(freezes, key=lambda f: (f.start, f.name))), check_freezes(snapshot, config)


def _entries(raw: bytes | None) -> dict[str, dict]:
    """The freezes of one version by name; a version that does not parse names none."""
    if not raw:
        return {}
    try:
        data = read_yaml(raw).data
    except YamlError:
        return {}
    items = data.get("freezes") if isinstance(data, dict) else None
    return {e["name"]: e for e in items or () if isinstance(e, dict) and isinstance(e.get("name"), str)}


def _instant(text: str | None, tz: ZoneInfo) -> datetime | None:
    """A date means its start in the calendar's time zone; an instant is taken as written."""
    if not text:
        return None
    try:
        if "T" not in text:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tz).astimezone(UTC)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def check_freezes(snapshot: Snapshot, config: Config) -> list[Problem]:
    """What the schema cannot say: real dates, an end after the start, known stacks, unique names."""
    raw = snapshot.files.get(FREEZES_FILE)
    if raw is None:
        return []
    try:
        data = read_yaml(raw).data
    except YamlError:
        return []  # the loader reports the YAML error itself
    items = data.get("freezes") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return []
    tz, known = ZoneInfo(config.calendar.timezone), sorted(set(config.components.values()))
    problems, names = [], set()

    def problem(i: int, field: str, message: str, hint: str) -> None:
        problems.append(Problem(FREEZES_FILE, message, hint, f"/freezes/{i}" + (f"/{field}" if field else ""),
                                rule="freeze"))

    for i, entry in enumerate(items):
        if not isinstance(entry, dict):
            continue
        name = entry.get("name")
        if name in names:
            problem(i, "name", f"a second freeze named {name!r}", "give each freeze a name of its own")
        names.add(name)
        for field in ("from", "until"):
            text = entry.get(field)
            if isinstance(text, str) and _instant(text, tz) is None:
                problem(i, field, f"freeze {name}: {field} {text!r} is not a real date or instant",
                        "write a date that exists, YYYY-MM-DD, or an instant such as 2026-12-21T08:00:00Z")
        begin, finish = _instant(entry.get("from"), tz), _instant(entry.get("until"), tz)
        if begin and finish and finish <= begin:
            problem(i, "until", f"freeze {name}: until {entry['until']} is not after from {entry['from']}",
                    "swap the two, or correct the end date")
        for j, stack in enumerate(entry.get("stacks") or ()):
            if stack not in known:
                problem(i, f"stacks/{j}", f"freeze {name}: stack {stack!r} is not a stack of "
                        "repos-config/distribution.yaml", "use one of: " + ", ".join(known))
    return problems


def with_days_off(config: Config | None, freezes: tuple[Freeze, ...], now: datetime) -> Config | None:
    """The configuration whose calendar also takes off the days of the freezes that stop timers:
    every local day from the start's to the day before the end's (the day a freeze ends on works
    again); an open freeze takes off its days up to today."""
    if config is None or not any(f.stops_timers for f in freezes):
        return config
    cal = config.calendar
    tz = ZoneInfo(cal.timezone)
    days = set(cal.holidays)
    for freeze in freezes:
        if not freeze.stops_timers:
            continue
        day = freeze.start.astimezone(tz).date()
        last = freeze.end.astimezone(tz).date() if freeze.end else now.astimezone(tz).date() + timedelta(days=1)
        while day < last:
            days.add(day.isoformat())
            day += timedelta(days=1)
    calendar: Calendar = replace(cal, holidays=tuple(sorted(days)))
    return replace(config, calendar=calendar)


def hold_for_freezes(release: Release, events: list[Event], freezes: tuple[Freeze, ...]) -> Freeze | None:
    """Move the event that takes the release into Production to the end of the freeze it falls in
    (and of any freeze that end falls in); without an end, take it out: it waits for the lift.
    Changes ``events`` in place; returns the freeze that holds it, or None."""
    held = None
    for index, event in enumerate(events):
        if event.kind not in _MOVES:
            continue
        at = event.at
        for _ in range(len(freezes) + 1):
            freeze = next((f for f in freezes if f.holds(release, at)), None)
            if freeze is None:
                break
            held = freeze
            if freeze.end is None:
                at = None
                break
            at = freeze.end
        if held is not None:
            if at is None:
                del events[index]
            else:
                events[index] = replace(event, at=at, detail=f"freeze {held.name}")
            return held
    return None
