"""The draft of a new release.yaml (rolloutctl release new): every package field read from the
packages themselves, the category guessed from the previous release and the version change, what
rarely changes carried over from the previous release, and FILL-IN only where a person must write.
Pure: package facts and the model in, YAML text out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from controller.core.model import Category, Release, World
from controller.core.schemacheck import FILL_IN
from controller.core.versions import compare_versions, major_of
from controller.errors import BadInput

_RPM_PLATFORM = re.compile(r"\.(el[0-9]+|fc[0-9]+|sle[0-9]+)(?:[._]|$)")
_CADENCE = {Category.REVISION: "bug fixes only", Category.MINOR: "new backwards-compatible function",
            Category.MAJOR: "may break compatibility; only in a new distribution major release"}


@dataclass(frozen=True)
class PackageFacts:
    """What a package file says about itself, and where the manifest will find it."""

    name: str
    epoch: int
    version: str  # for a deb, the Debian version without its epoch (upstream-revision)
    release: str | None  # rpm only
    arch: str
    format: str  # rpm | deb
    size: int
    sha256: str
    url: str | None = None
    path: str | None = None  # relative to the release directory


def previous_release(world: World, component: str, version: str) -> Release | None:
    """The newest release of the component older than ``version``."""
    older = [f.release for f in world.releases.values()
             if f.release and f.release.component == component and compare_versions(f.release.version, version) < 0]
    best = None
    for release in older:
        if best is None or compare_versions(release.version, best.version) > 0:
            best = release
    return best


def guess_category(previous: str | None, version: str) -> tuple[Category, str]:
    """The category the version change suggests, and why."""
    if previous is None:
        return Category.MINOR, "the first release of the component here: minor unless it breaks compatibility"
    old, new = (re.findall(r"[0-9]+", v) + ["0", "0"] for v in (previous, version))
    if old[0] != new[0]:
        category = Category.MAJOR
    elif old[1] != new[1]:
        category = Category.MINOR
    else:
        category = Category.REVISION
    return category, f"{previous} -> {version}: {_CADENCE[category]}"


def _platform(world: World, distribution: str | None, facts: PackageFacts) -> tuple[str, str]:
    """The platform of a package and a comment: from the rpm's release tag (el9), else the only
    platform of the distribution that takes this format; FILL-IN when it cannot be told."""
    config = world.config
    platforms = [r.platform for r in config.repositories if r.distribution == distribution
                 and (r.format == "yum") == (facts.format == "rpm")] if config else []
    platforms = list(dict.fromkeys(platforms))
    match = _RPM_PLATFORM.search(facts.release or "")
    if match and match.group(1) in platforms:
        return match.group(1), ""
    if len(platforms) == 1:
        return platforms[0], ""
    return FILL_IN, f"  # one of: {', '.join(platforms)}" if platforms else "  # the platform it is built for"


def _distribution(world: World, component: str, version: str) -> str | None:
    """The newest distribution major whose baseline is this version's major."""
    config = world.config
    found = [name for name, baselines in config.baselines.items() if baselines.get(component) == major_of(version)]
    return found[-1] if found else None


def check_new_release(world: World, component: str, version: str) -> None:
    """Refuse, before any package is fetched, a release that could not be drafted."""
    config = world.config
    if config is None:
        raise BadInput("repos-config is missing or broken", "run rolloutctl validate and fix repos-config first")
    if component not in config.components:
        raise BadInput(f"component {component!r} is not in repos-config/distribution.yaml",
                       "ask the repository managers to add it; known: " + ", ".join(sorted(config.components)))
    key = f"{component}/{version}"
    if key in world.releases and world.releases[key].release is not None:
        raise BadInput(f"releases/{key}/release.yaml exists already",
                       "a merged manifest never changes: give the corrected release a new version")


def draft_release(world: World, component: str, version: str, packages: list[PackageFacts]) -> str:
    check_new_release(world, component, version)
    config = world.config
    if not packages:
        raise BadInput("no packages given", "pass --package FILE or --package URL once for each package")
    previous = previous_release(world, component, version)
    category, why = guess_category(previous.version if previous else None, version)
    distribution = _distribution(world, component, version)
    q = json.dumps  # JSON strings are YAML strings, quoted safely
    lines = [
        "# yaml-language-server: $schema=../../../schemas/release.schema.json",
        f"# Written by rolloutctl release new. Replace every {FILL_IN} (validate refuses any left), then",
        "# commit this file with its packages/ in a pull request.",
        f"component: {q(component)}",
        f"version: {q(version)}",
        f"category: {category.value}  # guessed, {why}; emergency for an urgent (security) fix",
        f"stack: {q(config.components[component])}",
        f"distribution: {q(distribution) if distribution else FILL_IN}  # the distribution major release"
        + ("" if distribution else f"; one of: {', '.join(config.baselines)}"),
        f"summary: {FILL_IN}  # one line for the feed and the pages",
    ]
    if previous is not None:
        lines.append(f"provider: {{name: {q(previous.provider_name)}, contact: {q(previous.provider_contact)}}}")
    else:
        lines.append(f"provider: {{name: {FILL_IN}, contact: {FILL_IN}}}  # your team and its address")
    lines += [
        f"release_notes: {FILL_IN}  # the URL of the release notes",
        f"changelog: {FILL_IN}  # what changed, or a link to it",
        "certification:  # the reports of the agreed QA tests",
        f"  - {{title: {FILL_IN}, url: {FILL_IN}}}",
        "documentation:",
    ]
    docs = previous.raw.get("documentation", []) if previous else []
    lines += [f"  - {q(link)}" for link in docs] or [f"  - {{title: {FILL_IN}, url: {FILL_IN}}}"]
    lines += ["# issues:  # the bugs and features it contains",
              "#   - {id: GGUS-123456, kind: bug, url: \"https://...\", title: ...}",
              "# security:  # for a vulnerability fix; severity in dnf's words: Critical, Important, Moderate, Low",
              "#   {advisory: \"https://...\", severity: Important, cves: [CVE-2026-12345]}",
              "# emergency:  # with category: emergency",
              "#   {justification: why it cannot wait for a revision, skip_staged_rollout: false}",
              "packages:"]
    for facts in packages:
        platform, note = _platform(world, distribution, facts)
        lines.append(f"  - name: {q(facts.name)}")
        if facts.epoch:
            lines.append(f"    epoch: {facts.epoch}")
        lines.append(f"    version: {q(facts.version)}")
        if facts.release is not None:
            lines.append(f"    release: {q(facts.release)}")
        lines += [f"    arch: {q(facts.arch)}", f"    platform: {platform}{note}"]
        lines.append(f"    url: {q(facts.url)}" if facts.url else f"    path: {q(facts.path)}")
        lines += [f"    sha256: {facts.sha256}", f"    size: {facts.size}"]
    return "\n".join(lines) + "\n"
