"""The jobs behind the commands: read git, build the model, assess. The one place that wires the
git adapter to the pure core; it prints nothing and never exits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controller.assess import Assessment, assess
from controller.errors import Problem
from controller.ingest import check_committed_packages
from controller.loading import PREFIXES, is_versioned_file, load_world
from controller.model import World
from controller.sources import git


@dataclass(frozen=True)
class Validation:
    problems: list[Problem]
    files_checked: int
    scope: str  # "repository" or "changes since <base>"


def read_world(repo_path: str, rev: str) -> tuple[World, list[Problem]]:
    repo = git.open_repository(repo_path)
    snapshot = git.read_snapshot(repo, rev, PREFIXES, keep_versions=is_versioned_file)
    return load_world(snapshot)


def status(repo_path: str, rev: str, now: datetime) -> Assessment:
    world, problems = read_world(repo_path, rev)
    return assess(world, now, check_committed_packages(world), problems=problems)


def validate(repo_path: str, rev: str, now: datetime, base: str | None = None) -> Validation:
    """Every finding in the repository, or, with ``base``, those about what a pull request changes."""
    world, problems = read_world(repo_path, rev)
    if base is None:
        result = assess(world, now, check_committed_packages(world), problems=problems)
        return Validation(_sorted(result.findings), len(world.snapshot.files), "repository")
    repo = git.open_repository(repo_path)
    changed, commits = git.changes_between(repo, base, rev)
    pending = frozenset(c.id for c in commits)
    result = assess(world, now, check_committed_packages(world), pending, problems)
    relevant = [p for p in result.findings if p.file in changed or _is_dir_of(p.file, changed)]
    return Validation(_sorted(relevant), len(changed), f"changes since {base}")


def _is_dir_of(path: str, changed: set[str]) -> bool:
    return path.endswith("/") and any(c.startswith(path) for c in changed)


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = {(p.file, p.line or 0, p.pointer, p.message): p for p in problems}
    return [unique[k] for k in sorted(unique)]
