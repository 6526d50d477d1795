"""A pull request's check on a fresh clone replays only what its changes need (history.Scope): the
configuration, the touched components and the manifests that may claim its packages. These tests
build histories where that shortcut could go wrong and check it gives what the whole replay gives;
and what a run keeps for the next (sources/kept.py) is read without running anything it names."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import yaml
from conftest import NOW, TOP, manifest, package, verification

from controller import app
from controller.core import history
from controller.core.loading import PREFIXES
from controller.sources import git

R = "releases/argus/1.8.0"
NEW = "releases/argus/1.9.0"
ARC = "releases/arc-ce/6.20.0"
UNICORE = "releases/unicore-server"


def roles_with(change) -> str:
    roles = yaml.safe_load((TOP / "repos-config/roles.yaml").read_text())
    change(roles)
    return yaml.safe_dump(roles, sort_keys=False)


def tangled_history(story) -> None:
    """Another component's manifest that claims a package, rewritten later by an outsider (its
    head no longer claims it, what counts still does); an unauthorized edit deep in the touched
    component's history; a role granted in the middle, used before and after; then a pull request
    touching argus whose new manifest claims that same package."""
    escaped = yaml.safe_dump(manifest("unicore-server", "9.3.0", packages=[package(version="1.9.0")]),
                             sort_keys=False).replace("name: argus-pap", 'name: "\\x61rgus-pap"')
    story.commit("jonas", "2026-09-30T09:00:00Z", {f"{UNICORE}/9.3.0/release.yaml": escaped})
    story.commit("jonas", "2026-09-30T10:00:00Z", {f"{UNICORE}/9.3.1/release.yaml": manifest(
        "unicore-server", "9.3.1", packages=[package("unicore-x", "9.3.1")])})
    story.commit("andrea", "2026-10-01T09:00:00Z", {f"{R}/release.yaml": manifest()}, "argus 1.8.0")
    story.commit("lars", "2026-10-02T09:00:00Z",
                 {f"{ARC}/release.yaml": manifest("arc-ce", "6.20.0", packages=[package(version="1.9.0")])})
    story.commit("lars", "2026-10-03T09:00:00Z", {f"{R}/verification.yaml": verification()}, "too early")
    story.commit("mallory", "2026-10-04T09:00:00Z",
                 {f"{ARC}/release.yaml": manifest("arc-ce", "6.20.0", packages=[])}, "drop the packages")
    story.commit("ines", "2026-10-04T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    story.commit("maria", "2026-10-05T09:00:00Z", {"repos-config/roles.yaml": roles_with(
        lambda roles: roles["teams"]["technology-unit"].append("lars"))}, "lars joins the technology unit")
    story.commit("lars", "2026-10-06T09:00:00Z", {f"{R}/verification.yaml": verification()})
    story.commit("mallory", "2026-10-07T09:00:00Z", {f"{R}/verification.yaml": verification("rejected")})
    story.commit("ifca", "2026-10-08T09:00:00Z",
                 {f"{R}/reports/IFCA-LCG2.yaml": {"site": "IFCA-LCG2", "status": "rolling-out"}})
    story.commit("maria", "2026-10-09T09:00:00Z", {"docs/notes.md": "unrelated\n"})
    story.git.git("checkout", "-q", "-b", "pr")
    story.commit("andrea", "2026-10-10T09:00:00Z", {f"{NEW}/release.yaml": manifest(version="1.9.0")})
    story.commit("mallory", "2026-10-10T10:00:00Z",
                 {f"{R}/reports/IFCA-LCG2.yaml": {"site": "IFCA-LCG2", "status": "rolling-out", "notes": "x"}})


def _replayed(story, scope: history.Scope | None) -> history.Trail:
    repo = git.open_repository(str(story.path))
    head = git.resolve(repo, "main")
    blobs = history.Blobs(git.blob_reader(repo))
    return history.replay(git.Chain(repo, head, PREFIXES, scope=scope), blobs, lambda commits, keys, at: {})


def test_the_scoped_replay_gives_each_path_in_it_the_verdicts_of_the_whole_replay(story):
    tangled_history(story)
    scope = history.Scope(frozenset({"argus"}))
    whole, part = _replayed(story, None), _replayed(story, scope)
    assert whole.records.keys() - part.records.keys() == {f"{ARC}/verification.yaml"}
    assert part.records == {p: r for p, r in whole.records.items() if scope.holds(p)}
    # What it kept holds refusals, and a manifest whose head is not what counts.
    assert part.records[f"{ARC}/release.yaml"].accepted != part.records[f"{ARC}/release.yaml"].head
    assert part.records[f"{R}/verification.yaml"].ignored
    assert (part.through, part.anchor) == (whole.through, whole.anchor)


def test_a_pull_request_check_on_a_fresh_clone_finds_what_the_whole_replay_finds(story, tmp_path):
    tangled_history(story)
    fresh = tmp_path / "fresh"
    shutil.copytree(story.path, fresh)
    kept = git.kept_dir(git.open_repository(str(fresh)))
    shutil.rmtree(kept, ignore_errors=True)
    scoped = app.validate(str(fresh), "pr", NOW, "main")
    assert not kept.exists() or not list(kept.glob("*.replay"))  # nothing kept: it was the scoped replay
    app.validate(str(story.path), "main", NOW)  # keeps main's whole replay, which the next check resumes
    assert list(git.kept_dir(git.open_repository(str(story.path))).glob("*.replay"))
    whole = app.validate(str(story.path), "pr", NOW, "main")
    assert scoped == whole
    rules = {p.rule for p in scoped.problems}
    assert {"unique-package", "roles"} <= rules, rules
    # The first claim is the one spelt with an escape, which the shortcut must not leave out.
    assert any("unicore-server/9.3.0" in p.message for p in scoped.problems if p.rule == "unique-package")


def test_only_the_manifests_that_may_claim_a_package_of_the_pull_request_are_replayed(story):
    tangled_history(story)
    repo = git.open_repository(str(story.path))
    scope = history.Scope(frozenset({"argus"}))
    chain = git.Chain(repo, git.resolve(repo, "main"), PREFIXES, scope=scope)
    pending = {c.path: c.blob for c in git.pull_request_landing(repo, "main", "pr", PREFIXES).changes
               if c.path.endswith("release.yaml")}
    assert list(pending) == [f"{NEW}/release.yaml"]
    dropped = history.unclaiming(chain, scope, pending, history.Blobs(git.blob_reader(repo)))
    assert dropped == {f"{UNICORE}/9.3.1/release.yaml"}
    assert history.may_claim(b'name: "\\x61rgus-pap"', {"argus-pap"})
    assert not history.may_claim(b"name: unicore-x", {"argus-pap"})


def test_a_pull_request_that_changes_no_manifest_finds_what_the_whole_replay_finds(story, tmp_path):
    """Then no other release is read at all (Scope.manifests is off)."""
    tangled_history(story)
    story.git.git("checkout", "-q", "-b", "report", "main")
    story.commit("ifca", "2026-10-11T09:00:00Z", {f"{R}/reports/IFCA-LCG2.yaml": {"site": "IFCA-LCG2", "status": "x"}})
    fresh = tmp_path / "fresh"
    shutil.copytree(story.path, fresh)
    shutil.rmtree(git.kept_dir(git.open_repository(str(fresh))), ignore_errors=True)
    scoped = app.validate(str(fresh), "report", NOW, "main")
    app.validate(str(story.path), "main", NOW)
    assert scoped == app.validate(str(story.path), "report", NOW, "main")
    assert "schema" in {p.rule for p in scoped.problems}


class _Payload:
    """What a forged cache would hold: unpickling it calls os.system."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_forged_kept_state_runs_nothing_and_reads_as_a_miss(story, tmp_path):
    """The kept state can come from a restored CI cache that someone else wrote."""
    story.commit("andrea", "2026-10-01T09:00:00Z", {f"{R}/release.yaml": manifest()}, "argus 1.8.0")
    expected = app.validate(str(story.path), "HEAD", NOW)
    folder = git.kept_dir(git.open_repository(str(story.path)))
    marker = tmp_path / "ran"
    forged = sorted(folder.iterdir())
    assert any(p.suffix == ".replay" for p in forged) and any(p.suffix == ".memo" for p in forged)
    for path in forged:
        path.write_bytes(pickle.dumps(_Payload(marker)))
    assert app.validate(str(story.path), "HEAD", NOW) == expected
    assert app.validate(str(story.path), "HEAD", NOW, "HEAD~1") is not None
    assert not marker.exists()
