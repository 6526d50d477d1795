"""The pull request side of the workflow, decided purely: check-run annotations and the summary
comment for a pull request, whether its GitHub identities hold the roles for what they touch, the
labels that follow a release's state, and which approvals of a rollout pull request become
acceptances. The GitHub adapter carries these out; git stays the only record that counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.core.model import Role, State, World
from controller.core.policy import CONTROLLER_TRAILER, role_for_path
from controller.errors import Problem

MARKER = "<!-- rolloutctl summary -->"
_ROLE_TEXT = {Role.PROVIDER: "the provider team of {scope}", Role.TECHNOLOGY_UNIT: "the technology unit",
              Role.SITE_ADMIN: "an administrator of site {scope}", Role.MANAGER: "a staged-rollout manager",
              Role.REPOSITORY_MANAGER: "a repository manager"}


def annotations(problems: list[Problem]) -> list[dict]:
    return [{"path": p.file.rstrip("/") or ".", "start_line": p.line or 1, "end_line": p.line or 1,
             "annotation_level": "failure", "title": p.rule,
             "message": p.message + (f"\nFix: {p.hint}" if p.hint else "")} for p in problems]


def who_may(path: str) -> str:
    needed = role_for_path(path)
    if needed is None:
        return "anyone"
    role, scope = needed
    return _ROLE_TEXT[role].format(scope=scope)


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


def login_roles(world: World) -> dict[str, set[tuple[Role, str]]]:
    """GitHub login -> the roles (with scope) it holds, from roles.yaml and adopters/."""
    config = world.config
    held: dict[str, set[tuple[Role, str]]] = {}
    if config is None:
        return held

    def grant(key: str, role: Role, scope: str) -> None:
        person = config.people.get(key)
        if person and person.github:
            held.setdefault(person.github.lower(), set()).add((role, scope))

    for team, role in (("technology-unit", Role.TECHNOLOGY_UNIT), ("staged-rollout-managers", Role.MANAGER),
                       ("repository-managers", Role.REPOSITORY_MANAGER)):
        for key in config.teams.get(team, ()):
            grant(key, role, "")
    for members, components in config.providers.values():
        for key in members:
            for component in components:
                grant(key, Role.PROVIDER, component)
    for site, adopter in world.adopters.items():
        for admin in adopter.admins:
            if admin.github:
                held.setdefault(admin.github.lower(), set()).add((Role.SITE_ADMIN, site))
    return held


def _may(roles: set[tuple[Role, str]], role: Role, scope: str, path: str) -> bool:
    if (role, scope) in roles or (role == Role.REPOSITORY_MANAGER and (Role.MANAGER, "") in roles):
        return True
    # Managers review registrations; a site's report stays the site's own.
    return role == Role.SITE_ADMIN and path.startswith("adopters/") and (Role.MANAGER, "") in roles


def authorize(world: World, author: str, commit_logins: list[str | None], changed: list[str]) -> list[Problem]:
    """Every GitHub identity of the pull request must hold the role for every path it touches."""
    held = login_roles(world)
    problems = []
    for path in sorted(changed):
        needed = role_for_path(path)
        if needed is None:
            continue
        role, scope = needed
        for login in sorted({author, *(c for c in commit_logins if c)}):
            if not _may(held.get(login.lower(), set()), role, scope, path):
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
