"""The installability gate (seed step 2.1 lists installability among the checks before a release is
verified): whether a release's packages install into the Staged Rollout channel as it would be with
them, and what that does to its verification.

The check itself (dnf's repoclosure, apt's simulated install, on the published metadata of Staged
Rollout and Production plus the release's own packages) is the apply side's; its results reach the
core as plain values, like ingestion outcomes, each with the basis it was computed on (the
release's packages and the two channels' contents), so that it is computed again when they change.
Pure: this module decides when a check is due and what a result means for the lifecycle.

The rule: a verification counts only once the release's check passed (from then on, or from its
own landing if later), or the technology unit recorded a waiver with a reason in verification.yaml
(``installability_waiver: {reason: ...}``). A failed check refuses it, naming what is missing; a
check not run yet holds it. Verifications that landed before results were first recorded on the
target (``Installability.since``) are not judged: a deployment starts with what was verified.
A check that could not run on the controller's machine (no dnf, the channels not reachable) holds
nothing back: it says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from controller.core.model import Release, ReleaseFiles, State
from controller.core.timeline import Event, Kind
from controller.errors import Problem

PASSED, FAILED, UNCHECKED = "passed", "failed", "unchecked"
RULE = "installability"
# What a release whose verification the gate holds waits for, and who acts.
HELD = {"pending": ("the installability check of its packages, before its verification counts",
                    "repository managers (rolloutctl reconcile runs it)"),
        "failed": ("packages that install (see the installability problem), or the technology unit's waiver",
                   "provider (ship what is missing), or technology unit (installability_waiver)")}


@dataclass(frozen=True)
class Missing:
    """A package of the release that would not install, and the dependency no channel provides."""

    repository: str
    arch: str
    package: str
    requires: str

    def describe(self) -> str:
        return f"{self.package} requires {self.requires}, which neither Staged Rollout nor Production provides " \
               f"({self.repository}, {self.arch})"


@dataclass(frozen=True)
class Result:
    """One check of one release: ``verdict`` passed, failed or unchecked (with ``note`` saying why)."""

    basis: str
    at: datetime
    verdict: str
    missing: tuple[Missing, ...] = ()
    note: str = ""
    checked: tuple[str, ...] = ()  # "repository arch" pairs the clients resolved


@dataclass(frozen=True)
class Installability:
    """Every recorded result, and since when verifications wait for one on this target."""

    since: datetime
    results: Mapping[str, Result] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What `status`, status.json and the release page say about a release's check."""

    state: str  # passed, failed, waived, unchecked, pending
    text: str
    missing: tuple[Missing, ...] = ()
    waiver: str | None = None
    at: datetime | None = None


def waiver_of(files: ReleaseFiles) -> str | None:
    """The technology unit's reason for verifying a release that does not install, if any."""
    if files.verification is None:
        return None
    waiver = files.verification.raw.get("installability_waiver")
    return waiver.get("reason") if isinstance(waiver, dict) else None


def basis(release: Release, staged: str | None, production: str | None) -> str:
    """What a check depends on: the release's packages and the published contents of Staged
    Rollout and Production (their digests)."""
    text = json.dumps([sorted(p.sha256 for p in release.packages), staged or "", production or ""])
    return hashlib.sha256(text.encode()).hexdigest()


def due(statuses: Mapping[str, object], world_releases: Mapping[str, ReleaseFiles], gate: Installability | None,
        bases: Mapping[str, str]) -> list[str]:
    """The releases to check now: those waiting for verification (unverified) whose result is
    missing or was computed on other channels or packages. Verified releases are not checked
    again: a later change of the channels never takes a verification back."""
    results = gate.results if gate is not None else {}
    wanted = []
    for key, status in sorted(statuses.items()):
        release = world_releases[key].release
        if status.state != State.UNVERIFIED or release is None or not release.packages:
            continue
        result = results.get(key)
        if result is None or result.basis != bases.get(key):
            wanted.append(key)
    return wanted


