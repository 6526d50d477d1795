"""The GitHub story on the fake server: a provider's pull request fails with annotations, is fixed
and merged; the release is verified; its rollout pull request opens once; two approvals become two
acceptance commits; reports land; the manager's decision closes it; labels follow each step."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import TOP, report_done, verification
from fake_github import FakeGitHub
from test_reconcile import ARC, arc_packages, arc_release

from controller import app
from controller.core.model import State
from controller.github_sync import check_pull_request, sync_rollouts
from controller.sources.github import GitHub

KEY = "arc-ce/6.19.0"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def fake():
    with FakeGitHub() as server:
        yield server


def client(fake) -> GitHub:
    return GitHub(fake.full, "secret-token", base_url=fake.url, backoff=0.01, write_interval=0)


def pr_from_branch(story, fake, number: int, author: str, base: str = "main") -> list[str]:
    files = story.git.git("diff", "--name-only", f"{base}...HEAD").splitlines()
    commits = [(line.split()[0], author, line.split()[1]) for line in
               story.git.git("log", "--format=%H %ae", f"{base}..HEAD").splitlines()]
    fake.add_pull(number, author, story.git.git("rev-parse", "HEAD"), files, commits)
    return files


def test_the_whole_story_on_the_fake_server(story, fake):
    gh = client(fake)
    # A provider's pull request with a mistake: the version does not match its directory.
    story.git.git("checkout", "-q", "-b", "provider")
    broken = {**arc_release(), f"{ARC}/release.yaml": (TOP / ARC / "release.yaml").read_text()
              .replace('version: "6.19.0"', 'version: "6.19.1"', 1)}
    story.commit("lars", "2026-11-02T09:00:00Z", broken, "arc-ce 6.19.0")
    pr_from_branch(story, fake, 1, "lnygaard")
    problems = check_pull_request(str(story.path), "HEAD", "main", 1, gh, at("2026-11-02T10:00:00Z"))
    assert [p.rule for p in problems] == ["paths-agree"]
    run = next(iter(fake.check_runs.values()))
    assert run["conclusion"] == "failure" and run["annotations"][0]["path"] == f"{ARC}/release.yaml"
    assert run["annotations"][0]["start_line"] == 3
    [comment] = fake.comments.values()
    assert "1 problem(s)" in comment["body"] and "the provider team of arc-ce" in comment["body"]

    # Fixed in a second commit; the same comment is updated, not a new one posted.
    story.commit("lars", "2026-11-02T11:00:00Z", {f"{ARC}/release.yaml": (TOP / ARC / "release.yaml").read_bytes()})
    pr_from_branch(story, fake, 1, "lnygaard")
    assert check_pull_request(str(story.path), "HEAD", "main", 1, gh, at("2026-11-02T12:00:00Z")) == []
    [comment] = fake.comments.values()
    assert "No problems" in comment["body"]
    story.git.git("checkout", "-q", "main")
    story.git.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", "provider",
                  env={"GIT_AUTHOR_NAME": "Maria Duarte", "GIT_AUTHOR_EMAIL": "maria.duarte@umd.example.org",
                       "GIT_COMMITTER_NAME": "Maria Duarte", "GIT_COMMITTER_EMAIL": "maria.duarte@umd.example.org",
                       "GIT_AUTHOR_DATE": "2026-11-02T13:00:00Z", "GIT_COMMITTER_DATE": "2026-11-02T13:00:00Z"})

    # Verified: the rollout pull request opens, once.
    story.commit("ines", "2026-11-03T09:00:00Z", {f"{ARC}/verification.yaml": verification()})
    first = sync_rollouts(str(story.path), "main", gh, at("2026-11-03T10:00:00Z"))
    again = sync_rollouts(str(story.path), "main", gh, at("2026-11-03T10:05:00Z"))
    assert first.opened == [KEY] and again.opened == []
    [(number, rollout)] = [(n, p) for n, p in fake.pulls.items() if p["head_ref"] == "rollout/arc-ce-6.19.0"]
    assert fake.labels[number] == ["staged-rollout", "state:verified"]
    assert "Approve this pull request" in rollout["body"]

    # Two early adopters approve: two acceptance files, committed by the controller, counted.
    fake.approve(number, "cfernandez")
    fake.approve(number, "kkoumantaros")
    fake.approve(number, "someone-else")  # not an administrator of any site: ignored
    imported = sync_rollouts(str(story.path), "main", gh, at("2026-11-03T12:00:00Z"))
    assert imported.imported == [f"{KEY} CESGA", f"{KEY} GRNET"]
    assert sync_rollouts(str(story.path), "main", gh, at("2026-11-03T12:05:00Z")).imported == []
    log = story.git.git("log", "-2", "--format=%ae %s")
    assert "rolloutctl@umd.example.org" in log and "CESGA accepts" in story.git.git("log", "--format=%s")
    assert app.validate(str(story.path), "main", at("2026-11-03T12:10:00Z")).problems == []
    status = app.status(str(story.path), "main", at("2026-11-03T12:10:00Z")).statuses[KEY]
    assert status.state == State.ROLLING_OUT
    assert fake.labels[number] == ["staged-rollout", "state:rolling-out"]  # set by the sync at 12:05

    # Reports land; the manager merges the decision; the rollout pull request closes.
    story.git.git("reset", "-q", "--hard", "main")  # the working tree follows the controller's commits
    story.commit("cesga", "2026-11-04T09:00:00Z", {f"{ARC}/reports/CESGA.yaml":
                                                   report_done("CESGA", "6.19.0", arc_packages())})
    story.commit("grnet", "2026-11-04T10:00:00Z", {f"{ARC}/reports/GRNET.yaml":
                                                   report_done("GRNET", "6.19.0", arc_packages())})
    sync_rollouts(str(story.path), "main", gh, at("2026-11-04T11:00:00Z"))
    assert fake.labels[number][-1] == "state:done"
    story.commit("maria", "2026-11-04T12:00:00Z", {f"{ARC}/decision.yaml": {"outcome": "success", "summary": "ok"}})
    closed = sync_rollouts(str(story.path), "main", gh, at("2026-11-04T13:00:00Z"))
    assert closed.closed == [KEY] and fake.pulls[number]["state"] == "closed"
    assert fake.labels[number][-1] == "state:approved"


def test_a_pull_request_by_someone_without_the_role_is_refused(story, fake):
    story.git.git("checkout", "-q", "-b", "pr")
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    pr_from_branch(story, fake, 2, "cfernandez")  # a site admin opening a provider's release
    problems = check_pull_request(str(story.path), "HEAD", "main", 2, client(fake), at("2026-11-02T10:00:00Z"))
    assert any("GitHub user cfernandez changes this file, but only the provider team of arc-ce may" in p.message
               for p in problems)


def test_a_pull_request_touching_another_sites_report_is_refused(story, fake):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    story.git.git("checkout", "-q", "-b", "pr")
    story.commit("cesga", "2026-11-03T09:00:00Z", {f"{ARC}/reports/GRNET.yaml": {"site": "GRNET",
                                                                                 "status": "rolling-out"}})
    pr_from_branch(story, fake, 3, "cfernandez")
    problems = check_pull_request(str(story.path), "HEAD", "main", 3, client(fake), at("2026-11-03T10:00:00Z"))
    messages = [p.message for p in problems]
    assert any("only an administrator of site GRNET may" in m for m in messages)
    assert fake.check_runs and next(iter(fake.check_runs.values()))["conclusion"] == "failure"
