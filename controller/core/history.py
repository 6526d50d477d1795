"""The forward replay of a branch's first-parent history: which changes count.

Landings are replayed oldest first while the trusted configuration (roles.yaml, keys, adopters) is
kept as it stood before each one. Every change is judged against that state (see admission.py):
accepted, it updates the state; refused, it is remembered with its reasons and ignored, so the
first authorized version of each file stands. Up to the trust anchor (without one, up to the first
commit holding repos-config/roles.yaml) every change is imported unchecked.

Pure: blob contents and signature checks come in through the functions the caller passes, and the
replay's state after any commit can be kept and resumed from (it is plain data).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from controller.core import admission
from controller.core.freeze import FREEZES_FILE
from controller.core.loading import (
    CONFIG_FILES,
    KEYS_DIR,
    build_file,
    build_roles,
    classify,
    config_from_docs,
    parse_file,
)
from controller.core.model import Adopter, Commit, Config, Landing, Roles, Snapshot, Touch
from controller.core.trust import Roster
from controller.errors import Problem

ROLES = "repos-config/roles.yaml"
MAX_ANCHOR_MOVES = 8


class Chain(Protocol):
    """The first-parent history to replay, oldest first (the git adapter provides it)."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Landing: ...
    def precedes(self, commit_id: str, landing: Landing) -> bool: ...  # on the chain, at or before landing


@dataclass(frozen=True)
class Scope:
    """What judging the changes to some components needs, and nothing more: the configuration and
    the adopters, every file of those components, and (with ``manifests``) of every other release
    only its release.yaml.

    Each change is judged against the configuration as it stood, the records of its own path and
    the files of its own release (admission.py), never another release's files; so replaying only
    these paths gives them the verdicts the whole replay gives. Other releases' manifests matter
    only when a manifest changes, because its packages must not be claimed by any other release
    (policy: unique-package); judging a manifest needs nothing but its own path's record and the
    configuration. ``drop``: manifests left out after all (see may_claim)."""

    components: frozenset[str]
    manifests: bool = True
    drop: frozenset[str] = frozenset()

    def enters(self, directory: str) -> bool:  # "releases/argus/1.0/reports/"
        parts = directory.split("/")
        if parts[0] != "releases" or len(parts) <= 2 or parts[1] in self.components:
            return True
        return self.manifests and len(parts) <= 4

    def holds(self, path: str) -> bool:
        parts = path.split("/")
        if parts[0] != "releases" or len(parts) < 4 or parts[1] in self.components:
            return True
        return self.manifests and len(parts) == 4 and parts[3] == "release.yaml" and path not in self.drop

    def is_other_manifest(self, path: str) -> bool:
        parts = path.split("/")
        return len(parts) == 4 and parts[0] == "releases" and parts[1] not in self.components \
            and parts[3] == "release.yaml"


class Narrowed:
    """A chain whose landings leave out the changes outside ``scope``."""

    def __init__(self, chain: Chain, scope: Scope):
        self.chain, self.scope, self.landings = chain, scope, {}

    def __len__(self) -> int:
        return len(self.chain)

    def __getitem__(self, index: int) -> Landing:
        found = self.landings.get(index)
        if found is None:
            landing = self.chain[index]
            kept = tuple(c for c in landing.changes if self.scope.holds(c.path))
            found = self.landings[index] = landing if len(kept) == len(landing.changes) else \
                Landing(landing.commit, landing.index, kept)
        return found

    def precedes(self, commit_id: str, landing: Landing) -> bool:
        return self.chain.precedes(commit_id, landing)


def unclaiming(chain: Chain, scope: Scope, pending: Mapping[str, str | None], blobs: Blobs) -> frozenset[str]:
    """The other releases' manifests that no version of can claim a package of the ``pending``
    manifests ({path: blob}, the changes under check) in any version those had on ``chain``: they
    cannot make a unique-package finding about the pending ones, so judging them can be left out."""
    versions: dict[str, set[str]] = {}
    for index in range(len(chain)):
        for change in chain[index].changes:
            if change.blob is not None and (change.path in pending or scope.is_other_manifest(change.path)):
                versions.setdefault(change.path, set()).add(change.blob)
    docs = []
    for path, blob in pending.items():
        for version in versions.get(path, set()) | ({blob} if blob else set()):
            parsed = parse_file(path, blobs.read(version), "release", memo=blobs.memo)[0]
            docs.append(parsed.doc.data if parsed is not None and isinstance(parsed.doc.data, dict) else None)
    names = package_names(docs)
    if names is None:
        return frozenset()
    return frozenset(path for path, found in versions.items() if scope.is_other_manifest(path)
                     and not any(may_claim(blobs.read(blob), names) for blob in found))


def without_unclaiming(trail: Trail, scope: Scope, pending: Sequence[str], blobs: Blobs) -> Trail:
    """The trail without the other releases' manifests whose version that counts cannot claim a
    package of the ``pending`` manifests (paths) as they count now: the model of a pull request's
    check then reads only the manifests that could make a unique-package finding about it."""
    names = package_names([admission.checked_doc(trail, path, blobs) for path in pending])
    if names is None:
        return trail
    records = {path: record for path, record in trail.records.items() if not scope.is_other_manifest(path)
               or record.accepted is not None and names and may_claim(blobs.read(record.accepted), names)}
    return replace(trail, records=records)


