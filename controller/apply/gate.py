"""The installability check step: for each release the plan names, whether its packages install
into the Staged Rollout channel as it would be with them. For a yum repository, a repository of the
release's packages is built with the channels' own writer in a temporary directory and dnf's
repoclosure resolves it against Staged Rollout and Production as served at the public URL; for an
apt repository, apt-get simulates installing the release's .deb files from those two suites. Per
repository and architecture. Each result goes to the private state area (installability.json),
which the core reads as it reads ingestion outcomes. Deciding what a result means is the core's
(core/installability.py).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from controller.core.desired import Entry, RepoContent, serves
from controller.core.installability import (
    FAILED,
    PASSED,
    UNCHECKED,
    Installability,
    Missing,
    Result,
    basis,
    due,
    from_record,
)
from controller.core.installability import to_record as record_of
from controller.core.model import Channel, Package, Release, Repository, State, World
from controller.core.plan import CheckInstallability
from controller.core.public import is_embargoed
from controller.errors import ToolFailed
from controller.publish import generations
from controller.publish.local import LocalTarget

if TYPE_CHECKING:  # status and validate read the recorded results: they load none of the checking
    from controller.publish.pool import Pool, PoolReader
    from controller.publish.signing import Signer
    from controller.reconcile import Options, Planned

RECORD = "installability.json"
MODES = ("auto", "off")
_ANY_ARCH = ("noarch", "all")
_DEFAULT_ARCH = {"yum": "x86_64", "apt": "amd64"}
AGAINST = (Channel.STAGED_ROLLOUT, Channel.PRODUCTION)  # the channels a release must install into


@dataclass(frozen=True)
class Settings:
    mode: str = "off"  # auto: with the clients installed here; off: every check recorded as not run
    check_dates: bool = True  # apt's date checks; off when replaying another day


def served(target) -> tuple[str, str]:
    """What Staged Rollout and Production serve, as far as a check depends on it: their package
    files ("" for a channel not published yet, which serves nothing either)."""
    found = []
    for channel in AGAINST:
        published = generations.read_published(target, channel)
        files = sorted((repo, sorted(names)) for repo, names in published.files.items()) if published else []
        found.append(json.dumps(files) if any(names for _, names in files) else "")
    return found[0], found[1]


def due_checks(world: World, assessment, gate: Installability | None, target, settings: Settings,
               now: datetime) -> tuple[CheckInstallability, ...]:
    """The checks due against what the target serves now: none while the check is off and has
    never run on this target."""
    if gate is None and settings.mode == "off":
        return ()
    # Only a release waiting for verification can be due: the others' bases are never compared
    # (each holds every package of both channels: computing them all costs seconds).
    waiting = [key for key, status in assessment.statuses.items() if status.state == State.UNVERIFIED]
    channels = served(target) if waiting else ("", "")
    bases = {key: basis(world.releases[key].release, *channels) for key in waiting
             if world.releases[key].release is not None}
    return tuple(CheckInstallability(key, bases[key], is_embargoed(world.releases[key].release, now))
                 for key in due(assessment.statuses, world.releases, gate, bases))


def read_gate(store) -> Installability | None:
    raw = store.read(RECORD)
    if raw is None:
        return None
    try:
        return from_record(json.loads(raw))
    except ValueError:
        return None  # damaged: started again, verifications from now on are checked


def write_gate(store, gate: Installability) -> None:
    text = (json.dumps(record_of(gate), indent=2, sort_keys=True) + "\n").encode()
    if store.read(RECORD) != text:
        store.write(RECORD, text)


def record_results(store, gate: Installability | None, results: dict[str, Result], now: datetime) -> Installability:
    current = gate or Installability(now)
    updated = replace(current, results={**current.results, **results})
    write_gate(store, updated)
    return updated


def check_planned(planned: Planned, options: Options, pools: tuple[Pool, Pool], signer: Callable[[], Signer]) -> int:
    """Run the plan's checks and record their results; how many did not pass as the plan assumed
    (then the rest of the run is planned again)."""
    world = planned.world
    held = set(pools[0].contents()) | set(pools[1].contents())
    # A channel never published yet provides nothing: there is no configuration of it to read.
    published = {c for c in AGAINST if generations.read_published(planned.target, c) is not None}
    results = {}
    for check in planned.plan.checks:
        release = world.releases[check.release].release
        if not all(p.sha256 in held for p in release.packages):
            continue  # its fetch failed: checked once it is in
        options.progress(f"checking that {'an embargoed release' if check.private else check.release} installs")
        results[check.release] = check_release(world, check.release, pools, signer, planned.base_url,
                                               options.state / "cache", options.installability, check.basis,
                                               options.now, published)
    if results:
        record_results(planned.store, read_gate(planned.store), results, options.now)
    return sum(1 for r in results.values() if r.verdict != PASSED)


class _Release:
    """One release's packages as local files, and the reader the channel writer needs."""

    def __init__(self, release: Release, pools: tuple[Pool, Pool]):
        self.files: dict[str, str] = {}  # package sha256 -> a local file
        self.entries: dict[str, Entry] = {}  # package sha256 -> its entry as the pool holds it
        self.reader: PoolReader | None = None
        for package in release.packages:
            for pool in pools:
                copies = pool.signed_copies()
                held = copies.get(package.sha256, (package.sha256, package.size))
                if held[0] in pool.contents() or package.sha256 in copies:
                    self.reader = pool.reader()
                    self.files[package.sha256] = self.reader(held[0], package.filename)
                    self.entries[package.sha256] = Entry(release.key, held[0], held[1], package.filename, package.name,
                                                         package.epoch, package.version, package.release, package.arch)
                    break


