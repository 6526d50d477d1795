"""Rules that act on the lifecycle, not only report it: the cadence of a component holds a release
before Production until the date it becomes allowed, and a newer version reaching Production first
obsoletes an older one (the baseline gate is a policy rule marked ``gates``: see assess).

Each works on the replayed lifecycles of every release and re-replays the ones it changes. Linear
in the number of releases after one sort per component, never a comparison of every pair. Pure.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cmp_to_key

from controller.core.lifecycle import Replay, replay
from controller.core.model import Category, Config, State, World
from controller.core.timeline import Event, Kind
from controller.core.versions import compare_versions
from controller.errors import Problem

# release key -> (certified, its events, its replayed lifecycle)
Runs = dict[str, tuple[datetime, list[Event], Replay]]


def production_at(run: Replay) -> datetime | None:
    for event, state in run.history:
        if state == State.PRODUCTION:
            return event.at
    return None


def _interval(config: Config, category: Category) -> timedelta:
    return timedelta(days=config.timelines[category].min_interval_days)


def hold_for_cadence(world: World, runs: Runs, now: datetime, config: Config | None) -> dict[str, datetime]:
    """Revision, minor and major releases of a component reach Production at most once per
    interval (seed 2.2): a release whose grace period ends too soon after the previous one of its
    category reached Production waits until the date it is allowed. Returns key -> held until."""
    if config is None:
        return {}
    groups: dict[tuple[str, Category], list[tuple[datetime, str]]] = {}
    for key, (_, events, _) in runs.items():
        release = world.releases[key].release
        over = next((e.at for e in events if e.kind == Kind.GRACE_OVER), None)
        if release is not None and release.category != Category.EMERGENCY and over is not None:
            groups.setdefault((release.component, release.category), []).append((over, key))
    held = {}
    for (_, category), candidates in groups.items():
        interval, previous = _interval(config, category), None
        for over, key in sorted(candidates):
            if previous is not None and over < previous + interval:
                over = previous + interval
                certified, events, _ = runs[key]
                events[:] = [replace(e, at=over, detail="cadence") if e.kind == Kind.GRACE_OVER else e for e in events]
                runs[key] = (certified, events, replay(certified, events, now))
                held[key] = over
            previous = over
    return held


def obsolete(runs: Runs, now: datetime) -> None:
    """A release not yet in Production when a newer version of its component got there is obsolete."""
    by_component: dict[str, list[tuple[str, str]]] = {}
    for key in runs:
        component, version = key.split("/", 1)
        by_component.setdefault(component, []).append((version, key))
    order = cmp_to_key(lambda a, b: compare_versions(a[0], b[0]))
    for releases in by_component.values():
        releases.sort(key=order, reverse=True)  # newest first
        newer: datetime | None = None  # the first Production among strictly newer versions
        i = 0
        while i < len(releases):
            same = [releases[i]]  # versions that compare equal are not newer than each other
            while i + len(same) < len(releases) and compare_versions(releases[i + len(same)][0], same[0][0]) == 0:
                same.append(releases[i + len(same)])
            reached = [at for _, key in same if (at := production_at(runs[key][2])) is not None]
            for _, key in same:
                certified, events, run = runs[key]
                mine = production_at(run)
                if newer is not None and (mine is None or newer < mine):
                    events.append(Event(Kind.OBSOLETE, newer, detail="a newer version reached production"))
                    runs[key] = (certified, events, replay(certified, events, now))
            newer = min([newer, *reached] if newer is not None else reached, default=None)
            i += len(same)


def cadence_findings(world: World, certified: dict[str, datetime], produced: dict[str, datetime],
                     held: dict[str, datetime]) -> list[Problem]:
    """A release submitted before its category's interval since the previous one reached
    Production is reported, with the date it is allowed (and, if held, until when)."""
    config = world.config
    if config is None:
        return []
    groups: dict[tuple[str, Category], list[tuple[datetime, str]]] = {}
    for key, at in produced.items():
        release = world.releases[key].release
        groups.setdefault((release.component, release.category), []).append((at, key))
    for items in groups.values():
        items.sort()
    problems = []
    for key, submitted in certified.items():
        release = world.releases[key].release
        if release is None or release.category == Category.EMERGENCY:
            continue
        items = groups.get((release.component, release.category), [])
        before = bisect_left(items, (submitted, ""))
        if before == 0:
            continue
        previous_at, previous = items[before - 1]
        allowed = previous_at + _interval(config, release.category)
        if submitted >= allowed:
            continue
        kind = release.category.value
        wait = f"; it is held before Production until {held[key]:%Y-%m-%d}" if key in held else ""
        problems.append(Problem(release.path, f"{kind} release of {release.component} submitted "
                                f"{submitted:%Y-%m-%d}, but {previous.split('/', 1)[1]} reached production on "
                                f"{previous_at:%Y-%m-%d}", f"the next {kind} release of {release.component} is "
                                f"allowed from {allowed:%Y-%m-%d}{wait}; make this an emergency release if it "
                                "cannot wait", "/category", rule="cadence"))
    return problems
