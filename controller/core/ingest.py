"""Checking package bytes against their manifest: size first (cheap), then sha256.

Pure over bytes already in hand. Packages committed inside the repository are checked from the
snapshot; fetching remote ones into the pool belongs to the publishing side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from controller.core.assess import Ingest
from controller.core.model import Package, World
from controller.core.timeline import landed_at, landing


def check_bytes(package: Package, data: bytes) -> str:
    """"" when the bytes are the package, else what differs."""
    if len(data) != package.size:
        return f"{package.filename}: size is {len(data)} bytes, the manifest says {package.size}"
    digest = hashlib.sha256(data).hexdigest()
    if digest != package.sha256:
        return f"{package.filename}: sha256 is {digest}, the manifest says {package.sha256}"
    return ""


def identity_problem(package: Package, found: tuple) -> str:
    """'' when the header names the package the manifest describes, else what differs."""
    if package.release is None:  # deb: (name, version, arch), the epoch inside the version
        version = f"{package.epoch}:{package.version}" if package.epoch else package.version
        wanted: tuple = (package.name, version, package.arch)
    else:
        wanted = (package.name, package.epoch, package.version, package.release, package.arch)
    if tuple(found) == wanted:
        return ""
    return (f"{package.filename}: its header says {' '.join(map(str, found))}, the manifest says "
            f"{' '.join(map(str, wanted))}")


def check_committed_packages(world: World) -> dict[str, Ingest]:
    """Outcomes for releases whose packages are all committed in the repository."""
    outcomes = {}
    for key, files in world.releases.items():
        release = files.release
        if release is None or any(p.path is None for p in release.packages):
            continue
        touch = landing(world.snapshot, release.path)
        if touch is None:
            continue
        at = landed_at(world.snapshot, touch, frozenset())
        reasons = []
        for package in release.packages:
            data = world.snapshot.files.get(f"{release.directory}/{package.path}")
            reasons.append(f"{package.path}: not in the repository" if data is None else check_bytes(package, data))
        failed = [r for r in reasons if r]
        outcomes[key] = Ingest(not failed, at, "; ".join(failed))
    return outcomes


def ingest_outcomes(world: World, in_pool: Callable[[str], bool], failures: dict[str, dict]) -> dict[str, Ingest]:
    """A release is ingested when all its packages are in the pool (which admits only checked
    bytes). It is dated by its release.yaml's merge, so that replaying any commit gives the same
    states whatever day the bytes were fetched; a recorded failure dates itself."""
    outcomes = {}
    for key, files in world.releases.items():
        release = files.release
        touch = landing(world.snapshot, release.path) if release else None
        if touch is None:
            continue
        if all(in_pool(p.sha256) for p in release.packages):
            outcomes[key] = Ingest(True, touch.landed.committer.time)
        elif key in failures:
            outcomes[key] = Ingest(False, datetime.fromisoformat(failures[key]["at"]), failures[key]["reason"])
    return outcomes