def check_release(world: World, key: str, pools: tuple[Pool, Pool], signer: Callable[[], Signer], base_url: str,
                  cache: Path, settings: Settings, basis: str, now: datetime,
                  published: set[Channel] = frozenset(AGAINST)) -> Result:
    release = world.releases[key].release
    if settings.mode == "off":
        return Result(basis, now, UNCHECKED, note="the check is off on the controller (--installability=off)")
    local = _Release(release, pools)
    missing, checked = [], []
    with tempfile.TemporaryDirectory(prefix="rolloutctl-installability-") as work:
        try:
            for repo in world.config.repositories:
                packages = [p for p in release.packages if serves(repo, release, p)]
                if not packages:
                    continue
                found = _check_repository(repo, packages, local, signer, base_url, cache, settings,
                                           Path(work) / repo.name, now, published)
                if isinstance(found, str):  # checked again once the channels or the packages change
                    return Result(basis, now, UNCHECKED, note=found)
                missing += found
                checked += [f"{repo.name} {arch}" for arch in _arches(repo)]
        except ToolFailed as exc:
            return Result(basis, now, UNCHECKED, note=exc.message.splitlines()[0][:300])
    return Result(basis, now, FAILED if missing else PASSED, tuple(missing), checked=tuple(checked))


def _arches(repo: Repository) -> list[str]:
    return [a for a in repo.architectures if a not in _ANY_ARCH] or [_DEFAULT_ARCH[repo.format]]


def _check_repository(repo: Repository, packages: list[Package], local: _Release, signer: Callable[[], Signer],
                      base_url: str,
                      cache: Path, settings: Settings, work: Path, now: datetime,
                      published: set[Channel]) -> list[Missing] | str:
    """What the repository's packages lack, per architecture; a string when it cannot be known
    here (a client missing, the channels not reachable)."""
    tool = "dnf" if repo.format == "yum" else "apt"
    from controller.sources import clients

    if not clients.installed()[tool]:
        return f"{tool} is not installed on the controller's machine"
    if repo.format == "yum" and not clients.has_repoclosure():
        return "dnf's repoclosure is not installed on the controller's machine (Debian: dnf-plugins-core)"
    suffix = "repo" if repo.format == "yum" else "sources"
    configs = {}
    try:
        for channel in (c for c in AGAINST if c in published):
            url = f"{base_url.rstrip('/')}/{channel.value}/{repo.name}.{suffix}"
            config, why = clients.read_config(url, work / "downloads")
            if config is None:
                return f"the {channel.value} channel's configuration is not served: {why}"
            configs[channel.value] = config
    except clients.Unreachable as exc:
        return f"the channels at {base_url} did not answer from this machine ({exc})"
    missing = []
    if repo.format == "yum":
        folder = _release_repository(repo, packages, local, signer(), cache, work, now)
        for arch in _arches(repo):
            found = clients.repoclosure(configs, {f"release-{repo.name}": folder}, arch, work / f"dnf-{arch}")
            missing += [Missing(repo.name, arch, u.package, u.missing) for u in found]
    else:
        debs = work / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        for package in packages:
            (debs / package.filename).symlink_to(local.files[package.sha256])
        for arch in _arches(repo):
            found = clients.apt_simulate(configs, sorted(debs.iterdir()), arch, work / f"apt-{arch}",
                                         settings.check_dates)
            missing += [Missing(repo.name, arch, u.package, u.missing) for u in found]
    return missing


def _release_repository(repo: Repository, packages: list[Package], local: _Release, signer: Signer, cache: Path,
                        work: Path, now: datetime) -> Path:
    """The release's rpms as a yum repository of their own, made by the channels' writer; the
    directory that holds its repodata/."""
    from controller.publish import yum  # createrepo_c: only when a check runs

    entries = tuple(sorted((local.entries[p.sha256] for p in packages), key=lambda e: e.filename))
    publication = yum.build_repository("release", RepoContent(repo, entries, ()), local.reader,
                                       yum.BlockCache(cache), signer, int(now.timestamp()), "file:///")
    folder = work / "repository"
    target = LocalTarget(folder)
    target.write_once(publication.once)
    repomd = next(key for key in publication.once if key.endswith("repodata/repomd.xml"))
    return folder / repomd.removesuffix("/repodata/repomd.xml")
