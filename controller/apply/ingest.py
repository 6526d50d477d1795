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
from controller.publish.parallel import in_parallel
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


def _staged(world: World, item: Fetch, pool: Pool, downloaded: dict[str, str]) -> str:
    """Bring a committed package's bytes into staging, or check that a URL package's download
    is there ('' when it is, else the reason). A URL package's bytes are those ``download`` left in
    staging (``downloaded``: its outcome by sha256)."""
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
    return ""


def _header(job: tuple[str, str, str]) -> tuple[tuple | None, list | None, str]:
    """(what the header says, a .deb's control fields, '') or (None, None, why it cannot be read):
    one package, in a worker."""
    kind, path, filename = job
    try:
        if kind == "rpm":
            return yum.rpm_identity(path), None, ""
        fields = debfile.control_fields_at(Path(path), filename)
        return debfile.identity(fields), fields, ""
    except (ControllerError, ValueError, OSError) as exc:
        return None, None, f"{filename}: not a readable {kind} package ({exc})"


def check_all(world: World, items: list[Fetch], pool: Pool | Callable[[Fetch], Pool],
              downloaded: dict[str, str]) -> list[str]:
    """Check each package's bytes in staging; for each, '' when they may enter the pool, else the
    reason. The headers are read on every core."""
    pool_of = pool if callable(pool) else (lambda item: pool)
    reasons = [_staged(world, item, pool_of(item), downloaded) for item in items]
    ready = [i for i, reason in enumerate(reasons) if not reason]
    jobs = [(items[i].package.format, str(pool_of(items[i]).partial(items[i].package.sha256)),
             items[i].package.filename) for i in ready]
    for i, job, (found, fields, reason) in zip(ready, jobs, in_parallel(_header, jobs), strict=True):
        # Right bytes, but are they the package the manifest names? The metadata will say what
        # the header says, so a mismatch would publish something other than what was verified.
        if found is not None:
            reason = identity_problem(items[i].package, found)
        if reason:
            Path(job[1]).unlink(missing_ok=True)
        elif fields is not None:  # the Packages stanza is made from these: the file is not read again
            debfile.remember(items[i].package.sha256, fields)
        reasons[i] = reason
    return reasons


def sign_all(pool: Pool, items: list[Fetch], outcome: dict[int, str],
             sign: Callable[[list[Path]], dict[str, str]]) -> None:
    """Sign the checked rpms bound for ``pool`` all at once, in place (these bytes are ours now,
    checked against the manifest); one rpm refuses after signing gives its release the reason, as
    a failed check does, and the others go on."""
    rpms = {str(pool.partial(item.package.sha256)): item for item in items
            if not outcome[id(item)] and item.package.format == "rpm"}
    if not rpms:
        return
    refused = sign([Path(path) for path in rpms])
    for item in items:
        staged = str(pool.partial(item.package.sha256))
        why = refused.get(staged)
        if why and not outcome[id(item)]:  # this machine's staging path says nothing to a provider
            why = why.replace(f"{staged}: ", "").replace(staged, item.package.filename)
            outcome[id(item)] = f"{item.package.filename}: {why}: ask its provider for a new build"
            pool.partial(item.package.sha256).unlink(missing_ok=True)


def admit_all(pool: Pool, packages: list[Package], signed: bool) -> None:
    """Admit checked packages from staging. ``signed``: each rpm is admitted as the copy signed
    with the repository's key (the provider's sha256 stays its name in the manifest, in reports
    and in the pool's record)."""
    for package in packages:
        if signed and package.format == "rpm":
            pool.admit_signed(pool.partial(package.sha256), package.sha256, package.filename)
        else:
            pool.admit(pool.partial(package.sha256), package.sha256, package.filename)


def ingest(world: World, fetches: tuple[Fetch, ...], pool: Pool, private: Pool, failures: dict, policy: FetchPolicy,
           now: str, progress: Progress, downloaded: dict[str, str] | None = None,
           sign: Callable[[list[Path]], dict[str, str]] | None = None) -> tuple[list[str], dict[str, str]]:
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
    ordered = [item for items in by_release.values() for item in items]
    outcome = dict(zip(map(id, ordered), check_all(world, ordered, lambda item: private if item.private else pool,
                                                    downloaded), strict=True))
    if sign is not None:
        sign_all(pool, [item for item in ordered if not item.private], outcome, sign)
    for key, items in by_release.items():
        reasons = []
        for item in items:
            reason = outcome[id(item)]
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
    admit_all(pool, list(admitted[False].values()), sign is not None)
    admit_all(private, list(admitted[True].values()), False)
    if fetched:
        pool.sync()  # admitted without a sync each: one for all, before anything names them
        private.sync()
    return fetched, failed
