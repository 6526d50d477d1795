"""From a source snapshot to the typed model, with every problem collected and located.

Each file is parsed safely, checked against its schema, then built into frozen values. A file with
problems is left out of the model (and its problems reported); nothing here stops at the first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from controller.core import schemacheck as schemas
from controller.core.model import PREFIXES as PREFIXES  # defined with the model, named here as before
from controller.core.model import (
    Adopter,
    Calendar,
    Category,
    CategoryTimeline,
    Commitment,
    Config,
    Decision,
    Duration,
    Package,
    Person,
    Release,
    ReleaseFiles,
    Report,
    Repository,
    Retention,
    Roles,
    Security,
    Snapshot,
    Verification,
    Withdrawal,
    World,
)
from controller.core.yamlio import Document, YamlError, read_yaml
from controller.errors import Problem

KEYS_DIR = "repos-config/keys/"
CONFIG_FILES = ("distribution", "repositories", "timelines", "calendar", "roles")
OPTIONAL_CONFIG_FILES = ("freezes", "snapshots")  # read where they are used, not part of Config
RELEASE_FILES = ("release", "verification", "decision", "withdrawal")
_RELEASE_PATH = re.compile(r"^releases/([^/]+)/([^/]+)/(?:(release|verification|decision|withdrawal)\.yaml"
                           r"|reports/([^/]+)\.yaml|packages/[^/]+)$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Parsed:
    path: str
    kind: str
    doc: Document


def classify(path: str) -> str | None:
    """The schema kind of a path, "package" for a binary in a release, None if unrecognized."""
    if path.startswith("repos-config/"):
        name = path.removeprefix("repos-config/")
        if name.endswith(".yaml") and name[:-5] in CONFIG_FILES + OPTIONAL_CONFIG_FILES:
            return name[:-5]
        if name.startswith(("keys/", "templates/")) or name.endswith(".md"):
            return "extra"
        return None
    if path.startswith("adopters/"):
        name = path.removeprefix("adopters/")
        if "/" not in name and name.endswith(".yaml"):
            return "adopter"
        return "extra" if name.endswith(".md") else None
    match = _RELEASE_PATH.match(path)
    if match:
        return match.group(3) or ("report" if match.group(4) else "package")
    return "extra" if path.endswith(".md") else None


def parse_file(path: str, raw: bytes, kind: str, validate: bool = True,
               memo: dict | None = None) -> tuple[Parsed | None, list[Problem]]:
    """Parse and check one file. ``memo`` maps a content key to an earlier result for the same
    bytes (a cache the caller may keep between runs); new results are added to it."""
    key = f"{kind}:{hashlib.sha1(raw).hexdigest()}" if memo is not None else None
    if key is not None and key in memo:
        data, lines, found = memo[key]
        problems = [Problem(path, *p) for p in found] if validate else []
        return (None if problems else Parsed(path, kind, Document(data, lines))), problems
    if not validate:  # what is known of unchecked content is kept only with its check
        key = None
    try:
        doc = read_yaml(raw)
    except YamlError as exc:
        return None, [Problem(path, exc.message, exc.hint, "", exc.line, "yaml")]
    problems = schemas.check(kind, doc, path) if validate else []
    if key is not None:
        memo[key] = (doc.data, doc.lines, [(p.message, p.hint, p.pointer, p.line, p.rule) for p in problems])
    return (None if problems else Parsed(path, kind, doc)), problems


def load_world(snapshot: Snapshot, checked: Callable[[str], bool] | None = None,
               components: set[str] | None = None, memo: dict | None = None) -> tuple[World, list[Problem]]:
    """Build the model from the snapshot, collecting every problem.

    For a pull request, ``checked`` names the files to check against their schemas (the others
    were checked when they merged and are only context), and ``components`` the components whose
    release directories are loaded whole; of the others only release.yaml is read.
    """
    problems: list[Problem] = []
    parsed: dict[str, Parsed] = {}
    for path in sorted(snapshot.files):
        kind = classify(path)
        if kind is None:
            if checked is None or checked(path):
                problems.append(Problem(path, "file not recognized here", _layout_hint(path), rule="layout"))
            continue
        if kind in ("extra", "package"):
            continue
        if components is not None and kind != "release" and path.startswith("releases/") \
                and path.split("/")[1] not in components:
            continue
        validate = checked is None or checked(path) or not path.startswith("releases/")
        result, found = parse_file(path, snapshot.files[path], kind, validate, memo)
        problems += found
        if result is not None:
            parsed[path] = result
    config, found = _build_config(parsed, snapshot)
    problems += found
    adopters = {}
    for path, item in parsed.items():
        if item.kind == "adopter":
            adopters[_stem(path)] = _adopter(path, item.doc.data)
    releases = _group_releases(parsed, snapshot)
    lines = {path: item.doc.lines for path, item in parsed.items()}
    return World(snapshot, config, adopters, releases, lines), problems


def locate(problems: list[Problem], world: World) -> list[Problem]:
    """Give rule findings the line of their pointer, as the parser recorded it."""
    located = []
    for p in problems:
        table = world.lines.get(p.file)
        if p.line is None and table:
            pointer = p.pointer
            while pointer not in table and pointer:
                pointer = pointer.rsplit("/", 1)[0]
            p = replace(p, line=table.get(pointer))
        located.append(p)
    return located


def _layout_hint(path: str) -> str:
    return ("releases/<component>/<version>/ holds release.yaml, verification.yaml, decision.yaml, "
            "withdrawal.yaml, reports/<site>.yaml and packages/; adopters/<site>.yaml; repos-config/ holds "
            + ", ".join(f"{n}.yaml" for n in CONFIG_FILES + OPTIONAL_CONFIG_FILES) + "; move or rename the file")


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".yaml")


def _release_key(path: str) -> str:
    parts = path.split("/")
    return f"{parts[1]}/{parts[2]}"


# --- building values ---------------------------------------------------------------------------


def parse_instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _package(data: dict) -> Package:
    return Package(data["name"], data.get("epoch", 0), data["version"], data.get("release"), data["arch"],
                   data["platform"], data["sha256"], data["size"], data.get("url"), data.get("path"))


def _release(path: str, d: dict) -> Release:
    sec = d.get("security")
    security = None
    if sec:
        embargo = parse_instant(sec["embargo_until"]) if sec.get("embargo_until") else None
        security = Security(sec["advisory"], sec["severity"], tuple(sec.get("cves", ())), embargo)
    emergency = d.get("emergency") or {}
    return Release(
        d["component"], d["version"], Category(d["category"]), d["stack"], str(d["distribution"]),
        d["summary"], d["provider"]["name"], d["provider"]["contact"], d["provider"].get("team"),
        tuple(_package(p) for p in d["packages"]), security, emergency.get("justification"),
        bool(emergency.get("skip_staged_rollout", False)), path, d)


def build_report(path: str, d: dict) -> Report:
    tested = d.get("tested") or {}
    checksums = {p["name"]: p["sha256"] for p in tested.get("packages", ())}
    return Report(d["site"], d["status"], d.get("result"), tested.get("version"), checksums,
                  d.get("effort_hours"), path, d)


def _person(key: str, d: dict) -> Person:
    emails = (d["email"],) + tuple(d.get("emails", ()))
    return Person(key, d["name"], tuple(e.lower() for e in emails), d.get("github"), tuple(d.get("keys", ())))


def _adopter(path: str, d: dict) -> Adopter:
    admins = tuple(_person(a["email"], a) for a in d["administrators"])
    commitments = tuple(
        Commitment(tuple(c.get("components", ())), tuple(c.get("stacks", ())), tuple(c["platforms"]),
                   tuple(c["architectures"]), c["since"], c.get("until"))
        for c in d["commitments"])
    return Adopter(d["site"], admins, commitments, path, d)


def _tolerant(build: Callable, path: str, data: dict):
    """Build a value from a file that was not schema-checked in this run; None if it is broken.
    (Checked files always build: the schemas guarantee what the builders read.)"""
    try:
        return build(path, data)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _decision(path: str, d: dict) -> Decision:
    grace = (d.get("grace_period") or {}).get("working_days")
    return Decision(d["outcome"], grace, bool(d.get("skip_staged_rollout", False)), path, d)


_BUILDERS: dict[str, Callable] = {
    "release": lambda path, d: _release(path, d),
    "verification": lambda path, d: Verification(d["result"], path, d),
    "decision": lambda path, d: _decision(path, d),
    "withdrawal": lambda path, d: Withdrawal(d["reason"], path, d),
}


def _group_releases(parsed: dict[str, Parsed], snapshot: Snapshot) -> dict[str, ReleaseFiles]:
    keys = sorted({_release_key(p) for p in snapshot.files if p.startswith("releases/") and _RELEASE_PATH.match(p)})
    reports_of: dict[str, list[Report]] = {}
    for path, item in sorted(parsed.items()):
        if item.kind == "report":
            report = _tolerant(build_report, path, item.doc.data)
            if report is not None:
                reports_of.setdefault(_release_key(path), []).append(report)
    result = {}
    for key in keys:
        base = f"releases/{key}/"
        built = {}
        for name, build in _BUILDERS.items():
            item = parsed.get(f"{base}{name}.yaml")
            built[name] = _tolerant(build, item.path, item.doc.data) if item else None
        result[key] = ReleaseFiles(key, built["release"], built["verification"], tuple(reports_of.get(key, ())),
                                   built["decision"], built["withdrawal"])
    return result


def build_file(kind: str, path: str, data: dict):
    """The model value of one checked release file (release, verification, report, decision,
    withdrawal) or adopter registration; None if it cannot be built."""
    build = {**_BUILDERS, "report": build_report, "adopter": _adopter}[kind]
    return _tolerant(build, path, data)


def build_roles(roles: dict) -> Roles:
    signing = roles.get("require_signed_commits", False)
    anchor = roles.get("trust_anchor") or {}
    return Roles(
        people={key: _person(key, p) for key, p in roles["people"].items()},
        teams={name: tuple(members) for name, members in roles["teams"].items()},
        providers={name: (tuple(p["members"]), tuple(p["components"])) for name, p in roles["providers"].items()},
        controller=_person("controller", roles["controller"]) if roles.get("controller") else None,
        require_signed_commits=bool(signing),
        signed_commits_from=roles.get("signed_commits_from"),
        trust_anchor=anchor.get("commit"),
        trust_anchor_reason=anchor.get("reason"))


def _build_config(parsed: dict[str, Parsed], snapshot: Snapshot) -> tuple[Config | None, list[Problem]]:
    docs = {}
    problems = []
    for name in CONFIG_FILES:
        path = f"repos-config/{name}.yaml"
        if path in parsed:
            docs[name] = parsed[path].doc.data
        elif path not in snapshot.files:
            problems.append(Problem(path, "missing configuration file", f"create it; see schemas/{name}.schema.json",
                                    rule="layout"))
    if len(docs) != len(CONFIG_FILES):
        return None, problems
    config = config_from_docs(docs)
    return config, problems + _config_references(config)


def config_from_docs(docs: dict[str, dict]) -> Config:
    """The configuration from the checked documents of repos-config, by name (see CONFIG_FILES)."""
    dist, repos, times, cal, roles = (docs[n] for n in CONFIG_FILES)
    hours = cal.get("working_hours") or {"start": "00:00", "end": "24:00"}
    calendar = Calendar(cal["timezone"], tuple(_WEEKDAYS.index(d) for d in cal.get("weekend", ["sat", "sun"])),
                        tuple(h["date"] for h in cal.get("holidays", ())), hours["start"], hours["end"],
                        cal.get("country"), cal.get("subdivision"))
    day_hours = calendar.day_hours
    timelines = {}
    for cat in Category:
        c = times["categories"][cat.value]
        timelines[cat] = CategoryTimeline(_scaled(c["ingestion"], day_hours), _scaled(c["verification"], day_hours),
                                          _scaled(c["rollout"], day_hours), c.get("min_interval_days", 0))
    who = build_roles(roles)
    config = Config(
        distribution_name=dist["name"],
        components={name: c["stack"] for name, c in dist["components"].items()},
        baselines={m["name"]: dict(m["baselines"]) for m in dist["majors"]},
        major_platforms={m["name"]: tuple(m["platforms"]) for m in dist["majors"]},
        repositories=tuple(
            Repository(r["name"], str(r["distribution"]), r["format"], r["platform"], tuple(r["architectures"]),
                       r.get("signing_key", repos.get("signing_key")),
                       tuple(r.get("compression", ["gz"] if r["format"] == "yum" else ["gz", "xz"])))
            for r in repos["repositories"]),
        timelines=timelines,
        acceptance_window=_scaled(times["acceptance_window"], day_hours),
        grace_period=_scaled(times["grace_period"], day_hours),
        calendar=calendar,
        people=who.people, teams=who.teams, providers=who.providers,
        require_signed_commits=who.require_signed_commits,
        controller=who.controller,
        lists=dict(roles.get("lists", {})),
        file_roots=tuple(repos.get("file_roots", ())),
        base_url=repos.get("base_url"),
        retiring_keys=tuple(repos.get("retiring_keys", ())),
        github_teams=dict(roles.get("github_teams", {})),
        signed_commits_from=who.signed_commits_from,
        trust_anchor=who.trust_anchor,
        retention=_retention(repos.get("retention") or {}),
    )
    return config


def _retention(section: dict) -> Retention:
    kept = Retention()
    return Retention(section.get("generations", kept.generations), float(section.get("days", kept.days)),
                     section.get("withdrawn_archive", "").strip("/") or None)


def _scaled(d: dict, day_hours: float) -> Duration:
    """Durations are kept in working hours; a working day is as long as the calendar's day."""
    return Duration(d["working_hours"]) if "working_hours" in d else Duration(d["working_days"] * day_hours)


def _config_references(config: Config) -> list[Problem]:
    """Cross-file references inside repos-config: every member named must be a known person."""
    problems = []
    roles = "repos-config/roles.yaml"
    for team, members in list(config.teams.items()) + [(n, m) for n, (m, _) in config.providers.items()]:
        for member in members:
            if member not in config.people:
                problems.append(Problem(roles, f"team {team} names {member!r}, who is not under people",
                                        "add the person under people or fix the spelling", rule="config-references"))
    for name, (_, components) in config.providers.items():
        for component in components:
            if component not in config.components:
                problems.append(Problem(roles, f"provider team {name} owns {component!r}, which "
                                        "repos-config/distribution.yaml does not list",
                                        "add the component to distribution.yaml", rule="config-references"))
    for repo in config.repositories:
        if repo.distribution not in config.baselines:
            problems.append(Problem("repos-config/repositories.yaml",
                                    f"repository {repo.name} serves distribution {repo.distribution!r}, "
                                    "which distribution.yaml does not define",
                                    "use a name from majors in distribution.yaml", rule="config-references"))
    return problems
