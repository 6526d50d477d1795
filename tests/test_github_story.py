"""The GitHub story on the fake server: a provider's pull request fails with annotations, is fixed
and merged; the release is verified; its rollout pull request opens once; two approvals become two
acceptances, landed on the protected main through pull requests the controller merges; reports
land; the manager's decision closes it; labels follow each step."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import TOP, report_done, verification
from fake_github import FakeGitHub
from github import GithubException
from test_reconcile import ARC, arc_packages, arc_release

from controller import app
from controller.core.model import State
from controller.errors import BadInput
from controller.github_sync import check_pull_request, sync_rollouts
from controller.sources.github import GitHub

KEY = "arc-ce/6.19.0"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def fake(story):
    """GitHub holding the story's repository, main protected: pull requests with a review and the
    validate check, and the controller's app a bypass actor for pull requests only."""
    with FakeGitHub(git_dir=story.path) as server:
        server.protect("main", bypass=("rolloutctl-bot",), checks=("validate",))
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
    fake.clock = "2026-11-03T12:00:00Z"
    imported = sync_rollouts(str(story.path), "main", gh, at("2026-11-03T12:00:00Z"))
    assert imported.imported == [f"{KEY} CESGA", f"{KEY} GRNET"] and imported.waiting == []
    assert sync_rollouts(str(story.path), "main", gh, at("2026-11-03T12:05:00Z")).imported == []
    # Each landed as a merged pull request: main's last two commits are merges of the controller's commits.
    merges = story.git.git("log", "-2", "--first-parent", "--format=%P|%s", "main").splitlines()
    assert [m.split("|")[1] for m in merges] == [f"Merge pull request #{number + 2} from umd/acceptance/arc-ce-6.19.0/"
                                                 "GRNET", f"Merge pull request #{number + 1} from umd/acceptance/"
                                                 "arc-ce-6.19.0/CESGA"]
    landed = story.git.git("log", "-1", "--format=%ae|%s%n%b", merges[1].split("|")[0].split()[1])
    assert landed.startswith("rolloutctl@umd.example.org|arc-ce/6.19.0: CESGA accepts")
    assert "Approved-by: cfernandez" in landed
    assert {fake.pulls[n]["state"] for n in (number + 1, number + 2)} == {"closed"}
    assert not any(ref.startswith("refs/heads/acceptance/") for ref in story.git.git("for-each-ref").split())
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


def test_main_refuses_a_direct_push_even_from_the_controller(story, fake):
    gh = client(fake)
    before = story.git.git("rev-parse", "main")
    with pytest.raises(GithubException) as refused:
        gh.repo.get_git_ref("heads/main").edit(before)
    assert refused.value.status == 409 and "Protected branch" in refused.value.data["message"]
    with pytest.raises(GithubException):
        gh.repo.create_file("releases/x.yaml", "direct", b"x", branch="main")
    assert story.git.git("rev-parse", "main") == before


def test_an_acceptance_waits_for_mains_rules_when_the_controller_may_not_bypass_them(story, fake):
    fake.protect("main", checks=("validate",))  # no bypass actor
    fake.clock = "2026-11-03T12:00:00Z"
    gh = client(fake)
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.commit("ines", "2026-11-03T09:00:00Z", {f"{ARC}/verification.yaml": verification()})
    sync_rollouts(str(story.path), "main", gh, at("2026-11-03T10:00:00Z"))
    [rollout] = [n for n, p in fake.pulls.items() if p["head_ref"] == "rollout/arc-ce-6.19.0"]
    fake.approve(rollout, "cfernandez")
    before = story.git.git("rev-parse", "main")
    waiting = sync_rollouts(str(story.path), "main", gh, at("2026-11-03T12:00:00Z"))
    assert waiting.imported == [] and len(waiting.waiting) == 1
    assert 'Required status check "validate" is expected' in waiting.waiting[0]
    assert "approving review is required" in waiting.waiting[0]
    assert story.git.git("rev-parse", "main") == before
    [pending] = [n for n, p in fake.pulls.items() if p["head_ref"] == "acceptance/arc-ce-6.19.0/CESGA"]

    # Once the pull request has its review and its check, the next sync merges it; nothing is opened twice.
    fake.approve(pending, "mduarte")
    fake.check_runs[0] = {"name": "validate", "head_sha": fake.pulls[pending]["head"], "conclusion": "success"}
    fake.clock = "2026-11-03T13:00:00Z"
    landed = sync_rollouts(str(story.path), "main", gh, at("2026-11-03T13:00:00Z"))
    assert landed.imported == [f"{KEY} CESGA"] and landed.waiting == []
    assert len([p for p in fake.pulls.values() if p["head_ref"].startswith("acceptance/")]) == 1
    status = app.status(str(story.path), "main", at("2026-11-03T13:10:00Z")).statuses[KEY]
    assert status.state == State.ROLLING_OUT


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


def test_a_report_for_a_head_the_pull_request_has_left_posts_nothing(story, fake):
    story.git.git("checkout", "-q", "-b", "pr")
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    pr_from_branch(story, fake, 4, "lnygaard")
    old = story.git.git("rev-parse", "HEAD")
    story.commit("lars", "2026-11-02T10:00:00Z", {f"{ARC}/release.yaml": (TOP / ARC / "release.yaml").read_bytes()})
    pr_from_branch(story, fake, 4, "lnygaard")  # the pull request moved on to a new head
    gh = client(fake)
    assert check_pull_request(str(story.path), old, "main", 4, gh, at("2026-11-02T11:00:00Z"), head_sha=old) is None
    assert fake.check_runs == {} and fake.comments == {}
    with pytest.raises(BadInput, match="is not the commit"):
        check_pull_request(str(story.path), "HEAD", "main", 4, gh, at("2026-11-02T11:00:00Z"), head_sha=old)
