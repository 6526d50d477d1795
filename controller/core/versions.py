"""Version ordering as rpm orders it (rpmvercmp), which also orders the Debian versions we carry.

Used to tell which of two releases of a component is newer (obsoleting) and to read the major
version for the distribution baseline rule.
"""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"~|\^|[0-9]+|[A-Za-z]+")


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as a sorts before, with or after b."""
    if a == b:
        return 0
    left, right = _SEGMENT.findall(a), _SEGMENT.findall(b)
    for x, y in zip(left, right, strict=False):
        if x != y:
            if "~" in (x, y):  # a tilde sorts before anything, even the end
                return -1 if x == "~" else 1
            if "^" in (x, y):
                return 1 if x == "^" else -1
            if x.isdigit() != y.isdigit():
                return 1 if x.isdigit() else -1
            if x.isdigit():
                x, y = int(x), int(y)
            return -1 if x < y else 1
    if len(left) == len(right):
        return 0
    longer, sign = (left, 1) if len(left) > len(right) else (right, -1)
    nxt = longer[min(len(left), len(right))]
    return -sign if nxt == "~" else sign


def major_of(version: str) -> int | None:
    match = re.match(r"[0-9]+", version)
    return int(match.group()) if match else None
