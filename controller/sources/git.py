"""Git as the source of truth, read with pygit2 and never through a checkout (bare clones work).

Owns: resolving revisions, the first-parent history as landings (each commit's tree diff once,
every changed path credited to the commits that wrote it: the branch commits of a merged pull
request, and the merge itself for content neither parent had), blob contents, signatures, and
committing files for the controller. Knows nothing of releases; callers choose the paths.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pygit2
from pygit2.enums import SortMode

from controller.core.model import Change, Commit, Landing, Signature
from controller.errors import BadInput
from controller.sources.treediff import TreeDiff


def open_repository(path: str) -> pygit2.Repository:
    found = pygit2.discover_repository(path)
    if found is None:
        raise BadInput(f"{path}: not a git repository", "pass --repo with the path of the release repository")
    return pygit2.Repository(found)


def init_repository(path: str, branch: str = "main") -> bool:
    """Make ``path`` a git repository (on ``branch``) unless it is inside one; True if it made one."""
    if pygit2.discover_repository(path) is not None:
        return False
    pygit2.init_repository(path, initial_head=branch)
    return True


def resolve(repo: pygit2.Repository, rev: str) -> pygit2.Commit:
    if repo.head_is_unborn and rev in ("HEAD", "main", "master"):
        raise BadInput(f"{repo.workdir or repo.path} has no commits yet",
                       "commit the files first (git add -A && git commit), then run again")
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


def _subtree(repo: pygit2.Repository, tree: pygit2.Tree | None, name: str) -> pygit2.Tree | None:
    if tree is None or name not in tree:
        return None
    entry = tree[name]
    return repo[entry.id] if entry.type_str == "tree" else None


def tree_reader(repo: pygit2.Repository) -> TreeDiff:
    return TreeDiff(lambda oid: repo.read(oid)[1])


class Scope(Protocol):
    """Part of the tree: the directories worth entering ("a/b/") and the files that belong to it."""

    def enters(self, directory: str) -> bool: ...
    def holds(self, path: str) -> bool: ...


def _changes(repo: pygit2.Repository, old: pygit2.Tree | None, new: pygit2.Tree | None,
             prefixes: tuple[str, ...], trees: TreeDiff | None = None,
             scope: Scope | None = None) -> dict[str, tuple[str, str | None]]:
    """{path: (A|M|D, new blob id)} for the files under the top-level ``prefixes`` that differ
    (a file put where a directory was reads as the directory's files deleted and the file added,
    as git diff-tree -r), only those of ``scope`` when given. ``trees`` keeps what it learnt for
    the next commit of a walk."""
    trees = trees or tree_reader(repo)
    found: dict[str, tuple[str, str | None]] = {}
    for prefix in prefixes:
        name = prefix.rstrip("/")
        before, after = _subtree(repo, old, name), _subtree(repo, new, name)
        found.update(trees.changes(before.id.raw if before is not None else None,
                                   after.id.raw if after is not None else None, prefix,
                                   scope.enters if scope is not None else None))
    if scope is not None:
        found = {path: change for path, change in found.items() if scope.holds(path)}
    return found


def _introduced(repo: pygit2.Repository, commit: pygit2.Commit, prefixes: tuple[str, ...],
                trees: TreeDiff | None = None, scope: Scope | None = None) -> set[str]:
    """The paths whose content in ``commit`` none of its parents had: for a plain commit its own
    changes, for a merge what the merge itself wrote (an "evil merge" or a conflict resolution)."""
    parents = commit.parents
    if not parents:
        return set(_changes(repo, None, commit.tree, prefixes, trees, scope))
    paths = set(_changes(repo, parents[0].tree, commit.tree, prefixes, trees, scope))
    for other in parents[1:]:
        paths &= set(_changes(repo, other.tree, commit.tree, prefixes, trees, scope))
    return paths


def untouched_since(repo: pygit2.Repository, old: str, head: pygit2.Commit, prefixes: tuple[str, ...],
                    most: int = 100) -> bool:
    """Whether ``head`` is commit ``old`` or follows it through first parents (at most ``most``
    of them), each leaving every top-level directory of ``prefixes`` as its first parent had it."""
    commit = head
    for _ in range(most + 1):
        if str(commit.id) == old:
            return True
        if not commit.parents:
            return False
        parent = commit.parents[0]
        for prefix in prefixes:
            before, after = _subtree(repo, parent.tree, prefix.rstrip("/")), _subtree(repo, commit.tree,
                                                                                    prefix.rstrip("/"))
            if (before.id if before is not None else None) != (after.id if after is not None else None):
                return False
        commit = parent
    return False


class Chain:
    """The first-parent history of a revision under ``prefixes``, oldest first, as the history
    replay reads it. Each landing's tree diff is computed once, when first asked for. With
    ``since`` (commits whose replay state was kept), the chain starts after the newest of them
    that is on it (``start``), or at the root when none is. With ``scope``, landings hold only
    the changes in it (every commit is still a landing) and the trees outside it are not read."""

    def __init__(self, repo: pygit2.Repository, head: pygit2.Commit, prefixes: tuple[str, ...],
                 since: Collection[str] = (), scope: Scope | None = None):
        self.repo, self.prefixes, self.convert, self.scope = repo, prefixes, _Converter({}), scope
        self.trees = tree_reader(repo)
        ids = []
        commit = head
        while commit is not None and str(commit.id) not in since:
            ids.append(commit.id)
            commit = commit.parents[0] if commit.parents else None
        self.start = str(commit.id) if commit is not None else None
        ids.reverse()
        self.ids = ids
        self._landings: dict[int, Landing] = {}
        self._positions: dict[str, int] | None = None
        self.head = head

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Landing:
        found = self._landings.get(index)
        if found is None:
            found = self._landings[index] = self._landing(index)
        return found

    def _landing(self, index: int) -> Landing:
        main = self.repo[self.ids[index]]
        parents = main.parents
        changed = _changes(self.repo, parents[0].tree if parents else None, main.tree, self.prefixes, self.trees,
                           self.scope)
        credit: dict[str, list[pygit2.Commit]] = {path: [] for path in changed}
        if len(parents) > 1 and changed:
            side = self.repo.walk(parents[1].id, SortMode.TOPOLOGICAL | SortMode.REVERSE)
            side.hide(parents[0].id)
            for commit in side:
                for path in _introduced(self.repo, commit, self.prefixes, self.trees, self.scope) & changed.keys():
                    credit[path].append(commit)
            # Content the merge itself introduced, that neither parent had, is the merge author's.
            for path in _introduced(self.repo, main, self.prefixes, self.trees, self.scope) & changed.keys():
                credit[path].append(main)
        changes = tuple(Change(path, kind, blob, tuple(self.convert.commit(c) for c in credit[path] or [main]))
                        for path, (kind, blob) in sorted(changed.items()))
        return Landing(self.convert.commit(main), index, changes)

    def precedes(self, commit_id: str, landing: Landing) -> bool:
        """Whether ``commit_id`` is on the first-parent history at or before ``landing``."""
        if self._positions is None:
            positions, commit, depth = {}, self.head, 0
            while commit is not None:
                positions[str(commit.id)] = depth
                commit = commit.parents[0] if commit.parents else None
                depth += 1
            self._positions = positions  # depth from the head: larger is older
        mine, theirs = self._positions.get(landing.commit.id), self._positions.get(commit_id)
        return mine is not None and theirs is not None and theirs >= mine


def count_files(repo: pygit2.Repository, commit_id: str, prefixes: tuple[str, ...]) -> int:
    """How many files commit ``commit_id``'s tree holds under the top-level ``prefixes``."""
    tree, trees = repo[commit_id].peel(pygit2.Commit).tree, tree_reader(repo)
    return sum(len(trees.changes(None, subtree.id.raw, prefix)) for prefix in prefixes
               if (subtree := _subtree(repo, tree, prefix.rstrip("/"))) is not None)


