"""What the public may see, and when: embargoed security releases stay out of every public
output (channels, status.json, feeds, pages, broadcasts) until their embargo date. Pure.
"""

from __future__ import annotations

from datetime import datetime

from controller.core.assess import Assessment
from controller.core.model import Release, State, World

_RUNNING = {State.ROLLING_OUT, State.DONE, State.APPROVED}


def is_embargoed(release: Release | None, now: datetime) -> bool:
    return bool(release and release.security and release.security.embargo_until
                and now < release.security.embargo_until)


def public_keys(world: World, assessment: Assessment, now: datetime) -> list[str]:
    return sorted(key for key in assessment.statuses if not is_embargoed(world.releases[key].release, now))


def status_document(world: World, assessment: Assessment, now: datetime) -> dict:
    releases = []
    for key in public_keys(world, assessment, now):
        s = assessment.statuses[key]
        releases.append({"release": key, "state": s.state.value, "channel": s.channel,
                         "since": s.since.isoformat() if s.since else None,
                         "waiting_for": s.waiting_for, "next_actor": s.next_actor})
    return {"releases": releases}


def beta_sites(world: World, assessment: Assessment, now: datetime) -> dict:
    """The sites (and, once reported, the hosts) running a release under staged rollout, so that
    availability calculations can leave them out (seed section 3)."""
    running = []
    for key in public_keys(world, assessment, now):
        status = assessment.statuses[key]
        if status.state not in _RUNNING:
            continue
        reports = {r.file_site: r for r in world.releases[key].reports}
        for event, _ in status.history:
            if event.kind.name == "ACCEPT" and event.site:
                report = reports.get(event.site)
                hosts = (report.raw.get("environment") or {}).get("hosts", []) if report else []
                running.append({"site": event.site, "release": key, "since": event.at.isoformat(),
                                "hosts": hosts})
    return {"beta": sorted(running, key=lambda r: (r["site"], r["release"]))}
