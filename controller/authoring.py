"""The jobs behind the commands that write a federation's files for people: release new (a
release.yaml from the package files) and init (a new release repository). They wire the package
and file adapters to the pure drafts in controller/core; they print nothing and never exit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from controller import app
from controller.core.release_draft import check_new_release, draft_release
from controller.core.schemacheck import blanks_in
from controller.core.yamlio import read_yaml
from controller.errors import BadInput
from controller.sources.fetch import FetchPolicy
from controller.sources.package_files import read_packages


@dataclass(frozen=True)
class Written:
    path: Path
    packages: int
    blanks: tuple[str, ...]  # JSON pointers still saying FILL-IN


def release_new(repo: str, rev: str, component: str, version: str, sources: list[str],
                output: Path | None = None, force: bool = False, policy: FetchPolicy | None = None) -> Written:
    """Write releases/COMPONENT/VERSION/release.yaml (or ``output``) from the packages at ``sources``."""
    world, _ = app.read_world(repo, rev)
    release_dir = Path(repo) / "releases" / component / version
    target = output or release_dir / "release.yaml"
    check_new_release(world, component, version)
    if target.exists() and not force:
        raise BadInput(f"{target} exists", "pass --force to write it again, or pick a new version")
    facts = read_packages(sources, release_dir, policy or FetchPolicy())
    text = draft_release(world, component, version, facts)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return Written(target, len(facts), tuple(blanks_in(read_yaml(text.encode()).data)))
