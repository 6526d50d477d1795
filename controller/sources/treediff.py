"""The files that differ between two git trees, found in time proportional to what changed.

libgit2's tree diff walks every file under both trees even where a subtree is the same object on
both sides, and listing a directory costs as much as its entries: either way each commit of a
long history would pay for every release of the component it touches. Here trees are read as raw
objects; subtrees with the same id are skipped, and between two versions of one directory only
the bytes that differ are parsed (the entries before and after them are found by comparing the
raw objects and by the entry offsets kept from the tree the same walk saw last). Plain bytes in,
paths out: the caller supplies the object reader (see git.py).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable

_ENTRY = re.compile(rb"([0-7]+) ([^\0]*)\0(.{20})", re.S)
_TREE = b"40000"
_KEPT = 512  # trees whose entry offsets are kept: enough for the previous commit's changed directories

Entries = dict[bytes, tuple[bytes, bytes]]  # name -> (mode, raw object id)
Found = dict[str, tuple[str, str | None]]  # path -> (A|M|D, new blob id as hex, None when deleted)


class TreeDiff:
    def __init__(self, read: Callable[[str], bytes]):
        self.read = read  # hex object id -> the raw tree object's content
        self.kept: dict[bytes, tuple[bytes, list[int]]] = {}  # tree id -> (raw, offset of each entry)

    def changes(self, old: bytes | None, new: bytes | None, prefix: str,
                within: Callable[[str], bool] | None = None) -> Found:
        """{path: (A|M|D, new blob id)} for every file that differs between trees ``old`` and
        ``new`` (raw ids; None: no tree), each path under ``prefix``. A file put where a directory
        was reads as the directory's files deleted and the file added (as git diff-tree -r).
        ``within``: the directories (given as "a/b/") worth entering; the others are not read."""
        found: Found = {}
        if old != new:
            self.within = within
            self._compare(old, new, prefix, found)
        return found

    within: Callable[[str], bool] | None = None

    def _compare(self, old: bytes | None, new: bytes | None, prefix: str, found: Found) -> None:
        if self.within is not None and not self.within(prefix):
            return
        if old is None:
            self._all(new, prefix, "A", found)
            return
        if new is None:
            self._all(old, prefix, "D", found)
            return
        before, after = self._differing(old, new)
        for name in sorted(before.keys() | after.keys()):
            a, b = before.get(name), after.get(name)
            if a == b:
                continue
            path = prefix + name.decode("utf-8", "replace")
            a_tree, b_tree = a is not None and a[0] == _TREE, b is not None and b[0] == _TREE
            if a_tree or b_tree:
                self._compare(a[1] if a_tree else None, b[1] if b_tree else None, path + "/", found)
            if a is not None and not a_tree and (b is None or b_tree):
                found[path] = ("D", None)
            elif b is not None and not b_tree:
                found[path] = ("M" if a is not None and not a_tree else "A", b[1].hex())

    def _all(self, tree: bytes, prefix: str, kind: str, found: Found) -> None:
        """Every file under ``tree``, as added or deleted."""
        if self.within is not None and not self.within(prefix):
            return
        for name, (mode, oid) in sorted(self._entries(tree).items()):
            path = prefix + name.decode("utf-8", "replace")
            if mode == _TREE:
                self._all(oid, path + "/", kind, found)
            else:
                found[path] = (kind, oid.hex() if kind != "D" else None)

    def _entries(self, tree: bytes) -> Entries:
        raw = self.read(tree.hex())
        return {m[2]: (m[1], m[3]) for m in _ENTRY.finditer(raw)}

    def _differing(self, old: bytes, new: bytes) -> tuple[Entries, Entries]:
        """Entries of the two trees, enough to hold every one that differs: when the offsets of
        ``old``'s entries are known, only the span between the common leading and trailing bytes."""
        kept = self.kept.get(old)
        a, starts = kept if kept is not None else (self.read(old.hex()), None)
        b = self.read(new.hex())
        if starts is None:
            starts = _offsets(a)
        common = _common_prefix(a, b)
        tail = _common_suffix(a, b, min(len(a), len(b)) - common)
        k = max(bisect_right(starts, common) - 1, 0)
        j = bisect_left(starts, len(a) - tail, lo=k)
        first, end_a = (starts[k] if starts else 0), (starts[j] if j < len(starts) else len(a))
        end_b = end_a + len(b) - len(a)
        middle = _parse_span(b, first, end_b)
        if middle is None:  # the changed bytes do not parse as whole entries there: read it all
            self._keep(new, b, _offsets(b))
            return _span(a, starts, 0, len(a)), {m[2]: (m[1], m[3]) for m in _ENTRY.finditer(b)}
        shift = len(b) - len(a)
        self._keep(new, b, starts[:k] + [m.start() for m in middle] + [s + shift for s in starts[j:]])
        return _span(a, starts, first, end_a), {m[2]: (m[1], m[3]) for m in middle}

    def _keep(self, tree: bytes, raw: bytes, starts: list[int]) -> None:
        if len(self.kept) >= _KEPT:
            self.kept.clear()
        self.kept[tree] = (raw, starts)


def _offsets(raw: bytes) -> list[int]:
    return [m.start() for m in _ENTRY.finditer(raw)]


def _span(raw: bytes, starts: list[int], begin: int, end: int) -> Entries:
    entries = {}
    for start in starts[bisect_left(starts, begin):bisect_left(starts, end)]:
        m = _ENTRY.match(raw, start)
        entries[m[2]] = (m[1], m[3])
    return entries


def _parse_span(raw: bytes, begin: int, end: int) -> list[re.Match] | None:
    """The entries that exactly fill raw[begin:end], or None when they do not."""
    found, at = [], begin
    while at < end:
        m = _ENTRY.match(raw, at)
        if m is None:
            return None
        found.append(m)
        at = m.end()
    return found if at == end else None


def _common_prefix(a: bytes, b: bytes) -> int:
    low, high = 0, min(len(a), len(b))
    while low < high:  # a[:low] == b[:low]; halving the span compared
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: bytes, b: bytes, most: int) -> int:
    low, high, la, lb = 0, most, len(a), len(b)
    while low < high:
        middle = (low + high + 1) // 2
        if a[la - middle:la - low] == b[lb - middle:lb - low]:
            low = middle
        else:
            high = middle - 1
    return low
