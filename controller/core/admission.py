"""Whether one change counts: the checks the history replay applies to each change it meets.

A change counts when (1) it does not rewrite what is final (a merged release.yaml and its packages,
a merged verification, decision or withdrawal, a report once done), (2) its content is well formed
and agrees with its path, (3) every commit credited with it was authored (and signed, where
required) by someone holding the role for the path before it landed, and (4) for a release's
files: the release exists, a report comes from a registered, independent site and names what it
tested, and the lifecycle accepts the step at the moment it landed. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from controller.core import trust
from controller.core.lifecycle import replay_release
from controller.core.loading import build_file, classify, parse_file, parse_instant
from controller.core.model import Change, Landing, ReleaseFiles, Touch
from controller.core.timeline import Event, Kind, file_events
from controller.errors import Problem

if TYPE_CHECKING:
    from controller.core.history import Blobs, Record, Trail

FINAL = ("verification", "decision", "withdrawal")
_ORDER = ("config", "adopter", "release", "package", "verification", "report", "decision", "withdrawal")


def instant(text: str) -> datetime:
    return parse_instant(text)


def processing_order(path: str) -> tuple[int, str]:
    """Within one landing: configuration first, then a release's files in lifecycle order."""
    kind = "config" if path.startswith("repos-config/") else classify(path)
    return (_ORDER.index(kind) if kind in _ORDER else len(_ORDER), path)


def release_key(path: str) -> str | None:
    parts = path.split("/")
    return f"{parts[1]}/{parts[2]}" if parts[0] == "releases" and len(parts) >= 4 else None


def checked_doc(trail: Trail, path: str, blobs: Blobs) -> dict | None:
    """The accepted version of a YAML file, parsed (accepted versions were checked when they landed)."""
    blob = trail.blob(path)
    if blob is None:
        return None
    return _parse(path, blob, blobs)[0]


def _parse(path: str, blob: str, blobs: Blobs) -> tuple[dict | None, list[Problem], dict[str, int]]:
    parsed, problems = parse_file(path, blobs.read(blob), classify(path), memo=blobs.memo)
    data = parsed.doc.data if parsed is not None else None
    return (data if isinstance(data, dict) else None), problems, parsed.doc.lines if parsed else {}


def _located(problems: list[Problem], lines: dict[str, int]) -> list[Problem]:
    """Give findings about a version that will not count the line of their pointer in that version."""
    located = []
    for p in problems:
        pointer = p.pointer
        while pointer not in lines and pointer:
            pointer = pointer.rsplit("/", 1)[0]
        located.append(replace(p, line=lines.get(pointer)) if p.line is None and pointer in lines else p)
    return located


def accept(trail: Trail, record: Record, change: Change, landing: Landing, blobs: Blobs,
           doc: dict | None = None) -> None:
    """Make a change count: it becomes the path's accepted version."""
    if change.blob is None and record.accepted is None:
        return  # removing what never counted changes nothing
    kind = "A" if record.accepted is None else "D" if change.blob is None else "M"
    touch = Touch(change.authors[-1], landing.commit, kind, change.blob)
    record.accepted = change.blob
    record.touches.append(touch)
    record.ignored.clear()
    path = change.path
    file_kind = classify(path)
    if file_kind == "report":
        if change.blob is None:
            record.done = None
        elif record.done is None:
            doc = doc if doc is not None else _parse(path, change.blob, blobs)[0]
            if doc is not None and doc.get("status") == "done":
                record.done = touch
    key = release_key(path)
    if key is not None:
        paths = trail.releases.setdefault(key, set())
        (paths.add if change.blob is not None else paths.discard)(path)
    if path.startswith(("repos-config/", "adopters/")):
        trail.forget_configuration()


def judge(trail: Trail, roster: trust.Roster, change: Change, landing: Landing,
          signers: Mapping[str, str | None], signed: bool, blobs: Blobs) -> list[Problem]:
    """Every reason the change does not count; an empty list when it does."""
    path = change.path
    if trust.grant_for(path) is None:
        return []  # no role guards it (notes, unknown files: the layout rule reports those)
    record = trail.records[path]
    kind = classify(path)
    problems = _final(record, kind, change, path)
    doc, lines = None, {}
    if change.blob is not None and kind not in (None, "extra", "package"):
        doc, found, lines = _parse(path, change.blob, blobs)
        problems += found or disagreements(path, kind, doc or {})
    if kind == "report" and doc is not None and not problems:
        site = path.rsplit("/", 1)[-1].removesuffix(".yaml")
        if not roster.admins(site):
            return _located([Problem(path, f"site {site!r} is not a registered early adopter",
                                     f"register it first in adopters/{site}.yaml", "/site",
                                     rule="registered-site")], lines)
    problems += _unauthorized(roster, change, signers, signed, kind, doc)
    if not problems and kind in ("verification", "report", "decision", "withdrawal"):
        problems = _release_rules(trail, roster, change, landing, kind, doc, blobs)
    return _located(problems, lines)


