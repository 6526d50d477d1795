"""The GitHub jobs: check a pull request (validate, GitHub identities, check run, summary comment),
and keep each release's rollout pull request in step with git (opened once, labels following the
state, approvals imported as acceptances, closed by the decision). An acceptance lands the way a
protected main allows: a commit by the controller's identity on its own branch, in a pull request
the controller merges (as a bypass actor of main's rules, or once those rules are met).
Wires the GitHub adapter to the pure core; prints nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from controller import app
from controller.core.installability import Installability
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
from controller.errors import BadInput, Problem
from controller.sources.github import GitHub

_OPEN = {State.VERIFIED, State.ROLLING_OUT, State.DONE}
_CLOSE = {State.APPROVED, State.PRODUCTION, State.REJECTED, State.OBSOLETED, State.WITHDRAWN}


def check_pull_request(repo_path: str, rev: str, base: str, number: int, github: GitHub,
                       now: datetime, head_sha: str | None = None,
                       gate: Installability | None = None) -> list[Problem] | None:
    """Validate pull request ``number`` (its commits are ``rev`` in the local repository), report a
    check run and the summary comment. With ``head_sha``, the commit a workflow run was started for:
    None, reporting nothing, when the pull request has moved on since (its newer run reports)."""
    if head_sha is not None and app.head_commit(repo_path, rev) != head_sha:
        raise BadInput(f"{rev} is not the commit {head_sha} to report on",
                       "fetch the pull request's head (refs/pull/N/head) and pass it as --at")
    pull = github.pull_request(number)
    if head_sha is not None and pull.head_sha != head_sha:
        return None
    validation = app.validate(repo_path, rev, now, base, gate)  # gate: recorded installability results
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
    imported: list[str] = field(default_factory=list)  # "component/version site": merged into the branch
    waiting: list[str] = field(default_factory=list)  # "component/version site: why its merge waits"
    closed: list[str] = field(default_factory=list)


def branch_of(key: str) -> str:
    return "rollout/" + key.replace("/", "-")


def acceptance_branch(key: str, site: str) -> str:
    return f"acceptance/{key.replace('/', '-')}/{site}"


def sync_rollouts(repo_path: str, branch: str, github: GitHub, now: datetime, base_url: str = "",
                  merge_method: str = "merge") -> SyncOutcome:
    outcome = SyncOutcome()
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
        if status.state in _OPEN:
            approvals = github.approvals(number)
            for acceptance in acceptances_to_import(world, key, approvals):
                if controller is None:
                    outcome.waiting.append(f"{key} {acceptance.site}: repos-config/roles.yaml names no controller "
                                           "identity to record it with (add controller: name and emails)")
                    continue
                landing = github.land_file(acceptance_branch(key, acceptance.site), acceptance.path,
                                           f"site: {acceptance.site}\nstatus: rolling-out\n".encode(),
                                           acceptance.message(key), (controller.name, controller.emails[0]), now,
                                           base=branch, merge_method=merge_method)
                if landing.merged:
                    outcome.imported.append(f"{key} {acceptance.site}")
                else:
                    outcome.waiting.append(f"{key} {acceptance.site}: pull request #{landing.number} waits: "
                                           f"{landing.reason}")
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
