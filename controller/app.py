"""The jobs behind the commands: read git, build the model, assess. The one place that wires the
git adapter to the pure core; it prints nothing and never exits.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

from controller.core import history, public
from controller.core.admission import release_key
from controller.core.assess import Assessment, Ingest, assess
from controller.core.ingest import check_bytes, check_committed_packages, identity_problem, ingest_outcomes
from controller.core.installability import Installability
from controller.core.loading import PREFIXES, load_world, locate
from controller.core.metrics import compute_metrics
from controller.core.model import Commit, Landing, World
from controller.core.snapshots import read_snapshots
from controller.core.timeline import landing
from controller.errors import ControllerError, Problem
from controller.publish.pool import held_packages
from controller.sources import git, gpg, kept


@dataclass(frozen=True)
class Validation:
    problems: list[Problem]
    files_checked: int
    scope: str  # "repository" or "changes since <base>"
    notes: list[str] = field(default_factory=list)  # said once, not findings (what was imported unchecked)


def read_world(repo_path: str, rev: str, memo: dict | None = None) -> tuple[World, list[Problem]]:
    """The model at ``rev``: the files that count after replaying the history (see core/history),
    and every problem, including the changes the replay did not count. ``memo`` holds earlier
    parse results by content (see loading); without one, the run uses the one kept in the repository."""
    repo = git.open_repository(repo_path)
    head = git.resolve(repo, rev)
    blobs = _blobs(repo, memo)
    trail, _ = _replay(repo, head, blobs)
    result = _world(trail, blobs, git.commit_of(repo, rev))
    _keep_memo(repo, blobs, memo)
    return result


def head_commit(repo_path: str, rev: str) -> str:
    return str(git.resolve(git.open_repository(repo_path), rev).id)


def _verifier(repo) -> history.Verify:
    def verify(commits, keys, at):
        return gpg.verify_signatures(git.commit_signatures(repo, [c.id for c in commits]), keys, at)
    return verify


def _blobs(repo, memo: dict | None) -> history.Blobs:
    """File contents and parse results: the caller's ``memo``, else the one kept in the repository."""
    blobs = history.Blobs(git.blob_reader(repo), memo if memo is not None else kept.load_memo(git.kept_dir(repo)))
    blobs.known = len(blobs.memo)
    return blobs


def _keep_memo(repo, blobs: history.Blobs, memo: dict | None) -> None:
    if memo is None:
        kept.save_memo(git.kept_dir(repo), blobs.memo, blobs.known)


def _replay(repo, head, blobs: history.Blobs, scope: history.Scope | None = None,
            pending: Landing | None = None) -> tuple[history.Trail, history.Chain]:
    """The replay through ``head``, resumed from the newest state kept on its first-parent history
    (see sources/kept), and kept again when it moved on. With nothing kept (a fresh clone) and a
    ``scope``, only the scope's paths are replayed (see history.Scope: of the other releases'
    manifests, only those that may claim a package of the ``pending`` changes), and that partial
    state is not kept."""
    folder = git.kept_dir(repo)
    chain = git.Chain(repo, head, PREFIXES, since=kept.commits(folder))
    trail = kept.load_trail(folder, chain.start) if chain.start else None
    if trail is None and scope is not None:
        whole = git.Chain(repo, head, PREFIXES, scope=scope)
        if scope.manifests and pending is not None:
            manifests = {c.path: c.blob for c in pending.changes if c.path.endswith("/release.yaml")}
            scope = replace(scope, drop=history.unclaiming(whole, scope, manifests, blobs))
        narrowed = history.Narrowed(whole, scope)
        trail = history.replay(narrowed, blobs, _verifier(repo), whole=lambda: history.Narrowed(
            git.Chain(repo, head, PREFIXES, scope=scope), scope))
        if trail.through is not None:  # everything was imported up to there, in the scope or not
            trail.imported = git.count_files(repo, trail.through.id, PREFIXES)
        return trail, narrowed
    if chain.start is not None and trail is None:  # unreadable after all: from the root
        chain = git.Chain(repo, head, PREFIXES)
    trail = history.replay(chain, blobs, _verifier(repo), trail, whole=lambda: git.Chain(repo, head, PREFIXES))
    if len(chain):
        kept.save_trail(folder, str(head.id), trail)
    return trail, chain


def _world(trail: history.Trail, blobs: history.Blobs, head: Commit, **load_options) -> tuple[World, list[Problem]]:
    snapshot = history.accepted_snapshot(trail, head, blobs)
    world, problems = load_world(snapshot, memo=blobs.memo, **load_options)
    return replace(world, notes=history.notes(trail)), problems + history.ignored_changes(trail)