def pull_request_landing(repo: pygit2.Repository, base: str, head: str, prefixes: tuple[str, ...]) -> Landing:
    """What merging ``head`` into ``base`` would land: the paths changed since their merge base,
    credited to the pull request's own commits that introduced them, landing at the head."""
    head_commit, base_commit = resolve(repo, head), resolve(repo, base)
    merge_base = repo.merge_base(base_commit.id, head_commit.id)
    start = repo[merge_base].peel(pygit2.Commit) if merge_base else None
    changed = _changes(repo, start.tree if start else None, head_commit.tree, prefixes)
    credit: dict[str, list[pygit2.Commit]] = {path: [] for path in changed}
    walker = repo.walk(head_commit.id, SortMode.TOPOLOGICAL | SortMode.REVERSE)
    walker.hide(base_commit.id)
    for commit in walker:
        for path in _introduced(repo, commit, prefixes) & changed.keys():
            credit[path].append(commit)
    convert = _Converter({})
    changes = tuple(Change(path, kind, blob, tuple(convert.commit(c) for c in credit[path] or [head_commit]))
                    for path, (kind, blob) in sorted(changed.items()))
    return Landing(convert.commit(head_commit), -1, changes)


def pull_request_commits(repo: pygit2.Repository, base: str, head: str) -> list[Commit]:
    """The commits of ``head`` that ``base`` does not have."""
    walker = repo.walk(resolve(repo, head).id, SortMode.TOPOLOGICAL | SortMode.REVERSE)
    walker.hide(resolve(repo, base).id)
    convert = _Converter({})
    return [convert.commit(c) for c in walker]


def commit_of(repo: pygit2.Repository, rev: str) -> Commit:
    return _Converter({}).commit(resolve(repo, rev))


def kept_dir(repo: pygit2.Repository) -> Path:
    """Where what a run learnt of this repository's history is kept: inside its git directory,
    which every checkout has, which git itself never reads there, and which goes with the clone."""
    return Path(repo.path) / "rolloutctl"


def blob_reader(repo: pygit2.Repository) -> Callable[[str], bytes]:
    """Blob contents by id. A replay asks for the same version at every later step of its release:
    each text is read out of its pack once (package files, larger, are not kept)."""
    known: dict[str, bytes] = {}

    def read(blob: str) -> bytes:
        found = known.get(blob)
        if found is None:
            found = repo[blob].data
            if len(found) <= KEEP_BLOB:
                known[blob] = found
        return found
    return read


KEEP_BLOB = 1 << 16


def commit_signatures(repo: pygit2.Repository, ids: Iterable[str]) -> dict[str, tuple[bytes, bytes]]:
    """The OpenPGP signature and signed payload of each signed commit among ``ids``."""
    found = {}
    for ident in ids:
        signature, payload = repo[ident].gpg_signature
        if signature:
            found[ident] = (signature, payload)
    return found
