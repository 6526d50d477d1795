"""The GitHub jobs: check a pull request (validate, GitHub identities, check run, summary comment),
and keep each release's rollout pull request in step with git (opened once, labels following the
state, approvals imported as acceptances committed by the controller, closed by the decision).
Wires the GitHub adapter and the git writer to the pure core; prints nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from controller import app
from controller.core.model import State
from controller.core.public import is_embargoed
from controller.core.pullrequests import (
    MARKER,
    acceptances_to_import,
    annotations,
    authorize,
    state_labels,
    summary_comment,
)
from controller.errors import Problem
from controller.sources import git
from controller.sources.github import GitHub

_OPEN = {State.VERIFIED, State.ROLLING_OUT, State.DONE}
_CLOSE = {State.APPROVED, State.PRODUCTION, State.REJECTED, State.OBSOLETED, State.WITHDRAWN}


def check_pull_request(repo_path: str, rev: str, base: str, number: int, github: GitHub,
                       now: datetime) -> list[Problem]:
    pull = github.pull_request(number)
    validation = app.validate(repo_path, rev, now, base)
    world, _ = app.read_world(repo_path, rev)
    problems = validation.problems + authorize(world, pull.author, [login for _, login, _ in pull.commits],
                                                list(pull.files))
    title = f"{len(problems)} problem(s)" if problems else "no problems"
    github.report_check(pull.head_sha, "rolloutctl validate", title, summary_comment(list(pull.files), problems),
                        annotations(problems))
    github.upsert_comment(number, MARKER, summary_comment(list(pull.files), problems))
    return problems


@dataclass
class SyncOutcome:
    opened: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)  # "component/version site"
    closed: list[str] = field(default_factory=list)


def branch_of(key: str) -> str:
    return "rollout/" + key.replace("/", "-")


def sync_rollouts(repo_path: str, branch: str, github: GitHub, now: datetime, base_url: str = "") -> SyncOutcome:
    outcome = SyncOutcome()
    repo = git.open_repository(repo_path)
    assessment = app.status(repo_path, branch, now)
    world, _ = app.read_world(repo_path, branch)
    controller = world.config.controller if world.config else None
    for key, status in sorted(assessment.statuses.items()):
        release = world.releases[key].release
        if release is None or is_embargoed(release, now) or status.state not in _OPEN | _CLOSE:
            continue  # an embargoed rollout is not discussed in public
        number = github.find_pull(branch_of(key))
        if number is None and status.state in _OPEN:
            number = github.open_pull(branch_of(key), f"Staged rollout of {release.component} {release.version}",
                                      _rollout_body(world, key, base_url))
            outcome.opened.append(key)
        if number is None:
            continue
        github.set_labels(number, state_labels(status.state))
        if status.state in _OPEN and controller is not None:
            for acceptance in acceptances_to_import(world, key, github.approvals(number)):
                git.commit_files(repo, branch, {acceptance.path: f"site: {acceptance.site}\nstatus: rolling-out\n"
                                                .encode()}, controller.name, controller.emails[0],
                                 acceptance.message(key), now)
                outcome.imported.append(f"{key} {acceptance.site}")
        if status.state in _CLOSE and github.pull_request(number).state == "open":
            github.close_pull(number)
            outcome.closed.append(key)
    return outcome


def _rollout_body(world, key: str, base_url: str) -> str:
    release = world.releases[key].release
    team = (world.config.github_teams or {}).get(release.stack) if world.config else None
    mention = f"@{team}" if team else f"early adopters of {release.stack}"
    base = base_url.rstrip("/")
    return "\n".join([
        f"{mention}: {release.component} {release.version} ({release.category.value}) is verified and ready for "
        "staged rollout.", "",
        f"{release.summary}", f"Release notes: {release.raw['release_notes']}", "",
        "**Approve this pull request to accept the rollout for your site** (within one working day); the "
        "controller records your acceptance in git. Install from the Staged Rollout channel"
        + (f": {base}/staged-rollout/" if base else "") + ".", "",
        f"When done, commit the report that `rolloutctl report-template {key} --site <SITE>` prints.",
    ]) + "\n"
