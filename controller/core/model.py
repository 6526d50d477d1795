"""The typed model: frozen values that everything past loading works on.

Nothing here reads files, the clock or git; loading.py builds these from a source snapshot, and
the raw YAML stays attached (``raw``) for pages and reports that show what authors wrote.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

# The top-level directories the model is read from: a commit that changes none of them changes
# nothing the model holds.
PREFIXES = ("releases/", "adopters/", "repos-config/")


class Category(enum.Enum):
    EMERGENCY = "emergency"
    REVISION = "revision"
    MINOR = "minor"
    MAJOR = "major"


class State(enum.Enum):
    CERTIFIED = "certified"
    UNVERIFIED = "unverified"
    INGEST_FAILED = "ingest-failed"
    VERIFIED = "verified"
    ROLLING_OUT = "rolling-out"
    DONE = "done"
    APPROVED = "approved"
    PRODUCTION = "production"
    REJECTED = "rejected"
    OBSOLETED = "obsoleted"
    WITHDRAWN = "withdrawn"


class Channel(enum.Enum):
    UNVERIFIED = "unverified"
    STAGED_ROLLOUT = "staged-rollout"
    PRODUCTION = "production"


class Role(enum.Enum):
    PROVIDER = "provider"
    TECHNOLOGY_UNIT = "technology-unit"
    SITE_ADMIN = "site-admin"
    MANAGER = "staged-rollout-managers"
    REPOSITORY_MANAGER = "repository-managers"
    SECURITY = "security"


# --- where a file came from -------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    time: datetime  # UTC


@dataclass(frozen=True)
class Commit:
    id: str
    author: Signature
    committer: Signature
    message: str
    signed_by: str | None = None  # primary key fingerprint of a verified signature

    @property
    def short(self) -> str:
        return self.id[:10]


@dataclass(frozen=True)
class Touch:
    """One commit's change to one path, and the first-parent commit through which it landed."""

    commit: Commit
    landed: Commit
    change: str  # "A" added, "M" modified, "D" deleted
    blob: str | None  # the new content's id; None when deleted


@dataclass(frozen=True)
class Change:
    """One path a landing changed, and the commits credited with its new content."""

    path: str
    kind: str  # "A" added, "M" modified, "D" deleted
    blob: str | None  # the new content's id; None when deleted
    authors: tuple[Commit, ...]


@dataclass(frozen=True)
class Landing:
    """A commit of the branch's first-parent history and what it brought to the branch."""

    commit: Commit
    index: int  # position on the first-parent chain, 0 for the root
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Snapshot:
    """A branch at one commit: the files that count and how each came to be.

    ``files`` and ``history`` hold what the history replay accepted: for a file whose latest
    change was not authorized, the version that counts, not the one at the branch head."""

    head: Commit
    files: dict[str, bytes]
    history: dict[str, tuple[Touch, ...]]  # accepted changes, oldest first
    blobs: dict[str, bytes] = field(default_factory=dict)  # earlier versions of tracked files
    reported: dict[str, Touch] = field(default_factory=dict)  # a report's first version with status done

    def touches(self, path: str) -> tuple[Touch, ...]:
        return self.history.get(path, ())


# --- what the files say ------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    name: str
    epoch: int
    version: str
    release: str | None
    arch: str
    platform: str
    sha256: str
    size: int
    url: str | None = None
    path: str | None = None  # relative to the release directory

    @property
    def format(self) -> str:
        return "deb" if self.filename.endswith(".deb") else "rpm"

    @property
    def filename(self) -> str:
        source = self.url if self.url is not None else self.path or ""
        return source.rstrip("/").rsplit("/", 1)[-1]

    @property
    def nevra(self) -> str:
        """name-epoch:version-release.arch for rpm, name_version_arch for deb."""
        if self.release is None:
            return f"{self.name}_{self.version}_{self.arch}"
        return f"{self.name}-{self.epoch}:{self.version}-{self.release}.{self.arch}"


@dataclass(frozen=True)
class Security:
    advisory: str
    severity: str
    cves: tuple[str, ...] = ()
    embargo_until: datetime | None = None


@dataclass(frozen=True)
class Release:
    component: str
    version: str
    category: Category
    stack: str
    distribution: str
    summary: str
    provider_name: str
    provider_contact: str
    provider_team: str | None
    packages: tuple[Package, ...]
    security: Security | None
    justification: str | None
    skip_staged_rollout: bool
    path: str
    raw: dict

    @property
    def key(self) -> str:
        return f"{self.component}/{self.version}"

    @property
    def directory(self) -> str:
        return self.path.rsplit("/", 1)[0]


@dataclass(frozen=True)
class Verification:
    result: str  # verified | rejected
    path: str
    raw: dict


@dataclass(frozen=True)
class Report:
    site: str
    status: str  # rolling-out | done
    result: str | None
    tested_version: str | None
    tested_checksums: dict[str, str]  # package name -> sha256
    effort_hours: float | None
    path: str
    raw: dict

    @property
    def file_site(self) -> str:
        return self.path.rsplit("/", 1)[-1].removesuffix(".yaml")


