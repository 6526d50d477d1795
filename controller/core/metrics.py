"""The seed's metrics (section 4), from git history alone: early-adopter sites committed and
active, rollouts, acceptance delay and time spent per site, releases per component and category,
rejections and warnings, and how often each Table 3 step met its limit. Pure.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime

from controller.core.assess import Assessment
from controller.core.model import World
from controller.core.public import public_keys
from controller.core.timeline import Kind
from controller.core.workdays import working_hours_between


def _in(moment: datetime | None, since: date | None, until: date | None) -> bool:
    if moment is None:
        return False
    day = moment.date()
    return (since is None or day >= since) and (until is None or day <= until)


def compute_metrics(world: World, assessment: Assessment, since: date | None, until: date | None,
                    now: datetime) -> dict:
    cal = world.config.calendar if world.config else None
    committed = sorted(site for site, adopter in world.adopters.items()
                       if any((until is None or c.since <= until.isoformat())
                              and (c.until is None or since is None or c.until >= since.isoformat())
                              for c in adopter.commitments))
    sites: dict[str, dict] = defaultdict(lambda: {"rollouts": 0, "acceptance_hours": [], "effort_hours": 0.0})
    releases: Counter = Counter()
    rejections: Counter = Counter()
    warnings: Counter = Counter()
    steps: dict[str, Counter] = defaultdict(Counter)
    durations: dict[str, list[float]] = defaultdict(list)
    for key in public_keys(world, assessment, now):
        status, files = assessment.statuses[key], world.releases[key]
        release = files.release
        history = status.history
        certified = history[0][0].at if history else status.since
        if _in(certified, since, until):
            releases[(release.component, release.category.value)] += 1
        verified = next((e.at for e, _ in history if e.kind == Kind.VERIFY), None)
        decided = next((e.at for e, _ in history if e.kind.name.startswith("DECIDE")), None)
        for event, _ in history:
            if event.kind == Kind.ACCEPT and _in(event.at, since, until) and event.site:
                entry = sites[event.site]
                entry["rollouts"] += 1
                if verified is not None and cal is not None:
                    entry["acceptance_hours"].append(working_hours_between(cal, verified, event.at))
            if event.kind == Kind.REPORT and _in(event.at, since, until) and event.site:
                report = next((r for r in files.reports if r.file_site == event.site), None)
                sites[event.site]["effort_hours"] += float(report.effort_hours or 0) if report else 0.0
            if event.kind in (Kind.REJECT_VERIFY, Kind.DECIDE_REJECT) and _in(event.at, since, until):
                rejections[release.component] += 1
            if event.kind == Kind.DECIDE_APPROVE and event.detail == "warning" and _in(event.at, since, until):
                warnings[release.component] += 1
        for timer in status.timers:
            # A step still running past its deadline is late now, not only once it finishes.
            if _in(timer.started, since, until) and (timer.finished is not None or timer.is_overdue(now)):
                steps[timer.name]["met" if not timer.is_overdue(now) else "late"] += 1
        if verified is not None and decided is not None and cal is not None and _in(decided, since, until):
            durations[release.category.value].append(working_hours_between(cal, verified, decided))
    day = world.config.calendar.day_hours if world.config else 24.0
    return {
        "period": {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None},
        "sites": {"committed": committed, "active": sorted(s for s, e in sites.items() if e["rollouts"])},
        "per_site": {site: {"rollouts": e["rollouts"], "effort_hours": round(e["effort_hours"], 2),
                            "mean_acceptance_hours": round(sum(e["acceptance_hours"]) / len(e["acceptance_hours"]), 2)
                            if e["acceptance_hours"] else None}
                     for site, e in sorted(sites.items())},
        "releases": [{"component": c, "category": k, "count": n} for (c, k), n in sorted(releases.items())],
        "rejections": dict(sorted(rejections.items())),
        "warnings": dict(sorted(warnings.items())),
        "steps": {name: {"met": c["met"], "late": c["late"]} for name, c in sorted(steps.items())},
        "rollout_days": {k: round(sum(v) / len(v) / day, 2) for k, v in sorted(durations.items())},
    }


def render_text(m: dict) -> str:
    lines = [f"early-adopter sites: {len(m['sites']['committed'])} committed, {len(m['sites']['active'])} active"]
    lines.append(f"{'site':16} {'rollouts':>8} {'effort h':>9} {'accept h':>9}")
    for site, e in m["per_site"].items():
        accept = "-" if e["mean_acceptance_hours"] is None else f"{e['mean_acceptance_hours']:.2f}"
        lines.append(f"{site:16} {e['rollouts']:>8} {e['effort_hours']:>9.2f} {accept:>9}")
    lines.append("releases:")
    lines += [f"  {r['component']:20} {r['category']:10} {r['count']}" for r in m["releases"]]
    lines.append("rejections: " + (", ".join(f"{c} {n}" for c, n in m["rejections"].items()) or "none"))
    lines.append("warnings: " + (", ".join(f"{c} {n}" for c, n in m["warnings"].items()) or "none"))
    lines.append("Table 3 steps (met / late):")
    lines += [f"  {name:24} {s['met']} / {s['late']}" for name, s in m["steps"].items()]
    lines.append("staged rollout, verification to decision (working days): "
                 + (", ".join(f"{k} {v}" for k, v in m["rollout_days"].items()) or "none"))
    return "\n".join(lines)


def render_svg(rollout_days: dict[str, float]) -> str:
    """A bar per category: mean working days from verification to decision. Plain SVG, no library."""
    width, bar, gap, left = 480, 28, 12, 100
    scale = (width - left - 60) / max(list(rollout_days.values()) + [1.0])
    height = 40 + len(rollout_days) * (bar + gap)
    rows = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="13">',
            '<title>Staged rollout duration per category (working days, verification to decision)</title>',
            '<text x="10" y="20">Staged rollout, mean working days from verification to decision</text>']
    for i, (category, days) in enumerate(rollout_days.items()):
        y = 34 + i * (bar + gap)
        rows.append(f'<text x="10" y="{y + bar * 0.65:.0f}">{category}</text>')
        rows.append(f'<rect x="{left}" y="{y}" width="{max(days * scale, 1):.1f}" height="{bar}" fill="#3b7dd8"/>')
        rows.append(f'<text x="{left + days * scale + 6:.1f}" y="{y + bar * 0.65:.0f}">{days}</text>')
    rows.append("</svg>")
    return "\n".join(rows) + "\n"
