"""What each channel must hold: assessment in, per-channel content out. Pure.

A release's packages go to the channel of its state (Unverified, Staged Rollout, Production), in
every repository of its distribution that serves the package's platform and architecture. Each
release also gets one advisory (updateinfo) with a stable id. An embargoed release goes instead
to the private channel, until its date.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from controller.core.advisory_words import dnf_severity, security_advisory_id
from controller.core.assess import Assessment
from controller.core.model import Category, Channel, Package, Release, Repository, World
from controller.core.public import PrivateChannel, is_embargoed

_ANY_ARCH = {"noarch", "all"}


@dataclass(frozen=True)
class Entry:
    release: str
    sha256: str
    size: int
    filename: str
    name: str
    epoch: int
    version: str
    rel: str | None
    arch: str


@dataclass(frozen=True)
class Advisory:
    id: str
    release: str
    type: str  # security | bugfix | enhancement
    severity: str | None  # dnf's word, for security advisories only
    title: str
    description: str
    issued: str  # ISO 8601
    references: tuple[tuple[str, str, str], ...]  # (url, id, type)
    packages: tuple[str, ...]  # filenames in this repository
    status: str = "stable"  # testing before Production


@dataclass(frozen=True)
class RepoContent:
    repository: Repository
    entries: tuple[Entry, ...]
    advisories: tuple[Advisory, ...]


@dataclass(frozen=True)
class ChannelContent:
    channel: Channel | PrivateChannel
    repos: tuple[RepoContent, ...]

    @cached_property
    def digest(self) -> str:
        """Changes exactly when what clients would see changes; the plan compares it."""
        digest = hashlib.sha256()
        for repo in self.repos:
            digest.update(repr(repo.repository).encode())
            for entry in repo.entries:
                digest.update(repr(astuple_fast(entry)).encode())
            for advisory in repo.advisories:
                digest.update(repr(astuple_fast(advisory)).encode())
        return digest.hexdigest()


def astuple_fast(value) -> tuple:
    """The fields of a flat dataclass (dataclasses.astuple deep-copies, which is slow here)."""
    return tuple(getattr(value, f) for f in value.__dataclass_fields__)


def serves(repo: Repository, release: Release, package: Package) -> bool:
    return (repo.distribution == release.distribution and repo.platform == package.platform
            and (package.arch in repo.architectures or package.arch in _ANY_ARCH))


def advisory_id(distribution_name: str, release: Release) -> str:
    return f"{distribution_name}{release.distribution}-{release.component}-{release.version}"


def _advisory(world: World, release: Release, issued: datetime, filenames: tuple[str, ...],
              channel: Channel) -> Advisory:
    """dnf's view of a release: the severity words --sec-severity filters by (none unless it is a
    security release), testing until Production, and references whose ids are the real ones."""
    raw = release.raw
    name = world.config.distribution_name if world.config else "dist"
    ident = advisory_id(name, release)
    if release.security is not None:
        kind, severity = "security", dnf_severity(release.security.severity)
    else:
        kind = "enhancement" if release.category in (Category.MINOR, Category.MAJOR) else "bugfix"
        severity = None
    refs = [(raw["release_notes"], ident, "self")]
    if release.security is not None:
        refs.append((release.security.advisory, security_advisory_id(release), "vendor"))
        refs += [(f"https://www.cve.org/CVERecord?id={cve}", cve, "cve") for cve in release.security.cves]
    refs += [(i["url"], i["id"], "bugzilla") for i in raw.get("issues", ())]
    status = "stable" if channel == Channel.PRODUCTION else "testing"
    return Advisory(ident, release.key, kind, severity, release.summary, raw["changelog"], issued.isoformat(),
                    tuple(refs), filenames, status)


def compute_desired(world: World, assessment: Assessment, now: datetime) -> dict[Channel, ChannelContent]:
    """The public channels: every release in the channel of its state, but an embargoed one, which
    stays out until its date."""
    return _contents(world, assessment, list(Channel),
                     lambda release, channel: None if is_embargoed(release, now) else channel)


def compute_private(world: World, assessment: Assessment, now: datetime) -> dict[PrivateChannel, ChannelContent]:
    """The private channel: every embargoed release that its state puts in a channel, whichever
    (its advisory says testing or stable as that channel would), until its date."""
    return _contents(world, assessment, [PrivateChannel.EMBARGOED],
                     lambda release, channel: PrivateChannel.EMBARGOED if is_embargoed(release, now) else None)


def _contents(world: World, assessment: Assessment, channels: list, place) -> dict:
    """Each channel's content; ``place(release, channel of its state)`` says in which of
    ``channels`` a release goes, None for none."""
    config = world.config
    holding: dict = {c: {} for c in channels}
    if config is not None:
        for key, status in sorted(assessment.statuses.items()):
            release = world.releases[key].release
            if status.channel is None or release is None:
                continue
            state_channel = Channel(status.channel)
            channel = place(release, state_channel)
            if channel is None:
                continue
            certified = status.history[0][0].at if status.history else status.since
            for repo in config.repositories:
                entries = tuple(
                    Entry(key, p.sha256, p.size, p.filename, p.name, p.epoch, p.version, p.release, p.arch)
                    for p in release.packages if serves(repo, release, p))
                if entries:
                    bucket = holding[channel].setdefault(repo.name, [[], []])
                    bucket[0].extend(entries)
                    bucket[1].append(_advisory(world, release, certified, tuple(e.filename for e in entries),
                                               state_channel))
    result = {}
    for channel in channels:
        repos = []
        for repo in config.repositories if config else ():
            entries, advisories = holding[channel].get(repo.name, [[], []])
            repos.append(RepoContent(repo, tuple(sorted(entries, key=lambda e: e.filename)),
                                     tuple(sorted(advisories, key=lambda a: a.id))))
        result[channel] = ChannelContent(channel, tuple(repos))
    return result
