"""What the public may see, and when: embargoed security releases stay out of every public
output (channels, pool, status.json, beta.json, pages, feeds, plots, broadcasts, the commands'
output) until their embargo date. Where a count helps, it is a count ("1 embargoed release,
details withheld"); free text that adapters wrote (errors, mail failures) is redacted. Pure.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from enum import Enum

from controller.core import redaction
from controller.core.advisory_words import security_advisory_id
from controller.core.assess import Assessment
from controller.core.model import Release, State, World
from controller.errors import Problem, failing

_RUNNING = {State.ROLLING_OUT, State.DONE, State.APPROVED}
WITHHELD = "[withheld]"
SHOW = "rolloutctl status --show-embargoed shows them; keep its output private"


class PrivateChannel(Enum):
    """The channel outside the public tree, published where the operator configures one and
    serves it with access control: every embargoed release that has a channel, for the security
    group and the committed early adopters, until its date."""

    EMBARGOED = "embargoed"


def is_embargoed(release: Release | None, now: datetime) -> bool:
    return bool(release and release.security and release.security.embargo_until
                and now < release.security.embargo_until)


def embargoed_keys(world: World, now: datetime) -> set[str]:
    return {key for key, files in world.releases.items() if is_embargoed(files.release, now)}


def public_keys(world: World, assessment: Assessment, now: datetime) -> list[str]:
    return sorted(key for key in assessment.statuses if not is_embargoed(world.releases[key].release, now))


def identifiers(world: World, now: datetime) -> tuple[str, ...]:
    """Every string that would name an embargoed release (its key, component, version, package
    names, file names, URLs and checksums, advisory and CVE ids), longest first."""
    found: set[str] = set()
    for key in embargoed_keys(world, now):
        release = world.releases[key].release
        found |= {key, release.component, release.version, f"{release.component}-{release.version}",
                  f"{release.component} {release.version}", release.security.advisory,
                  security_advisory_id(release), *release.security.cves}
        for package in release.packages:
            found |= {package.name, package.filename, package.sha256, package.url or "", package.path or ""}
    return tuple(sorted((text for text in found if text), key=lambda text: (-len(text), text)))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every identifier of an embargoed release replaced by [withheld]."""
    if not secrets:
        return text
    return re.sub("|".join(re.escape(s) for s in secrets), WITHHELD, text)


def without_embargoed(world: World, assessment: Assessment, now: datetime) -> tuple[World, Assessment]:
    """The world and assessment as the public may see them: embargoed releases left out, with
    their statuses and the findings about their files."""
    hidden = embargoed_keys(world, now)
    if not hidden:
        return world, assessment
    releases = {key: files for key, files in world.releases.items() if key not in hidden}
    statuses = {key: status for key, status in assessment.statuses.items() if key not in hidden}
    findings = [p for p in assessment.findings if not _about(p, hidden)]
    return replace(world, releases=releases), replace(assessment, statuses=statuses, findings=findings)


def _about(problem: Problem, keys: set[str]) -> bool:
    return any(problem.file.startswith(f"releases/{key}/") for key in keys)


def withhold(world: World, assessment: Assessment, now: datetime) -> Assessment:
    """What `status` shows by default (its output may end up in a public CI log): the embargoed
    releases left out, and in their place one line that counts them, an error when one of them
    needs someone (a step overdue, an ingestion failed, a problem) so that `status --check` still
    fails for it."""
    hidden = sorted(key for key in embargoed_keys(world, now) if key in assessment.statuses)
    if not hidden:
        return assessment
    _, shown = without_embargoed(world, assessment, now)
    needing = [key for key in hidden if _needs_someone(assessment, key, now)]
    if needing:
        line = Problem("releases/", f"{len(needing)} of {len(hidden)} embargoed release(s) need someone: details "
                       "withheld", SHOW, rule="embargo")
    else:
        line = Problem("releases/", f"{len(hidden)} embargoed release(s): details withheld", SHOW, rule="embargo",
                       level="warning")
    return replace(shown, findings=[*shown.findings, line])


def _needs_someone(assessment: Assessment, key: str, now: datetime) -> bool:
    status = assessment.statuses[key]
    return (status.state == State.INGEST_FAILED or any(t.finished is None and t.is_overdue(now) for t in status.timers)
            or bool(failing([p for p in assessment.findings if _about(p, {key})])))


def status_document(world: World, assessment: Assessment, now: datetime) -> dict:
    releases = []
    for key in public_keys(world, assessment, now):
        s = assessment.statuses[key]
        verdict = s.installability
        releases.append({"release": key, "state": s.state.value, "channel": s.channel,
                         "since": s.since.isoformat() if s.since else None,
                         "waiting_for": redaction.redact(s.waiting_for),
                         "next_actor": redaction.redact(s.next_actor),
                         "installability": {"state": verdict.state, "summary": verdict.text} if verdict else None})
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
