"""The fetch step: bring each planned package into the pool, checked (size, sha256, and the
header naming what the manifest says), and record the releases whose ingestion failed.

Downloading and admitting are apart: ``download`` brings the bytes of URL packages into this
machine's staging area, a few at a time and each within its deadline, and needs no lock (reconcile
runs it before taking the publish lock, so a slow provider holds back no other run); ``ingest``
then checks and admits them, under the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from controller.core.ingest import check_bytes, identity_problem
from controller.core.model import Package, World
from controller.core.plan import Fetch
from controller.errors import ControllerError
from controller.progress import Progress
from controller.publish import debfile, yum
from controller.publish.pool import Pool
from controller.sources.fetch import Download, FetchPolicy, fetch_many


def download(world: World, fetches: tuple[Fetch, ...], pool: Pool, policy: FetchPolicy,
             progress: Progress) -> dict[str, str]:
    """Download the packages that come from a URL into staging; sha256 -> '' when their bytes are
    there and match, else the reason. Touches neither the pool nor the published tree."""
    items = list({f.package.sha256: f for f in fetches if f.package.url is not None}.values())
    if not items:
        return {}
    # file:// sources are allowed only inside the roots the repository managers configured.
    policy = replace(policy, file_roots=world.config.file_roots)
    progress.start_fetch(len(items), sum(f.package.size for f in items))
    results = fetch_many([Download(f.package.url, pool.partial(f.package.sha256), f.package.size) for f in items],
                         policy, progress.advance, progress.package_done)
    reasons = {}
    for item, result in zip(items, results, strict=True):
        package = item.package
        if isinstance(result, ControllerError):
            reasons[package.sha256] = f"{package.filename}: {result.message}"
        elif result != package.sha256:
            pool.partial(package.sha256).unlink(missing_ok=True)
            reasons[package.sha256] = f"{package.filename}: sha256 is {result}, the manifest says {package.sha256}"
        else:
            reasons[package.sha256] = ""
    return reasons


def check_one(world: World, item: Fetch, pool: Pool, downloaded: dict[str, str]) -> str:
    """Check one package's bytes in staging; '' when they may enter the pool, else the reason. A
    URL package's bytes are those ``download`` left in staging (``downloaded``: its outcome by
    sha256)."""
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
    elif downloaded.get(package.sha256):
        return downloaded[package.sha256]
    elif not staged.is_file() or staged.stat().st_size != package.size:
        return f"{package.filename}: its download is gone from {staged}"
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


def admit_all(pool: Pool, packages: list[Package], sign: Callable[[list[Path]], None] | None) -> None:
    """Admit checked packages from staging. With ``sign``, an rpm is admitted as the copy signed
    with the repository's key (the provider's sha256 stays its name in the manifest, in reports
    and in the pool's record); the rpms are signed all at once, in place: these bytes are ours
    now, checked against the manifest."""
    rpms = [p for p in packages if p.format == "rpm"] if sign is not None else []
    if rpms:
        sign([pool.partial(p.sha256) for p in rpms])
    for package in packages:
        if sign is not None and package.format == "rpm":
            pool.admit_signed(pool.partial(package.sha256), package.sha256, package.filename)
        else:
            pool.admit(pool.partial(package.sha256), package.sha256, package.filename)


def ingest(world: World, fetches: tuple[Fetch, ...], pool: Pool, private: Pool, failures: dict, policy: FetchPolicy,
           now: str, progress: Progress, downloaded: dict[str, str] | None = None,
           sign: Callable[[list[Path]], None] | None = None) -> tuple[list[str], dict[str, str]]:
    """Fetch what is missing, release by release; update ``failures`` (retried next run). An
    embargoed release's packages go to the ``private`` pool (outside the served tree), as the
    provider shipped them: they are signed when a channel first serves them.
    ``downloaded``: what an earlier ``download`` of this run got (not tried again); ``sign``
    signs rpm files in place.
    Returns (filenames fetched, release -> reason for those that failed now)."""
    fetched, failed = [], {}
    downloaded = dict(downloaded or {})
    downloaded.update(download(world, tuple(f for f in fetches if f.package.sha256 not in downloaded), pool, policy,
                               progress))
    by_release: dict[str, list[Fetch]] = {}
    for item in fetches:
        by_release.setdefault(item.release, []).append(item)
    progress("checking and admitting the packages")
    admitted: dict[bool, dict[str, Package]] = {False: {}, True: {}}
    for key, items in by_release.items():
        reasons = []
        for item in items:
            reason = check_one(world, item, private if item.private else pool, downloaded)
            if reason:
                reasons.append(reason)
            else:
                admitted[item.private][item.package.sha256] = item.package
                fetched.append(item.package.filename)
        if reasons:
            failures[key] = {"reason": "; ".join(reasons), "at": now}
            failed[key] = failures[key]["reason"]
        else:
            failures.pop(key, None)
    admit_all(pool, list(admitted[False].values()), sign)
    admit_all(private, list(admitted[True].values()), None)
    if fetched:
        pool.sync()  # admitted without a sync each: one for all, before anything names them
        private.sync()
    return fetched, failed