def _read_pull_request(repo_path: str, base: str,
                       rev: str) -> tuple[World, list[Problem], set[str], frozenset[str], set[str] | None]:
    """The world as it would be with the pull request merged into ``base``: base's history
    replayed, then the pull request's changes judged as one landing. Only its files are checked
    against their schemas; configuration or adopter changes affect every release, so then every
    release is read whole, else only the components it touches (returned; None: all of them)."""
    repo = git.open_repository(repo_path)
    base_commit = git.resolve(repo, base)
    blobs = _blobs(repo, None)
    landing = git.pull_request_landing(repo, base, rev, PREFIXES)
    changed = {c.path for c in landing.changes}
    components = {p.split("/")[1] for p in changed if p.startswith("releases/") and p.count("/") >= 2}
    configures = any(p.startswith(("repos-config/", "adopters/")) for p in changed)
    scope = None if configures else history.Scope(frozenset(components),
                                                  manifests=any(p.endswith("/release.yaml") for p in changed))
    trail, chain = _replay(repo, base_commit, blobs, scope, landing)
    if trail.through is None:
        history.import_landing(trail, landing, blobs)
    else:
        moved = history.check_landing(trail, landing, blobs, _verifier(repo), chain)
        if moved is not None:  # the pull request moves the trust anchor: judge it from there
            whole = git.Chain(repo, base_commit, PREFIXES)
            trail = history.replay(whole, blobs, _verifier(repo), history.Trail(anchor=moved, anchor_moves=1))
            if trail.through is None:  # the anchor is the pull request itself
                history.import_landing(trail, landing, blobs)
            else:
                history.check_landing(trail, landing, blobs, _verifier(repo), whole)
    if scope is not None:
        trail = history.without_unclaiming(trail, scope, sorted(p for p in changed if p.endswith("/release.yaml")),
                                           blobs)
    pending = frozenset(c.id for c in git.pull_request_commits(repo, base, rev)) | {landing.commit.id}
    options: dict = {"checked": lambda path: path in changed}
    if not configures:
        options["components"] = components
    world, problems = _world(trail, blobs, landing.commit, **options)
    _keep_memo(repo, blobs, None)
    return world, problems, changed, pending, options.get("components")


def status(repo_path: str, rev: str, now: datetime, publish: Path | None = None,
           failures: dict[str, dict] | None = None, private: Path | str | None = None,
           withhold: bool = False, gate: Installability | None = None) -> Assessment:
    """Where every release stands. With a publish directory, ingestion is read from its pool (and
    the ``private`` area's, which holds embargoed packages); without, only packages committed in the
    repository can be checked. ``withhold``: embargoed releases counted, not shown. ``gate``: the
    installability results recorded by reconcile."""
    world, problems = read_world(repo_path, rev)
    if publish is not None:
        ingest = ingest_outcomes(world, held_packages(publish, private).__contains__, failures or {})
    else:
        ingest = check_committed_packages(world)
    result = assess(world, now, ingest, problems=problems, gate=gate)
    return public.withhold(world, result, now) if withhold else result


def validate(repo_path: str, rev: str, now: datetime, base: str | None = None,
             gate: Installability | None = None) -> Validation:
    """Every finding in the repository, or, with ``base``, those about what a pull request changes.
    ``gate``: the installability results reconcile recorded, to judge verifications by."""
    if base is None:
        world, problems = read_world(repo_path, rev)
        result = assess(world, now, _assume_fetched(world), problems=problems, gate=gate)
        findings = result.findings + _package_file_problems(world, world.releases) + read_snapshots(world)[1]
        return Validation(_sorted(locate(findings, world)), len(world.snapshot.files), "repository",
                          list(world.notes))
    world, problems, changed, pending, components = _read_pull_request(repo_path, base, rev)
    result = assess(world, now, _assume_fetched(world), pending, problems, gate=gate, components=components)
    touched = {key for key in map(release_key, changed) if key}
    findings = result.findings + _package_file_problems(world, touched) + read_snapshots(world)[1]
    relevant = [p for p in findings if p.file in changed or _is_dir_of(p.file, changed)]
    return Validation(_sorted(locate(relevant, world)), len(changed), f"changes since {base}", list(world.notes))


def _package_file_problems(world: World, keys) -> list[Problem]:
    """Committed package files checked as ingestion will check them (size, sha256, and that the rpm
    header or deb control names what the manifest says), so that a pull request fails, not reconcile."""
    problems = []
    for key in sorted(keys):
        release = world.releases[key].release if key in world.releases else None
        for i, package in enumerate(release.packages if release else ()):
            data = world.snapshot.files.get(f"{release.directory}/{package.path}") if package.path else None
            if data is None:
                continue  # a URL, or a missing file (package-source says so)
            reason = check_bytes(package, data) or _identity_problem(package, data)
            if reason:
                problems.append(Problem(release.path, reason, "commit the package file the manifest describes, or "
                                        "correct its size, sha256 and package fields", f"/packages/{i}",
                                        rule="package-file"))
    return problems


def _identity_problem(package, data: bytes) -> str:
    from controller.publish import debfile, yum  # the package readers, only when there are packages

    try:
        if package.format == "deb":
            found = debfile.deb_identity(data, package.filename)
        else:
            with tempfile.NamedTemporaryFile(prefix="rolloutctl-", suffix=".rpm") as staged:
                staged.write(data)
                staged.flush()
                found = yum.rpm_identity(staged.name)
    except (ControllerError, ValueError, OSError) as exc:
        return f"{package.filename}: not a readable {package.format} package ({exc})"
    return identity_problem(package, found)


def metrics(repo_path: str, rev: str, now: datetime, since: date | None, until: date | None) -> dict:
    """The seed's metrics from the git history alone (packages taken as fetched when merged)."""
    world, problems = read_world(repo_path, rev)
    return compute_metrics(world, assess(world, now, _assume_fetched(world), problems=problems), since, until, now)


def _assume_fetched(world: World) -> dict[str, Ingest]:
    """Validation judges the files: packages it cannot see (URLs) are taken as fetched when the
    release was merged, so that the order of the later files is judged as reconcile would."""
    outcomes = check_committed_packages(world)
    for key, files in world.releases.items():
        if key not in outcomes and files.release is not None:
            touch = landing(world.snapshot, files.release.path)
            if touch is not None:
                outcomes[key] = Ingest(True, touch.landed.committer.time)
    return outcomes


def _is_dir_of(path: str, changed: set[str]) -> bool:
    return path.endswith("/") and any(c.startswith(path) for c in changed)


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = {(p.file, p.line or 0, p.pointer, p.message): p for p in problems}
    return [unique[k] for k in sorted(unique)]
