"""Reading git: merged pull requests, bare clones, the introducing commit and its landing."""

from __future__ import annotations

import subprocess

from conftest import NOW, manifest, verification

from controller import app
from controller.core.loading import PREFIXES
from controller.sources import git

R = "releases/argus/1.8.0"


def test_a_merged_pull_request_is_attributed_to_its_author_and_lands_at_the_merge(story):
    story.git.git("checkout", "-q", "-b", "provider-pr")
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()}, "argus 1.8.0")
    story.git.git("checkout", "-q", "main")
    story.git.git("merge", "--no-ff", "-q", "-m", "Merge pull request #7", "provider-pr",
                  env={"GIT_AUTHOR_NAME": "Maria Duarte", "GIT_AUTHOR_EMAIL": "maria.duarte@umd.example.org",
                       "GIT_COMMITTER_NAME": "Maria Duarte", "GIT_COMMITTER_EMAIL": "maria.duarte@umd.example.org",
                       "GIT_AUTHOR_DATE": "2026-11-04T10:00:00Z", "GIT_COMMITTER_DATE": "2026-11-04T10:00:00Z"})
    repo = git.open_repository(str(story.path))
    chain = git.Chain(repo, git.resolve(repo, "HEAD"), PREFIXES)
    landing = chain[len(chain) - 1]
    [change] = landing.changes
    assert change.path == f"{R}/release.yaml"
    assert [a.author.email for a in change.authors] == ["andrea.ferri@argus.example.org"]
    assert landing.commit.message.startswith("Merge pull request #7")
    assert landing.commit.committer.time.isoformat() == "2026-11-04T10:00:00+00:00"
    # The merge by a manager does not make the provider's file the manager's.
    assert app.validate(str(story.path), "HEAD", NOW).problems == []


def test_a_bare_clone_reads_the_same_as_the_working_repository(story, tmp_path):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("ines", "2026-11-03T09:00:00Z", {f"{R}/verification.yaml": verification()})
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(story.path), str(bare)], check=True)
    here = app.status(str(story.path), "HEAD", NOW).statuses
    there = app.status(str(bare), "HEAD", NOW).statuses
    assert here.keys() == there.keys() == {"argus/1.8.0"}
    assert here["argus/1.8.0"].state == there["argus/1.8.0"].state


def test_status_at_an_older_commit_replays_that_day(story):
    first = story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("andrea", "2026-11-03T09:00:00Z", {"releases/argus/1.8.1/release.yaml": manifest(version="1.8.1",
                 packages=[{**manifest()["packages"][0], "version": "1.8.1",
                            "url": "https://argus.example.org/repo/argus-pap-1.8.1-1.el9.noarch.rpm"}])})
    assert set(app.status(str(story.path), first, NOW).statuses) == {"argus/1.8.0"}
    assert set(app.status(str(story.path), "HEAD", NOW).statuses) == {"argus/1.8.0", "argus/1.8.1"}


def test_tree_comparison_agrees_with_git_diff_tree(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest(), "releases/x": "a file"})
    story.commit("andrea", "2026-11-03T09:00:00Z", {"releases/x": None})
    story.commit("andrea", "2026-11-03T10:00:00Z", {"releases/x/y/z.yaml": "now a directory",
                                                     f"{R}/release.yaml": None})
    story.commit("andrea", "2026-11-03T11:00:00Z", {"releases/x/y/z.yaml": "changed", "adopters/new.md": "notes",
                                                     "README.txt": "outside the prefixes"})
    repo = git.open_repository(str(story.path))
    for rev in ("HEAD~3", "HEAD~2", "HEAD~1", "HEAD"):
        commit = git.resolve(repo, rev)
        ours = sorted((p, k) for p, (k, _) in git._changes(repo, commit.parents[0].tree, commit.tree,
                                                           PREFIXES).items())
        listing = story.git.git("diff-tree", "-r", "--no-renames", "--name-status", f"{rev}~1", rev, "--",
                                *PREFIXES)
        theirs = sorted((line.split("\t")[1], line.split("\t")[0]) for line in listing.splitlines())
        assert ours == theirs, rev


def _reads(path) -> tuple:
    validation = app.validate(str(path), "HEAD", NOW)
    statuses = app.status(str(path), "HEAD", NOW).statuses
    return validation, {k: (s.state, s.since, s.findings) for k, s in statuses.items()}


def test_a_run_resumes_from_the_kept_history_and_reads_what_a_whole_replay_reads(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    first = _reads(story.path)
    kept = git.kept_dir(git.open_repository(str(story.path)))
    assert any(p.suffix == ".replay" for p in kept.iterdir())
    story.commit("ines", "2026-11-03T09:00:00Z", {f"{R}/verification.yaml": verification()})
    story.commit("andrea", "2026-11-03T10:00:00Z", {f"{R}/release.yaml": manifest(changelog="Rewritten.")})
    resumed = _reads(story.path)
    for item in kept.iterdir():
        item.unlink()
    whole = _reads(story.path)
    assert resumed == whole != first
    assert [p.rule for p in whole[0].problems] == ["release-immutable"]
    assert whole[1]["argus/1.8.0"][0].value == "certified"  # no publish directory: nothing fetched


def test_a_damaged_kept_history_is_replayed_again(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("ines", "2026-11-03T09:00:00Z", {f"{R}/verification.yaml": verification()})
    expected = _reads(story.path)
    kept = git.kept_dir(git.open_repository(str(story.path)))
    for item in kept.iterdir():
        item.write_bytes(b"\x80\x05 not what was written")
    assert _reads(story.path) == expected
    for item in kept.iterdir():
        item.write_bytes(b"")
    assert _reads(story.path) == expected
