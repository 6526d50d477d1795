"""The public pages and feeds as plain data: one view per release (the seed's wiki page: notes,
changelog, certification, verification, reports, decision, advisories, timeline against Table 3,
the steps overdue now) and the feed entries of releases that reached Production. Pure; embargoed
releases never appear.
"""

from __future__ import annotations

from datetime import datetime

from controller.core.advisory_words import dnf_severity
from controller.core.assess import Assessment
from controller.core.desired import advisory_id
from controller.core.model import State, World
from controller.core.public import public_keys
from controller.core.redaction import may_have_credentials, redact_data
from controller.core.snapshots import DatedSnapshot
from controller.core.workdays import working_hours_between


def release_views(world: World, assessment: Assessment, now: datetime,
                  snapshots: dict[str, DatedSnapshot] | None = None) -> list[dict]:
    """``snapshots``: release key -> the first dated snapshot that holds it, linked from its page."""
    views = []
    for key in public_keys(world, assessment, now):
        files = world.releases[key]
        release, status = files.release, assessment.statuses[key]
        if release is None:
            continue
        raw = release.raw
        timeline = []
        for timer in status.timers:
            end = timer.finished or now
            hours = working_hours_between(world.config.calendar, timer.started, end) if world.config else 0.0
            limit = working_hours_between(world.config.calendar, timer.started, timer.deadline) if world.config else 0
            timeline.append({"name": timer.name, "started": timer.started, "finished": timer.finished,
                             "deadline": timer.deadline, "hours": round(hours, 1), "limit": round(limit, 1),
                             "late": timer.is_overdue(now)})
        reports = [{"site": r.file_site, "status": r.status, "result": r.result, "raw": r.raw}
                   for r in files.reports]
        overdue = [{"name": t.name, "deadline": t.deadline} for t in status.timers
                   if t.finished is None and t.is_overdue(now)]
        security = raw.get("security")
        if security:
            security = {**security, "severity": dnf_severity(security["severity"])}
        name = world.config.distribution_name if world.config else "dist"
        views.append(_redacted({
            "key": key, "slug": key.replace("/", "-"), "component": release.component, "version": release.version,
            "category": release.category.value, "stack": release.stack, "summary": release.summary,
            "state": status.state.value, "since": status.since, "channel": status.channel,
            "waiting_for": status.waiting_for, "next_actor": status.next_actor,
            "provider": raw["provider"], "release_notes": raw["release_notes"], "changelog": raw["changelog"],
            "certification": raw["certification"], "documentation": raw["documentation"],
            "issues": raw.get("issues", []), "security": security, "emergency": raw.get("emergency"),
            "advisory_id": advisory_id(name, release), "overdue": overdue,
            "skipped_rollout": bool(files.decision and files.decision.skip_staged_rollout
                                    and release.skip_staged_rollout),
            "packages": [{"file": p.filename, "sha256": p.sha256, "platform": p.platform, "name": p.name,
                          "format": p.format} for p in release.packages],
            "verification": files.verification.raw if files.verification else None,
            "installability": {"state": status.installability.state, "text": status.installability.text,
                               "waiver": status.installability.waiver} if status.installability else None,
            "reports": reports, "decision": files.decision.raw if files.decision else None,
            "withdrawal": files.withdrawal.raw if files.withdrawal else None,
            "production_at": status.production_at, "timeline": timeline,
            "snapshot": _snapshot_view(world, (snapshots or {}).get(key)),
        }))
    return views


def _redacted(view: dict) -> dict:
    """The view with credentials redacted; as it is (not copied) when its text shows none, which
    is read from its representation at once (a string's representation holds its characters, so
    a URL with credentials in any string shows there too)."""
    return redact_data(view) if may_have_credentials(repr(view)) else view


def _snapshot_view(world: World, snap: DatedSnapshot | None) -> dict | None:
    if snap is None or world.config is None:
        return None
    files = [f"{r.name}.{'repo' if r.format == 'yum' else 'sources'}" for r in world.config.repositories]
    return {"name": snap.name, "label": snap.label, "files": files}


def feed_entries(views: list[dict], stack: str | None = None) -> list[dict]:
    """Releases that reached Production, newest first (seed section 5)."""
    reached = [v for v in views if v["production_at"] is not None and (stack is None or v["stack"] == stack)
               and v["state"] in (State.PRODUCTION.value, State.WITHDRAWN.value)]
    return sorted(reached, key=lambda v: (v["production_at"], v["key"]), reverse=True)
