"""The pull request side of the workflow, decided purely: check-run annotations and the summary
comment for a pull request, whether its GitHub identities hold the roles for what they touch, the
labels that follow a release's state, and which approvals of a rollout pull request become
acceptances. The GitHub adapter carries these out; git stays the only record that counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.core.model import State, World
from controller.core.trust import CONTROLLER_TRAILER, Roster, grant_for, who_may
from controller.errors import Problem

MARKER = "<!-- rolloutctl summary -->"


def annotations(problems: list[Problem]) -> list[dict]:
    return [{"path": p.file.rstrip("/") or ".", "start_line": p.line or 1, "end_line": p.line or 1,
             "annotation_level": "failure", "title": p.rule,
             "message": p.message + (f"\nFix: {p.hint}" if p.hint else "")} for p in problems]


def summary_comment(changed: list[str], problems: list[Problem]) -> str:
    lines = [MARKER, "### rolloutctl", "", "| file | makes | may be changed by |", "| --- | --- | --- |"]
    for path in sorted(changed):
        name = path.rsplit("/", 1)[-1]
        kind = {"release.yaml": "a new release (certified)", "verification.yaml": "the verification",
                "decision.yaml": "the closing decision", "withdrawal.yaml": "a withdrawal"}.get(name, "")
        if "/reports/" in path:
            kind = "an early adopter's acceptance or report"
        lines.append(f"| `{path}` | {kind or '-'} | {who_may(path)} |")
    lines.append("")
    if problems:
        lines.append(f"**{len(problems)} problem(s)**, each annotated on its line:")
        lines += [f"- `{p.location()}` [{p.rule}] {p.message}" + (f" *Fix:* {p.hint}" if p.hint else "")
                  for p in problems]
    else:
        lines.append("No problems: schema and policy checks pass.")
    return "\n".join(lines) + "\n"


def authorize(world: World, author: str, commit_logins: list[str | None], changed: list[str]) -> list[Problem]:
    """Every GitHub identity of the pull request must hold the role for every path it touches, as
    roles.yaml and adopters/ stand on the base (the same grants that judge git authors)."""
    roster = Roster(world.config.roles if world.config else None, world.adopters)
    problems = []
    for path in sorted(changed):
        if grant_for(path) is None:
            continue
        for login in sorted({author, *(c for c in commit_logins if c)}):
            if not roster.may_login(path, login):
                problems.append(Problem(path, f"GitHub user {login} changes this file, but only {who_may(path)} may",
                                        "the change must come from someone holding that role", rule="roles"))
    if None in commit_logins:
        problems.append(Problem(changed[0] if changed else ".", "a commit's author has no GitHub account linked",
                                "commit with the e-mail address of your GitHub account", rule="roles"))
    return problems


def state_labels(state: State) -> list[str]:
    return ["staged-rollout", f"state:{state.value}"]


@dataclass(frozen=True)
class Acceptance:
    site: str
    path: str
    login: str
    review_url: str

    def message(self, key: str) -> str:
        return (f"{key}: {self.site} accepts the staged rollout\n\n"
                f"Imported from the approval of the rollout pull request.\n\n"
                f"{CONTROLLER_TRAILER} {self.login}\nReview: {self.review_url}\n")


def acceptances_to_import(world: World, key: str, approvals: list) -> list[Acceptance]:
    """Approvals by an administrator of a registered site that has no report file yet."""
    files = world.releases.get(key)
    if files is None:
        return []
    reported = {r.file_site for r in files.reports}
    found = []
    for approval in approvals:
        for site, adopter in sorted(world.adopters.items()):
            if site in reported or site in {a.site for a in found}:
                continue
            if any(a.github and a.github.lower() == approval.login.lower() for a in adopter.admins):
                found.append(Acceptance(site, f"releases/{key}/reports/{site}.yaml", approval.login, approval.url))
    return found