def package_names(docs: Sequence[dict | None]) -> set[str] | None:
    """The package names the manifests ``docs`` list; None when one is not plain text."""
    names = set()
    for doc in docs:
        for item in (doc or {}).get("packages") or ():
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                return None
            names.add(name)
    return names


def may_claim(raw: bytes, names: set[str]) -> bool:
    """Whether a manifest with these bytes can list a package named one of ``names``. Manifests are
    UTF-8 YAML, whose only way to spell text other than as it stands is a backslash escape in a
    double-quoted scalar (a folded line break becomes a space, which no package name holds)."""
    return b"\\" in raw or any(name.encode() in raw for name in names)


# (commits, the public keys trusted then, the instant they landed) -> {commit id: fingerprint or None}
Verify = Callable[[Sequence[Commit], Sequence[bytes], datetime], Mapping[str, str | None]]


@dataclass
class Blobs:
    """File contents by blob id, and the parse results already known (see loading.parse_file)."""

    read: Callable[[str], bytes]
    memo: dict = field(default_factory=dict)
    known: int = 0  # how many parse results the memo held when the run began


@dataclass
class Record:
    """One path: what the branch holds, what counts, and why the difference does not."""

    head: str | None = None  # blob at the branch head (None: absent)
    accepted: str | None = None  # blob that counts (None: none)
    touches: list[Touch] = field(default_factory=list)  # accepted changes, oldest first
    done: Touch | None = None  # a report's first accepted version with status done
    ignored: list[Problem] = field(default_factory=list)  # why changes since the accepted one do not count


@dataclass
class Trail:
    """The replay's state after some landing."""

    anchor: str | None = None  # the commit through which history is imported; None: the first holding roles.yaml
    anchor_moves: int = 0
    through: Commit | None = None  # where importing ended; None while still importing
    imported: int = 0  # how many files were imported unchecked
    records: dict[str, Record] = field(default_factory=dict)
    releases: dict[str, set[str]] = field(default_factory=dict)  # "component/version" -> its accepted paths
    problems: list[Problem] = field(default_factory=list)  # about the replay itself (the anchor)
    signing_reached: bool = False  # the commit named by signed_commits_from has landed
    _roster: Roster | None = field(default=None, repr=False, compare=False)
    _config: tuple[Config | None] | None = field(default=None, repr=False, compare=False)

    def blob(self, path: str) -> str | None:
        record = self.records.get(path)
        return record.accepted if record else None

    def roster(self, blobs: Blobs) -> Roster:
        """Who held which role after the last landing: the accepted roles.yaml and adopters/."""
        if self._roster is None:
            roles = admission.checked_doc(self, ROLES, blobs)
            adopters = {}
            for path, record in self.records.items():
                if record.accepted is not None and classify(path) == "adopter":
                    doc = admission.checked_doc(self, path, blobs)
                    adopter = build_file("adopter", path, doc) if doc is not None else None
                    if isinstance(adopter, Adopter):
                        adopters[adopter.site] = adopter
            self._roster = Roster(build_roles(roles) if roles is not None else None, adopters)
        return self._roster

    def config(self, blobs: Blobs) -> Config | None:
        """The accepted configuration (calendar and timelines for the order check), if complete."""
        if self._config is None:
            docs = {name: admission.checked_doc(self, f"repos-config/{name}.yaml", blobs) for name in CONFIG_FILES}
            self._config = (config_from_docs(docs) if all(d is not None for d in docs.values()) else None,)
        return self._config[0]

    def keyring(self, blobs: Blobs) -> list[bytes]:
        return [blobs.read(r.accepted) for path, r in sorted(self.records.items())
                if path.startswith(KEYS_DIR) and r.accepted is not None]

    def forget_configuration(self) -> None:
        self._roster = None
        self._config = None


def replay(chain: Chain, blobs: Blobs, verify: Verify, trail: Trail | None = None,
           whole: Callable[[], Chain] | None = None) -> Trail:
    """Replay ``chain`` onto ``trail`` (a fresh start without one). When an accepted change moves
    the trust anchor, history is replayed again from the root (``whole`` gives the whole chain)."""
    trail = trail or Trail()
    while True:
        moved = _run(trail, chain, blobs, verify)
        if moved is None:
            return trail
        chain = whole() if whole is not None else chain
        trail = Trail(anchor=moved, anchor_moves=trail.anchor_moves + 1)


def _run(trail: Trail, chain: Chain, blobs: Blobs, verify: Verify) -> str | None:
    for index in range(len(chain)):
        landing = chain[index]
        if trail.through is None:
            import_landing(trail, landing, blobs)
            continue
        moved = check_landing(trail, landing, blobs, verify, chain)
        if moved is not None:
            return moved
    return None


