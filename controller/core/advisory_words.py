"""The words of an advisory as dnf reads them: its severity scale and the id of the security
group's advisory. Pure.

dnf filters security updates by Critical, Important, Moderate and Low (--sec-severity); any other
word shows as "Unknown/Sec." and matches no filter. Manifests written with the earlier scale
(critical, high, moderate, low) still load: they are read as dnf's words, and validate warns.
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.core.model import Release, World
from controller.errors import Problem

SEVERITIES = ("Critical", "Important", "Moderate", "Low")
OLD_WORDS = {"critical": "Critical", "high": "Important", "moderate": "Moderate", "low": "Low"}


def dnf_severity(word: str) -> str:
    """The dnf word for a severity, whichever scale the manifest used."""
    return OLD_WORDS.get(word, word)


def security_advisory_id(release: Release) -> str:
    """The security group's own id for its advisory: as given, else the last part of its URL."""
    security = release.security
    given = release.raw.get("security", {}).get("advisory_id")
    return given or security.advisory.rstrip("/").rsplit("/", 1)[-1]


def check_severity_words(world: World) -> Iterable[Problem]:
    """A warning, not an error: the release still publishes, with the word dnf knows."""
    for files in world.releases.values():
        r = files.release
        if r is not None and r.security is not None and r.security.severity in OLD_WORDS:
            new = OLD_WORDS[r.security.severity]
            yield Problem(r.path, f"severity {r.security.severity!r} is the old scale; dnf filters by "
                          f"{', '.join(SEVERITIES)}, and this release is published as {new!r}",
                          f"write severity: {new}", "/security/severity", rule="severity-words", level="warning")