def _final(record: Record, kind: str | None, change: Change, path: str) -> list[Problem]:
    if record.accepted is None:
        return []
    name = path.rsplit("/", 1)[-1]
    what = "deleted" if change.blob is None else "changed"
    who = f"commit {change.authors[-1].short} by {change.authors[-1].author.name}"
    if kind in ("release", "package"):
        subject = "release.yaml" if kind == "release" else f"{name}, a package of a merged release,"
        return [Problem(path, f"{subject} was {what} after it was merged ({who})",
                        "the merged version still counts; revert the change; a corrected release needs a new "
                        "version directory", rule="release-immutable")]
    if kind in FINAL or (kind == "report" and (record.done is not None or change.blob is None)):
        return [Problem(path, f"{name} was {what} after it was merged ({who}); a merged step is final",
                        "the merged version still counts; revert the change; to undo a step, the managers "
                        "reject or withdraw the release, or the provider submits a new version", rule="final")]
    return []


def disagreements(path: str, kind: str, doc: dict) -> list[Problem]:
    """Content that names another place than its path: component, version or site."""
    parts = path.split("/")
    if kind == "release":
        for name, expected in (("component", parts[1]), ("version", parts[2])):
            if doc.get(name) != expected:
                return [Problem(path, f"{name} is {doc.get(name)!r} but the directory says {expected!r}",
                                f"set {name}: {expected}, or move the file to releases/{doc.get('component')}/"
                                f"{doc.get('version')}/", f"/{name}", rule="paths-agree")]
    if kind in ("report", "adopter"):
        stem = parts[-1].removesuffix(".yaml")
        if doc.get("site") != stem:
            hint = (f"a site reports in reports/{doc.get('site')}.yaml" if kind == "report"
                    else f"rename the file to adopters/{doc.get('site')}.yaml")
            where = "named for" if kind == "report" else "adopters/"
            message = (f"site is {doc.get('site')!r} but the file is named for {stem!r}" if kind == "report"
                       else f"site is {doc.get('site')!r} but the file is {where}{stem}.yaml")
            return [Problem(path, message, hint, "/site", rule="paths-agree")]
    return []


def _unauthorized(roster: trust.Roster, change: Change, signers: Mapping[str, str | None], signed: bool,
                  kind: str | None, doc: dict | None) -> list[Problem]:
    path = change.path
    registering = ()
    if kind == "adopter" and doc is not None:
        adopter = build_file("adopter", path, doc)
        registering = adopter.admins if adopter is not None else ()
    for author in change.authors:
        if not roster.may_author(path, author, signers.get(author.id), signed, registering):
            who = f"{author.author.name} <{author.author.email}>"
            with_signature = " with a signed commit by a valid key" if signed else ""
            return [Problem(path, f"commit {author.short} by {who} changed this file, but only "
                            f"{trust.who_may(path)} may change it{with_signature}",
                            "the change is not counted; have the right person make it", rule="roles")]
    return []


def _release_rules(trail: Trail, roster: trust.Roster, change: Change, landing: Landing, kind: str,
                   doc: dict | None, blobs: Blobs) -> list[Problem]:
    path = change.path
    key = release_key(path)
    manifest = checked_doc(trail, f"releases/{key}/release.yaml", blobs)
    if manifest is None:
        return [Problem(path, "a file for a release that has no valid release.yaml",
                        "the provider's release.yaml must be merged first; commit this file again after it",
                        rule="order")]
    if kind == "report" and doc is not None:
        problems = independence(roster, path, manifest) + tested(path, doc, manifest)
        if problems:
            return problems
    if kind == "decision" and doc is not None:
        problems = skip_refused(path, doc, manifest)
        if problems:
            return problems
    return _out_of_order(trail, change, landing, kind, doc, blobs)


def skip_refused(path: str, decision: dict, manifest: dict) -> list[Problem]:
    """Only an emergency release whose provider asked for it, with a justification, skips staged rollout."""
    emergency = manifest.get("emergency") or {}
    may_skip = manifest.get("category") == "emergency" and emergency.get("skip_staged_rollout", False)
    if decision.get("skip_staged_rollout") and not may_skip:
        return [Problem(path, "only an emergency release that asked for it may skip staged rollout",
                        "remove skip_staged_rollout, or the provider sets emergency.skip_staged_rollout "
                        "with a justification", "/skip_staged_rollout", rule="emergency-justification")]
    return []


