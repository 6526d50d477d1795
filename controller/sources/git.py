"""Git as the source of truth, read with pygit2 and never through a checkout (bare clones work).

Owns: resolving revisions, the files of a branch at a commit, and for each file the commits that
touched it, both the authoring commit (for trust) and the first-parent commit through which it
landed on the branch (for timers). Knows nothing of releases; callers choose the paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pygit2
from pygit2.enums import SortMode

from controller.core.model import Commit, Signature, Snapshot, Touch
from controller.errors import BadInput


def open_repository(path: str) -> pygit2.Repository:
    found = pygit2.discover_repository(path)
    if found is None:
        raise BadInput(f"{path}: not a git repository", "pass --repo with the path of the release repository")
    return pygit2.Repository(found)


def resolve(repo: pygit2.Repository, rev: str) -> pygit2.Commit:
    try:
        return repo.revparse_single(rev).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        raise BadInput(f"revision {rev!r} not found in {repo.path}",
                       "give a branch, tag or commit id that exists (git log --oneline shows them)") from None


@dataclass
class _Converter:
    """pygit2 commits to model commits, each converted once. Signers are filled in later, by
    the caller, only where repos-config asks for signatures (see commit_signatures)."""

    cache: dict

    def commit(self, c: pygit2.Commit) -> Commit:
        key = str(c.id)
        found = self.cache.get(key)
        if found is None:
            found = Commit(key, _signature(c.author), _signature(c.committer), c.message)
            self.cache[key] = found
        return found


def _signature(s: pygit2.Signature) -> Signature:
    return Signature(s.name, s.email, datetime.fromtimestamp(s.time, UTC))


def _changes(repo: pygit2.Repository, old: pygit2.Tree | None, new: pygit2.Tree,
             prefixes: tuple[str, ...] = ("",)) -> Iterable[tuple[str, str, str | None]]:
    """(path, A|M|D, new blob id) for the files that differ, under the given prefixes.

    Compares tree ids level by level and descends only where they differ, which on a history of
    small commits is several times faster than a full tree diff.
    """
    yield from _compare(repo, old, new, "", prefixes)


def _compare(repo, old, new, prefix, prefixes):
    if old is not None and new is not None and old.id == new.id:
        return
    if prefixes != ("",) and any(prefix.startswith(p) for p in prefixes):
        prefixes = ("",)  # inside a wanted directory everything is wanted
    before = {e.name: e for e in old} if old is not None else {}
    for entry in new if new is not None else ():
        path = prefix + entry.name
        if not _wanted(path, entry.type_str == "tree", prefixes):
            before.pop(entry.name, None)
            continue
        previous = before.pop(entry.name, None)
        if previous is not None and previous.id == entry.id:
            continue
        is_tree, was_tree = entry.type_str == "tree", previous is not None and previous.type_str == "tree"
        if is_tree:
            yield from _compare(repo, repo[previous.id] if was_tree else None, repo[entry.id], path + "/", prefixes)
            if previous is not None and not was_tree:
                yield path, "D", None
        else:
            if was_tree:
                yield from _compare(repo, repo[previous.id], None, path + "/", prefixes)
            yield path, ("A" if previous is None or was_tree else "M"), str(entry.id)
    for name, entry in before.items():
        path = prefix + name
        if not _wanted(path, entry.type_str == "tree", prefixes):
            continue
        if entry.type_str == "tree":
            yield from _compare(repo, repo[entry.id], None, path + "/", prefixes)
        else:
            yield path, "D", None


def _wanted(path: str, is_tree: bool, prefixes: tuple[str, ...]) -> bool:
    if prefixes == ("",):
        return True
    if is_tree:
        path += "/"
        return any(path.startswith(p) or p.startswith(path) for p in prefixes)
    return path.startswith(prefixes)


def read_snapshot(
    repo: pygit2.Repository,
    rev: str,
    prefixes: tuple[str, ...],
    keep_versions: Callable[[str], bool] = lambda path: False,
    history_prefixes: tuple[str, ...] | None = None,
) -> Snapshot:
    """The files under ``prefixes`` at ``rev`` with their history along the first-parent chain.

    A merged pull request's files are attributed to the branch commits that wrote them, landed
    by the merge. ``keep_versions`` selects paths whose earlier contents are kept too;
    ``history_prefixes`` narrows the history to fewer paths than the files (a quicker walk).
    """
    walked = history_prefixes or prefixes
    head = resolve(repo, rev)
    convert = _Converter({})
    history: dict[str, list[Touch]] = {}
    blobs: dict[str, bytes] = {}

    def record(path: str, change: str, blob: str | None, author: pygit2.Commit, landed: Commit) -> None:
        history.setdefault(path, []).append(Touch(convert.commit(author), landed, change, blob))
        if blob is not None and keep_versions(path) and blob not in blobs:
            blobs[blob] = repo[blob].data

    walker = repo.walk(head.id, SortMode.TOPOLOGICAL | SortMode.REVERSE)
    walker.simplify_first_parent()
    for main in walker:
        parents = main.parents
        landed = convert.commit(main)
        changed = {p: (k, b) for p, k, b in _changes(repo, parents[0].tree if parents else None, main.tree,
                                                     walked)}
        if not changed:
            continue
        if len(parents) < 2:
            for path, (kind, blob) in changed.items():
                record(path, kind, blob, main, landed)
            continue
        attributed: set[str] = set()
        side = repo.walk(parents[1].id, SortMode.TOPOLOGICAL | SortMode.REVERSE)
        side.hide(parents[0].id)
        for commit in side:
            if len(commit.parents) > 1:
                continue  # a merge of main into the branch brings nothing of its own
            base = commit.parents[0].tree if commit.parents else None
            for path, kind, blob in _changes(repo, base, commit.tree, walked):
                if path in changed:
                    record(path, kind, blob, commit, landed)
                    attributed.add(path)
        for path in changed.keys() - attributed:  # written in the merge itself
            kind, blob = changed[path]
            record(path, kind, blob, main, landed)

    files = {}
    for path, blob_id in _walk_tree(repo, head.tree, "", prefixes):
        files[path] = repo[blob_id].data
    return Snapshot(convert.commit(head), files, {p: tuple(t) for p, t in history.items()}, blobs)


def _walk_tree(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str, wanted: tuple[str, ...]):
    for entry in tree:
        path = prefix + entry.name
        if entry.type_str == "tree":
            if any(w.startswith(path + "/") or path.startswith(w.rstrip("/")) for w in wanted):
                yield from _walk_tree(repo, repo[entry.id], path + "/", wanted)
        elif entry.type_str == "blob" and path.startswith(wanted):
            yield path, entry.id


def commit_signatures(repo: pygit2.Repository, ids: Iterable[str]) -> dict[str, tuple[bytes, bytes]]:
    """The OpenPGP signature and signed payload of each signed commit among ``ids``."""
    found = {}
    for ident in ids:
        signature, payload = repo[ident].gpg_signature
        if signature:
            found[ident] = (signature, payload)
    return found


def changes_between(repo: pygit2.Repository, base: str, head: str) -> tuple[set[str], list[Commit]]:
    """What a pull request from ``base`` to ``head`` changes: paths, and its own commits."""
    head_commit = resolve(repo, head)
    base_commit = resolve(repo, base)
    merge_base = repo.merge_base(base_commit.id, head_commit.id)
    start = repo[merge_base].peel(pygit2.Commit) if merge_base else None
    paths = {p for p, _, _ in _changes(repo, start.tree if start else None, head_commit.tree)}
    walker = repo.walk(head_commit.id, SortMode.TOPOLOGICAL | SortMode.REVERSE)
    if start is not None:
        walker.hide(start.id)
    convert = _Converter({})
    return paths, [convert.commit(c) for c in walker]