def assume_passed(gate: Installability | None, keys: list[str], bases: Mapping[str, str],
                  now: datetime) -> Installability:
    """The gate as a plan sees it before the checks run: each due check passing at ``now`` (apply
    plans again when one does not)."""
    current = gate or Installability(now)
    results = dict(current.results)
    for key in keys:
        results[key] = Result(bases[key], now, PASSED)
    return replace(current, results=results)


def judge(files: ReleaseFiles, events: list[Event], gate: Installability | None) -> tuple[
        list[Event], list[Problem], Verdict | None]:
    """The release's events with its verification as the gate lets it count (dropped when refused
    or held, later when the check passed after it landed), the refusal, and the verdict to show."""
    if gate is None or files.release is None or not files.release.packages:
        return events, [], None
    result = gate.results.get(files.key)
    waiver = waiver_of(files)
    verify = next((e for e in events if e.kind == Kind.VERIFY), None)
    if verify is not None and verify.at < gate.since:  # verified before the check began here
        return events, [], _verdict(result, waiver) if result is not None else None
    verdict = _verdict(result, waiver)
    if verify is None or waiver is not None:
        return events, [], verdict
    others = [e for e in events if e is not verify]
    if result is None:
        return others, [], verdict
    if result.verdict == FAILED:
        return others, [_refusal(files, result)], verdict
    if result.verdict == PASSED and result.at > verify.at:
        return [*others, replace(verify, at=result.at)], [], verdict
    return events, [], verdict


def _refusal(files: ReleaseFiles, result: Result) -> Problem:
    missing = "; ".join(m.describe() for m in result.missing) or "the check failed"
    return Problem(files.verification.path, f"verification refused: the release does not install: {missing}",
                   "the provider ships what is missing, or it reaches Production first (the check runs again "
                   "when the channels change); or the technology unit records installability_waiver: "
                   "{reason: ...} in verification.yaml", "/checks/installability", rule=RULE)


def _verdict(result: Result | None, waiver: str | None) -> Verdict:
    if result is None:
        return Verdict("pending", "not checked yet (the next reconcile checks it)", waiver=waiver)
    if waiver is not None and result.verdict == FAILED:
        return Verdict("waived", f"waived by the technology unit: {waiver} (failed: "
                       f"{'; '.join(m.describe() for m in result.missing)})", result.missing, waiver, result.at)
    if result.verdict == FAILED:
        return Verdict(FAILED, "failed: " + "; ".join(m.describe() for m in result.missing), result.missing,
                       waiver, result.at)
    if result.verdict == UNCHECKED:
        return Verdict(UNCHECKED, f"not checked: {result.note}", waiver=waiver, at=result.at)
    # The same words as the plan's assumed pass: what the run publishes must not differ from it.
    return Verdict(PASSED, "installs into Staged Rollout with Production", waiver=waiver, at=result.at)


# --- the record, as plain data -------------------------------------------------------------------


def to_record(gate: Installability) -> dict:
    return {"since": gate.since.isoformat(), "results": {key: {
        "basis": r.basis, "at": r.at.isoformat(), "verdict": r.verdict, "note": r.note, "checked": list(r.checked),
        "missing": [{"repository": m.repository, "arch": m.arch, "package": m.package, "requires": m.requires}
                    for m in r.missing]} for key, r in sorted(gate.results.items())}}


def from_record(data: object) -> Installability | None:
    """The gate from its record; None when it is not one (a damaged record starts again)."""
    try:
        results = {key: Result(r["basis"], datetime.fromisoformat(r["at"]), r["verdict"],
                               tuple(Missing(m["repository"], m["arch"], m["package"], m["requires"])
                                     for m in r.get("missing", ())), r.get("note", ""), tuple(r.get("checked", ())))
                   for key, r in data["results"].items()}
        if any(r.verdict not in (PASSED, FAILED, UNCHECKED) for r in results.values()):
            return None
        return Installability(datetime.fromisoformat(data["since"]), results)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