@dataclass(frozen=True)
class Decision:
    outcome: str  # success | warning | reject
    grace_working_days: float | None
    skip_staged_rollout: bool
    path: str
    raw: dict


@dataclass(frozen=True)
class Withdrawal:
    reason: str
    path: str
    raw: dict


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    emails: tuple[str, ...]
    github: str | None
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Commitment:
    components: tuple[str, ...]
    stacks: tuple[str, ...]
    platforms: tuple[str, ...]
    architectures: tuple[str, ...]
    since: str
    until: str | None


@dataclass(frozen=True)
class Adopter:
    site: str
    admins: tuple[Person, ...]
    commitments: tuple[Commitment, ...]
    path: str
    raw: dict

    def commits_to(self, component: str, stack: str) -> bool:
        return any(component in c.components or stack in c.stacks for c in self.commitments)


@dataclass(frozen=True)
class Repository:
    name: str
    distribution: str
    format: str
    platform: str
    architectures: tuple[str, ...]
    signing_key: str | None
    compression: tuple[str, ...]


@dataclass(frozen=True)
class Retention:
    """How long superseded publications stay readable (repos-config/repositories.yaml retention)."""

    generations: int = 3  # per channel, the newest kept whatever their age
    days: float = 2.0  # and every generation superseded less than this long ago
    archive: str | None = None  # withdrawn releases' packages are copied under this prefix before they go


@dataclass(frozen=True)
class Duration:
    hours: float  # working hours


@dataclass(frozen=True)
class CategoryTimeline:
    ingestion: Duration
    verification: Duration
    rollout: Duration
    min_interval_days: int


@dataclass(frozen=True)
class Calendar:
    timezone: str
    weekend: tuple[int, ...]  # weekday numbers, Monday = 0
    holidays: tuple[str, ...]  # ISO dates: the federation's own closing days
    day_start: str = "00:00"
    day_end: str = "24:00"
    country: str | None = None  # ISO 3166 code whose public holidays are days off too
    subdivision: str | None = None  # a state or province of that country, as the holidays package names it

    @property
    def day_hours(self) -> float:
        """How long a working day is: durations given in working days are this many hours each."""
        minutes = [int(t[:2]) * 60 + int(t[3:5]) for t in (self.day_start, self.day_end)]
        return max(minutes[1] - minutes[0], 1) / 60.0


@dataclass(frozen=True)
class Roles:
    """repos-config/roles.yaml: people, their teams, the provider teams and the trust settings."""

    people: dict[str, Person]
    teams: dict[str, tuple[str, ...]]
    providers: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]  # team -> (members, components)
    controller: Person | None = None
    require_signed_commits: bool = False
    signed_commits_from: str | None = None
    trust_anchor: str | None = None  # a full commit id, or "self": the commit that sets it
    trust_anchor_reason: str | None = None


@dataclass(frozen=True)
class Config:
    distribution_name: str
    components: dict[str, str]  # component -> stack
    baselines: dict[str, dict[str, int]]  # distribution major -> component -> major version
    major_platforms: dict[str, tuple[str, ...]]
    repositories: tuple[Repository, ...]
    timelines: dict[Category, CategoryTimeline]
    acceptance_window: Duration
    grace_period: Duration
    calendar: Calendar
    people: dict[str, Person]
    teams: dict[str, tuple[str, ...]]
    providers: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]  # team -> (members, components)
    require_signed_commits: bool
    controller: Person | None
    lists: dict[str, str]
    file_roots: tuple[str, ...] = ()  # local directories that file:// package URLs may name
    base_url: str | None = None  # where the published tree is served
    retiring_keys: tuple[str, ...] = ()  # published beside the signing key during a rollover
    github_teams: dict[str, str] = field(default_factory=dict)  # stack -> org/team to mention
    signed_commits_from: str | None = None  # ISO date-time or commit id from which signatures count
    trust_anchor: str | None = None  # commit whose tree is imported; later changes are checked
    retention: Retention = field(default_factory=Retention)

    @property
    def roles(self) -> Roles:
        return Roles(self.people, self.teams, self.providers, self.controller, self.require_signed_commits,
                     self.signed_commits_from, self.trust_anchor)


@dataclass(frozen=True)
class ReleaseFiles:
    """Everything under one releases/<component>/<version>/ directory."""

    key: str
    release: Release | None
    verification: Verification | None
    reports: tuple[Report, ...]
    decision: Decision | None
    withdrawal: Withdrawal | None


@dataclass(frozen=True)
class World:
    """The whole repository as the model sees it at one commit."""

    snapshot: Snapshot
    config: Config | None
    adopters: dict[str, Adopter]
    releases: dict[str, ReleaseFiles]  # "component/version" -> files
    lines: dict[str, dict[str, int]] = field(default_factory=dict)  # path -> JSON pointer -> line
    notes: tuple[str, ...] = ()  # said once, not findings: what was imported unchecked, and from where
