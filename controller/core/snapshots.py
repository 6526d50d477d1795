"""Dated snapshots: the channels repos-config/snapshots.yaml asks to keep as they stood at the end
of a day, each served under a name of its own next to the live channel and never pruned while its
entry stays. Owns reading the entries, the content of each (the channel recomputed at that
instant: state is a function of the history and the clock) and the first snapshot holding each
release. Pure: the model and an assessment at any instant in, contents out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from controller.core.assess import Assessment
from controller.core.desired import ChannelContent, compute_desired
from controller.core.model import Channel, World
from controller.core.yamlio import YamlError, read_yaml
from controller.errors import Problem

SNAPSHOTS_FILE = "repos-config/snapshots.yaml"


@dataclass(frozen=True)
class DatedSnapshot:
    channel: Channel
    day: date
    at: datetime  # the end of the day in the calendar's time zone: the channel as it stood then
    reason: str = ""

    @property
    def name(self) -> str:
        """As people say it: production/2026-12-01."""
        return f"{self.channel.value}/{self.day.isoformat()}"

    @property
    def label(self) -> str:
        """As the published tree names it: production-2026-12-01 (a top-level directory beside the
        live channel's, and apt suites <repository>-production-2026-12-01)."""
        return f"{self.channel.value}-{self.day.isoformat()}"


def read_snapshots(world: World) -> tuple[tuple[DatedSnapshot, ...], list[Problem]]:
    """Every entry of snapshots.yaml, oldest first, and what is wrong with the file (the schema
    checks its shape; here: real dates and no entry twice)."""
    raw = world.snapshot.files.get(SNAPSHOTS_FILE)
    if raw is None or world.config is None:
        return (), []
    try:
        data = read_yaml(raw).data
    except YamlError:
        return (), []  # the loader reports it
    items = data.get("snapshots") if isinstance(data, dict) else None
    tz = ZoneInfo(world.config.calendar.timezone)
    found, problems, seen = [], [], set()
    for i, entry in enumerate(items if isinstance(items, list) else ()):
        if not isinstance(entry, dict) or entry.get("channel") not in {c.value for c in Channel}:
            continue
        try:
            day = date.fromisoformat(str(entry.get("date")))
        except ValueError:
            problems.append(Problem(SNAPSHOTS_FILE, f"date {entry.get('date')!r} is not a real date",
                                    "write a date that exists, YYYY-MM-DD", f"/snapshots/{i}/date", rule="snapshot"))
            continue
        end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
        snap = DatedSnapshot(Channel(entry["channel"]), day, end, str(entry.get("reason", "")))
        if snap.name in seen:
            problems.append(Problem(SNAPSHOTS_FILE, f"snapshot {snap.name} is listed twice",
                                    "remove one of the two entries", f"/snapshots/{i}", rule="snapshot"))
            continue
        seen.add(snap.name)
        found.append(snap)
    return tuple(sorted(found, key=lambda s: (s.day, s.channel.value))), problems


def snapshot_contents(world: World, snapshots: tuple[DatedSnapshot, ...], now: datetime,
                      assess_at: Callable[[datetime], Assessment]) -> dict[DatedSnapshot, ChannelContent]:
    """What each snapshot whose day is over holds: its channel as the state stood at the end of
    that day (``assess_at``: the assessment at an instant, ingestion dated as for any replay)."""
    contents = {}
    for snap in snapshots:
        if snap.at <= now:
            contents[snap] = compute_desired(world, assess_at(snap.at), snap.at)[snap.channel]
    return contents


def first_snapshots(contents: dict[DatedSnapshot, ChannelContent]) -> dict[str, DatedSnapshot]:
    """Release key -> the earliest snapshot that holds it (Production's first, on the same day)."""
    rank = {Channel.PRODUCTION: 0, Channel.STAGED_ROLLOUT: 1, Channel.UNVERIFIED: 2}
    first: dict[str, DatedSnapshot] = {}
    for snap in sorted(contents, key=lambda s: (s.day, rank[s.channel])):
        for repo in contents[snap].repos:
            for entry in repo.entries:
                first.setdefault(entry.release, snap)
    return first
