"""The jobs behind the commands: read git, build the model, assess. The one place that wires the
git adapter to the pure core; it prints nothing and never exits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from controller.core.assess import Assessment, Ingest, assess
from controller.core.ingest import check_committed_packages, ingest_outcomes
from controller.core.loading import KEYS_DIR, PREFIXES, is_versioned_file, load_world, locate, with_signers
from controller.core.metrics import compute_metrics
from controller.core.model import World
from controller.core.timeline import landing
from controller.errors import Problem
from controller.publish.pool import held_packages
from controller.sources import git, gpg


@dataclass(frozen=True)
class Validation:
    problems: list[Problem]
    files_checked: int
    scope: str  # "repository" or "changes since <base>"


def read_world(repo_path: str, rev: str, memo: dict | None = None) -> tuple[World, list[Problem]]:
    """The model at ``rev``. ``memo`` holds earlier parse results by content (see loading)."""
    repo = git.open_repository(repo_path)
    snapshot = git.read_snapshot(repo, rev, PREFIXES, keep_versions=is_versioned_file)
    return _with_signers(repo, *load_world(snapshot, memo=memo), memo=memo)


def head_commit(repo_path: str, rev: str) -> str:
    return str(git.resolve(git.open_repository(repo_path), rev).id)


def _with_signers(repo, world: World, problems: list[Problem], **load_options) -> tuple[World, list[Problem]]:
    """Where roles.yaml demands signed commits, verify the signatures of every commit that
    touched a file (gpg is slow per call, so only then) and load again with the signers known."""
    if world.config is None or not world.config.require_signed_commits:
        return world, problems
    snapshot = world.snapshot
    ids = {t.commit.id for touches in snapshot.history.values() for t in touches}
    keys = [data for path, data in sorted(snapshot.files.items()) if path.startswith(KEYS_DIR)]
    signers = gpg.verify_signatures(git.commit_signatures(repo, ids), keys)
    return load_world(with_signers(snapshot, signers), **load_options)


def _read_pull_request(repo_path: str, rev: str, changed: set[str]) -> tuple[World, list[Problem]]:
    """The world as far as a pull request needs it: its files checked, its components' history
    read, the rest as context. Configuration or adopter changes affect every release: read all."""
    components = {p.split("/")[1] for p in changed if p.startswith("releases/") and p.count("/") >= 2}
    if any(p.startswith(("repos-config/", "adopters/")) for p in changed):
        components = None
    repo = git.open_repository(repo_path)
    history = None if components is None else \
        tuple(f"releases/{c}/" for c in sorted(components)) + ("adopters/", "repos-config/")
    snapshot = git.read_snapshot(repo, rev, PREFIXES, keep_versions=is_versioned_file, history_prefixes=history)
    if components is None:
        return _with_signers(repo, *load_world(snapshot))
    options = {"checked": lambda path: path in changed, "components": components}
    return _with_signers(repo, *load_world(snapshot, **options), **options)


def status(repo_path: str, rev: str, now: datetime, publish: Path | None = None,
           failures: dict[str, dict] | None = None) -> Assessment:
    """Where every release stands. With a publish directory, ingestion is read from its pool;
    without, only packages committed in the repository can be checked."""
    world, problems = read_world(repo_path, rev)
    if publish is not None:
        ingest = ingest_outcomes(world, held_packages(publish).__contains__, failures or {})
    else:
        ingest = check_committed_packages(world)
    return assess(world, now, ingest, problems=problems)


def validate(repo_path: str, rev: str, now: datetime, base: str | None = None) -> Validation:
    """Every finding in the repository, or, with ``base``, those about what a pull request changes."""
    if base is None:
        world, problems = read_world(repo_path, rev)
        result = assess(world, now, _assume_fetched(world), problems=problems)
        return Validation(_sorted(locate(result.findings, world)), len(world.snapshot.files), "repository")
    changed, commits = git.changes_between(git.open_repository(repo_path), base, rev)
    world, problems = _read_pull_request(repo_path, rev, changed)
    pending = frozenset(c.id for c in commits)
    result = assess(world, now, _assume_fetched(world), pending, problems)
    relevant = [p for p in result.findings if p.file in changed or _is_dir_of(p.file, changed)]
    return Validation(_sorted(locate(relevant, world)), len(changed), f"changes since {base}")


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