def import_landing(trail: Trail, landing: Landing, blobs: Blobs) -> None:
    """Accept every change unchecked; end importing at the anchor (or the first roles.yaml)."""
    for change in landing.changes:
        record = trail.records.setdefault(change.path, Record())
        record.head = change.blob
        admission.accept(trail, record, change, landing, blobs)
    reached = landing.commit.id == trail.anchor if trail.anchor else trail.blob(ROLES) is not None
    if reached:
        trail.through = landing.commit
        trail.imported = sum(1 for r in trail.records.values() if r.accepted is not None)


def check_landing(trail: Trail, landing: Landing, blobs: Blobs, verify: Verify, chain: Chain) -> str | None:
    """Judge every change of one landing against the state before it. Returns a trust anchor to
    move to, when an accepted change of roles.yaml names a new one."""
    roster = trail.roster(blobs)
    roles = roster.roles
    signed = _signatures_required(trail, landing, chain, blobs)
    signers: Mapping[str, str | None] = {}
    if signed:
        authors = list({a.id: a for change in landing.changes for a in change.authors}.values())
        signers = verify(authors, trail.keyring(blobs), landing.commit.committer.time)
    for change in sorted(landing.changes, key=lambda c: admission.processing_order(c.path)):
        record = trail.records.setdefault(change.path, Record())
        record.head = change.blob
        problems = admission.judge(trail, roster, change, landing, signers, signed, blobs)
        if problems:
            record.ignored.extend(problems)
        else:
            admission.accept(trail, record, change, landing, blobs)
    moved = _anchor_moved(trail, roles, trail.roster(blobs).roles, landing, chain)
    return moved


def _anchor_moved(trail: Trail, before: Roles | None, after: Roles | None, landing: Landing,
                  chain: Chain) -> str | None:
    """The commit to import through when this landing changed the trust anchor, else None. "self"
    names the landing itself (a change and the anchor moving onto it in one commit, which no
    rebase can break)."""
    named = after.trust_anchor if after else None
    if not named or before is not None and (before.trust_anchor, before.trust_anchor_reason) == \
            (named, after.trust_anchor_reason):
        return None
    target = landing.commit.id if named == "self" else named
    if target == trail.anchor:
        return None
    if trail.anchor_moves < MAX_ANCHOR_MOVES and (named == "self" or chain.precedes(named, landing)):
        return target
    trail.problems.append(Problem(ROLES, f"trust_anchor names commit {named[:10]}, which is not a commit of "
                                  "this branch's first-parent history before the change that names it",
                                  "name a commit of the branch (git log --first-parent --format=%H), or self",
                                  "/trust_anchor/commit", rule="trust-anchor"))
    return None


def _signatures_required(trail: Trail, landing: Landing, chain: Chain, blobs: Blobs) -> bool:
    roles = trail.roster(blobs).roles
    if roles is None or not roles.require_signed_commits:
        return False
    start = roles.signed_commits_from
    if not start:
        return True
    if len(start) == 40 and "T" not in start:
        if not trail.signing_reached:
            trail.signing_reached = landing.commit.id == start or chain.precedes(start, landing)
        return trail.signing_reached
    return landing.commit.committer.time >= admission.instant(start)


# --- what the replay gives the model ----------------------------------------------------------


def accepted_snapshot(trail: Trail, head: Commit, blobs: Blobs) -> Snapshot:
    """The files that count, with the accepted changes that made them, as the model reads them."""
    ids, history, reported = {}, {}, {}
    # Earlier versions of the freezes: when each window was added or lifted is part of the state.
    earlier = {t.blob: blobs.read(t.blob) for t in trail.records[FREEZES_FILE].touches if t.blob} \
        if FREEZES_FILE in trail.records else {}
    for path, record in trail.records.items():
        if record.accepted is not None:
            ids[path] = record.accepted
            if record.done is not None:
                reported[path] = record.done
        if record.touches:
            history[path] = tuple(record.touches)
    return Snapshot(head, Contents(ids, blobs.read), history, earlier, reported)


class Contents(Mapping):
    """File contents by path, each read when first asked for: a pull request's check reads only
    the files it looks at, not every file of the repository."""

    def __init__(self, ids: dict[str, str], read: Callable[[str], bytes]):
        self.ids, self.read, self.known = ids, read, {}

    def __getitem__(self, path: str) -> bytes:
        found = self.known.get(path)
        if found is None:
            found = self.known[path] = self.read(self.ids[path])
        return found

    def __contains__(self, path: object) -> bool:
        return path in self.ids

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


def ignored_changes(trail: Trail) -> list[Problem]:
    """Why what the branch holds differs from what counts, for every path where it does."""
    found = list(trail.problems)
    for record in trail.records.values():
        if record.head != record.accepted:
            found += record.ignored
    return found


def notes(trail: Trail) -> tuple[str, ...]:
    if trail.through is None:
        return ()
    where = (f"the trust anchor named in {ROLES}" if trail.anchor
             else f"the first commit holding {ROLES}")
    return (f"{trail.imported} file(s) imported unchecked as they stood at commit {trail.through.short} "
            f"({where}); every later change is checked",)