def independence(roster: trust.Roster, path: str, manifest: dict) -> list[Problem]:
    site = path.rsplit("/", 1)[-1].removesuffix(".yaml")
    provider = roster.provider_emails(manifest["component"]) | {manifest["provider"]["contact"].lower()}
    if any(set(admin.emails) & provider for admin in roster.admins(site)):
        return [Problem(path, f"site {site} is run by the release's provider and does not count as an independent "
                        "early adopter", "another site must carry out the rollout", rule="independent-ea")]
    return []


def tested(path: str, doc: dict, manifest: dict) -> list[Problem]:
    """A report counts only if it names the release's version and the checksums of its packages."""
    if doc.get("status") != "done":
        return []
    tested = doc.get("tested") or {}
    version = manifest["version"]
    problems = []
    if tested.get("version") != version:
        problems.append(Problem(path, f"the report tested version {tested.get('version')}, not {version}",
                                f"test {version} and report its version", "/tested/version", rule="report-tested"))
    sums: dict[str, set[str]] = {}
    for p in manifest["packages"]:  # an rpm and a deb may share a name
        sums.setdefault(p["name"], set()).add(p["sha256"])
    for i, item in enumerate(tested.get("packages") or ()):
        name, digest = item.get("name"), item.get("sha256")
        if name not in sums:
            problems.append(Problem(path, f"package {name!r} is not part of {manifest['component']} {version}",
                                    "list the release's packages (rolloutctl report-template fills them in)",
                                    f"/tested/packages/{i}/name", rule="report-tested"))
        elif digest not in sums[name]:
            problems.append(Problem(path, f"the tested checksum of {name} differs from the release's",
                                    "report the provider's sha256 of each package, as release.yaml and rolloutctl "
                                    "report-template give them (rpms are served re-signed, with other checksums)",
                                    f"/tested/packages/{i}/sha256", rule="report-tested"))
    return problems


class _WithCandidate:
    """The release's accepted trail, with the change under judgement in place (a timeline.Trail)."""

    def __init__(self, trail: Trail, path: str, touch: Touch | None, done: bool):
        self.trail, self.path, self.touch, self.done = trail, path, touch, done

    def _record(self, path: str) -> Record | None:
        return self.trail.records.get(path)

    def landing(self, path: str) -> Touch | None:
        record = self._record(path)
        if record is not None and record.accepted is not None:
            return next((t for t in reversed(record.touches) if t.change == "A"), None)
        return self.touch if path == self.path else None

    def reported(self, path: str) -> Touch | None:
        record = self._record(path)
        if record is not None and record.done is not None:
            return record.done
        return self.touch if path == self.path and self.done else None

    def landed_at(self, touch: Touch) -> datetime:
        return touch.landed.committer.time


def _out_of_order(trail: Trail, change: Change, landing: Landing, kind: str, doc: dict | None,
                  blobs: Blobs) -> list[Problem]:
    """Replay the release's lifecycle up to this landing, with this change in it: the change is out
    of order when the transition table refuses the step it makes. Packages count as ingested when
    the release was merged (their bytes are checked later, by reconcile)."""
    path = change.path
    key = release_key(path)
    files = _release_files(trail, key, path, doc, blobs)
    touch = Touch(change.authors[-1], landing.commit, "A", change.blob)
    view = _WithCandidate(trail, path, touch, kind == "report" and (doc or {}).get("status") == "done")
    certified, events = file_events(files, view)
    if certified is None:
        return []
    events.append(Event(Kind.INGEST, certified))
    run = replay_release(files, certified, events, landing.commit.committer.time, trail.config(blobs))
    return [p for p in run.refused if p.file == path]


def _release_files(trail: Trail, key: str, path: str, doc: dict | None, blobs: Blobs) -> ReleaseFiles:
    docs = {p: checked_doc(trail, p, blobs) for p in trail.releases.get(key, ())}
    docs[path] = doc
    built = {}
    for p, d in docs.items():
        kind = classify(p)
        if d is not None and kind in ("release", "verification", "report", "decision", "withdrawal"):
            built[p] = (kind, build_file(kind, p, d))
    one = {kind: value for kind, value in built.values() if kind != "report"}
    reports = tuple(value for _, (kind, value) in sorted(built.items()) if kind == "report" and value is not None)
    return ReleaseFiles(key, one.get("release"), one.get("verification"), reports, one.get("decision"),
                        one.get("withdrawal"))
