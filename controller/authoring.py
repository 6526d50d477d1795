"""The jobs behind the commands that write a federation's files for people: release new (a
release.yaml from the package files) and init (a new release repository). They wire the package
and file adapters to the pure drafts in controller/core; they print nothing and never exit.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controller import __version__, app
from controller.core.federation import Federation, codeowners_of, config_files, readme, workflow_text
from controller.core.release_draft import check_new_release, draft_release
from controller.core.schemacheck import blanks_in
from controller.core.yamlio import read_yaml
from controller.errors import BadInput
from controller.sources import git
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


def _shipped(package: str, checkout_dir: str, suffix: str) -> dict[str, bytes]:
    """Files the wheel ships as package data, or, running from a checkout, the same files in the
    tree (as schemacheck finds the schemas)."""
    try:
        folder = resources.files(package)
    except ModuleNotFoundError:
        folder = resources.files("controller").joinpath("..", checkout_dir)
    return {entry.name: entry.read_bytes() for entry in folder.iterdir() if entry.name.endswith(suffix)}


def tool_files(root: Path) -> dict[str, bytes]:
    """What rolloutctl owns in a federation repository: its schemas, its workflows (made for a
    repository that installs rolloutctl as a package) and CODEOWNERS from the files in ``root``."""
    schemas = _shipped("controller.schemas", "schemas", ".schema.json")
    files = {f"schemas/{name}": data for name, data in schemas.items()}
    workflows = {name: workflow_text(text, __version__) for name, text in workflows_shipped().items()}
    files.update({f".github/workflows/{name}": text.encode() for name, text in workflows.items()})
    config = {str(p.relative_to(root)): p.read_bytes() for folder in ("repos-config", "adopters")
              for p in sorted((root / folder).glob("*.yaml"))}
    files[".github/CODEOWNERS"] = codeowners_of(config).encode()
    return files


def workflows_shipped() -> dict[str, str]:
    return {name: data.decode() for name, data in _shipped("controller.workflows", ".github/workflows", ".yml").items()}


def init(target: Path, federation: Federation, update: bool = False) -> list[str]:
    """Write a new federation repository into ``target`` (empty or new), or with ``update`` bring
    the tool's files of an existing one up to date. Returns the paths written."""
    written = []
    if not update:
        try:
            ZoneInfo(federation.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadInput(f"time zone {federation.timezone!r} is not known",
                           "give an IANA name such as Europe/Amsterdam") from None
        if target.exists() and any(target.iterdir()):
            raise BadInput(f"{target} is not empty", "give a new directory, or pass --update to refresh the "
                           "schemas, workflows and CODEOWNERS of an existing federation repository")
        files = {path: text.encode() for path, text in config_files(federation).items()}
        files["README.md"] = readme(federation, workflows_shipped(), __version__).encode()
        _write_all(target, files, written)
    elif not (target / "repos-config").is_dir():
        raise BadInput(f"{target} has no repos-config/", "run rolloutctl init there first (without --update)")
    _write_all(target, tool_files(target), written)
    if not update:
        git.init_repository(str(target))
    return written


def _write_all(root: Path, files: dict[str, bytes], written: list[str]) -> None:
    for path, data in sorted(files.items()):
        file = root / path
        if file.is_file() and file.read_bytes() == data:
            continue
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)
        written.append(path)
