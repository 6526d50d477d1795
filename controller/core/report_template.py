"""A pre-filled early-adopter report (seed 3.6): the version and checksums to test filled in from
the release, the site's platform, and blanks marked for what only the site can say. Pure text.
"""

from __future__ import annotations

import json

from controller.core.model import World
from controller.errors import BadInput

_RPM_ARCHES = {"x86_64", "aarch64", "ppc64le", "s390x"}
_DEB_ARCHES = {"amd64", "arm64", "ppc64el"}


def report_template(world: World, release_key: str, site: str) -> str:
    files = world.releases.get(release_key)
    if files is None or files.release is None:
        known = ", ".join(sorted(k for k, f in world.releases.items() if f.release)) or "none"
        raise BadInput(f"no release {release_key!r}", f"known releases: {known}")
    adopter = world.adopters.get(site)
    if adopter is None:
        raise BadInput(f"site {site!r} is not a registered early adopter",
                       f"register it in adopters/{site}.yaml first; known: {', '.join(sorted(world.adopters))}")
    release = files.release
    platforms = {p for c in adopter.commitments for p in c.platforms}
    packages = [p for p in release.packages if p.platform in platforms] or list(release.packages)
    platform = packages[0].platform
    family = _RPM_ARCHES if packages[0].format == "rpm" else _DEB_ARCHES
    arches = sorted({a for c in adopter.commitments for a in c.architectures if a in family})
    q = json.dumps  # YAML accepts JSON strings, which quote anything safely
    lines = [
        "# yaml-language-server: $schema=../../../../schemas/report.schema.json",
        f"# Report of {site} on {release.component} {release.version}: commit it as",
        f"# releases/{release_key}/reports/{site}.yaml. Fill every FILL-IN, then run rolloutctl validate.",
        f"site: {q(site)}",
        "status: done",
        "result: FILL-IN  # success, warning or reject",
        "tested:",
        f"  version: {q(release.version)}",
        "  packages:  # the checksums of what you installed; these are the release's",
        *[f"    - {{name: {q(p.name)}, sha256: {p.sha256}}}" for p in packages],
        "environment:",
        "  hosts: [FILL-IN]  # the service nodes that ran it",
        f"  platform: {platform}",
        *([f"  arch: {arches[0]}"] if arches else []),
        "  load: FILL-IN  # e.g. production: 4 VOs, about 3000 jobs a day",
        "issues: []  # - {summary: ..., url: ..., workaround: ...}",
        "effort_hours: FILL-IN  # hours your site spent on this rollout",
        "comments: \"\"",
    ]
    return "\n".join(lines) + "\n"
