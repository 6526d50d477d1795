"""The fetch step: bring each planned package into the pool, checked (size, sha256, and the
header naming what the manifest says), and record the releases whose ingestion failed.
"""

from __future__ import annotations

from dataclasses import replace

from controller.core.ingest import check_bytes, identity_problem
from controller.core.model import World
from controller.core.plan import Fetch
from controller.errors import ControllerError
from controller.publish import debfile, yum
from controller.publish.pool import Pool
from controller.sources.fetch import FetchPolicy, fetch


def fetch_one(world: World, item: Fetch, pool: Pool, policy: FetchPolicy) -> str:
    """Bring one package into the pool; '' on success, else the reason."""
    package = item.package
    release = world.releases[item.release].release
    staged = pool.partial(package.sha256)
    if package.path is not None:
        data = world.snapshot.files.get(f"{release.directory}/{package.path}")
        if data is None:
            return f"{package.path}: not in the repository"
        reason = check_bytes(package, data)
        if reason:
            return reason
        staged.write_bytes(data)
    else:
        try:
            digest = fetch(package.url, staged, package.size, policy)
        except ControllerError as exc:
            return f"{package.filename}: {exc.message}"
        if digest != package.sha256:
            staged.unlink()
            return f"{package.filename}: sha256 is {digest}, the manifest says {package.sha256}"
    # Right bytes, but are they the package the manifest names? The metadata will say what the
    # header says, so a mismatch would publish something other than what was verified.
    try:
        found = (yum.rpm_identity(str(staged)) if package.format == "rpm"
                 else debfile.deb_identity(staged.read_bytes(), package.filename))
    except (ControllerError, ValueError, OSError) as exc:
        found, reason = None, f"{package.filename}: not a readable {package.format} package ({exc})"
    else:
        reason = identity_problem(package, found)
    if reason:
        staged.unlink()
        return reason
    pool.admit(staged, package.sha256, package.filename)
    return ""


def ingest(world: World, fetches: tuple[Fetch, ...], pool: Pool, failures: dict, policy: FetchPolicy, now: str,
           progress) -> tuple[list[str], dict[str, str]]:
    """Fetch what is missing, release by release; update ``failures`` (retried next run).
    Returns (filenames fetched, release -> reason for those that failed now)."""
    fetched, failed = [], {}
    by_release: dict[str, list[Fetch]] = {}
    for item in fetches:
        by_release.setdefault(item.release, []).append(item)
    # file:// sources are allowed only inside the roots the repository managers configured.
    policy = replace(policy, file_roots=world.config.file_roots)
    for key, items in by_release.items():
        reasons = []
        for item in items:
            progress(item.describe())
            reason = fetch_one(world, item, pool, policy)
            if reason:
                reasons.append(reason)
            else:
                fetched.append(item.package.filename)
        if reasons:
            failures[key] = {"reason": "; ".join(reasons), "at": now}
            failed[key] = failures[key]["reason"]
        else:
            failures.pop(key, None)
    if fetched:
        pool.sync()  # admitted without a sync each: one for all, before anything names them
    return fetched, failed
