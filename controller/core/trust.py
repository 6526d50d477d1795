"""Who may change what: one table of role grants (path pattern -> role -> who holds it), resolved
against the configuration and the adopters as they stood at one moment (a ``Roster``).

The history replay checks git authors with it, the pull-request check GitHub logins, and
CODEOWNERS is written from it, so the three can never disagree. Pure: no git, no gpg; a commit's
verified signer comes in as a fingerprint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from controller.core.model import Adopter, Commit, Person, Role, Roles

TEAM = "team:"
PROVIDER = "provider"  # the members of the provider teams owning the component
ADMINS = "admins"  # the administrators of the site, as adopters/<site>.yaml lists them
APPROVAL = "approval"  # the controller, recording the approval of one of the site's admins
MANAGERS = TEAM + "staged-rollout-managers"


@dataclass(frozen=True)
class Grant:
    pattern: re.Pattern  # the paths; named groups give the scope (component, site)
    owners: str  # the same paths as a CODEOWNERS pattern, with {component} or {site}
    role: Role
    holders: tuple[str, ...]
    text: str  # who, in words, for messages


def _grant(regex: str, owners: str, role: Role, holders: tuple[str, ...], text: str) -> Grant:
    return Grant(re.compile(regex), owners, role, holders, text)


_RELEASE = r"^releases/(?P<component>[^/]+)/[^/]+/"

# The order matters only for CODEOWNERS, where later lines win: the most specific come last.
GRANTS: tuple[Grant, ...] = (
    _grant(r"^repos-config/", "/repos-config/", Role.REPOSITORY_MANAGER,
           (TEAM + "repository-managers", MANAGERS), "a repository manager"),
    _grant(_RELEASE + r"release\.yaml$", "/releases/{component}/*/release.yaml", Role.PROVIDER, (PROVIDER,),
           "the provider team of {component}"),
    _grant(_RELEASE + r"packages/", "/releases/{component}/*/packages/", Role.PROVIDER, (PROVIDER,),
           "the provider team of {component}"),
    _grant(_RELEASE + r"verification\.yaml$", "/releases/*/*/verification.yaml", Role.TECHNOLOGY_UNIT,
           (TEAM + "technology-unit",), "the technology unit"),
    _grant(_RELEASE + r"decision\.yaml$", "/releases/*/*/decision.yaml", Role.MANAGER, (MANAGERS,),
           "a staged-rollout manager"),
    _grant(_RELEASE + r"withdrawal\.yaml$", "/releases/*/*/withdrawal.yaml", Role.MANAGER, (MANAGERS,),
           "a staged-rollout manager"),
    # Reports are the site's own: not even a manager may write one for it.
    _grant(_RELEASE + r"reports/(?P<site>[^/]+)\.yaml$", "/releases/*/*/reports/{site}.yaml", Role.SITE_ADMIN,
           (ADMINS, APPROVAL), "an administrator of site {site}"),
    # Registering a site is reviewed by the managers, who may also write it for the site.
    _grant(r"^adopters/(?P<site>[^/]+)\.yaml$", "/adopters/{site}.yaml", Role.SITE_ADMIN, (ADMINS, MANAGERS),
           "an administrator of site {site}"),
)

CONTROLLER_TRAILER = "Approved-by:"


def grant_for(path: str) -> tuple[Grant, dict[str, str]] | None:
    """The grant covering a path and its scope, or None for a path no role guards."""
    for grant in GRANTS:
        match = grant.pattern.match(path)
        if match:
            return grant, match.groupdict()
    return None


def role_for_path(path: str) -> tuple[Role, str] | None:
    """Which role may write a path, with its scope (component or site)."""
    found = grant_for(path)
    if found is None:
        return None
    grant, scope = found
    return grant.role, scope.get("site") or scope.get("component") or ""


def who_may(path: str) -> str:
    found = grant_for(path)
    if found is None:
        return "anyone"
    grant, scope = found
    return grant.text.format(**scope)


def approver_of(message: str) -> str | None:
    """The GitHub login a controller-made acceptance names, from its trailer."""
    for line in message.splitlines():
        if line.startswith(CONTROLLER_TRAILER):
            return line.removeprefix(CONTROLLER_TRAILER).strip() or None
    return None


@dataclass(frozen=True)
class Roster:
    """The grants resolved to people at one moment: the configuration and adopters then."""

    roles: Roles | None
    adopters: dict[str, Adopter] = field(default_factory=dict)

    def holders(self, path: str, registering: tuple[Person, ...] = ()) -> tuple[Person, ...]:
        """Everyone who may change ``path``. ``registering``: the admins a new adopters/<site>.yaml
        lists, who may register a site that has none yet."""
        found = grant_for(path)
        if found is None or self.roles is None:
            return ()
        grant, scope = found
        people: list[Person] = []
        for holder in grant.holders:
            if holder.startswith(TEAM):
                people += self.team(holder.removeprefix(TEAM))
            elif holder == PROVIDER:
                people += self._provider(scope["component"])
            elif holder == ADMINS:
                people += self.admins(scope["site"]) or registering
        return tuple(people)

    def admins(self, site: str) -> tuple[Person, ...]:
        adopter = self.adopters.get(site)
        if adopter is None or self.roles is None:
            return ()
        return tuple(_with_known_keys(self.roles, a) for a in adopter.admins)

    def team(self, name: str) -> list[Person]:
        roles = self.roles
        return [roles.people[m] for m in roles.teams.get(name, ()) if m in roles.people]

    def _provider(self, component: str) -> list[Person]:
        roles = self.roles
        return [roles.people[m] for members, components in roles.providers.values() if component in components
                for m in members if m in roles.people]

    def provider_emails(self, component: str) -> set[str]:
        return {e for p in self._provider(component) for e in p.emails} if self.roles else set()

    def may_author(self, path: str, commit: Commit, signer: str | None, signed: bool,
                   registering: tuple[Person, ...] = ()) -> bool:
        """Whether ``commit``'s author held the role for ``path``; with ``signed``, only through a
        valid signature by one of that person's keys (``signer``: the verified fingerprint)."""
        email = commit.author.email.lower()
        for person in self.holders(path, registering):
            if email in person.emails and (not signed or (signer is not None and signer in person.keys)):
                return True
        found = grant_for(path)
        if found is not None and APPROVAL in found[0].holders:
            return self._is_approval(found[1]["site"], commit)
        return False

    def _is_approval(self, site: str, commit: Commit) -> bool:
        """The controller records a site's approval of a rollout pull request as its acceptance: such
        a commit counts only when the approver it names is an administrator of that very site."""
        controller = self.roles.controller if self.roles else None
        if controller is None or commit.author.email.lower() not in controller.emails:
            return False
        approver = approver_of(commit.message)
        return approver is not None and any(a.github and a.github.lower() == approver.lower()
                                            for a in self.admins(site))

    def may_login(self, path: str, login: str) -> bool:
        """Whether a GitHub login holds the role for ``path``."""
        return any(p.github and p.github.lower() == login.lower() for p in self.holders(path))

    def codeowners(self) -> list[tuple[str, list[str]]]:
        """(CODEOWNERS pattern, @logins) for every grant, expanded per component and site."""
        if self.roles is None:
            return []
        rules = []
        for grant in GRANTS:
            if "{component}" in grant.owners:
                scopes = [{"component": c} for name in sorted(self.roles.providers)
                          for c in sorted(self.roles.providers[name][1])]
            elif "{site}" in grant.owners:
                scopes = [{"site": s} for s in sorted(self.adopters)]
            else:
                scopes = [{}]
            for scope in scopes:
                pattern = grant.owners.format(**scope)
                probe = pattern.lstrip("/").replace("*", "x") + ("x" if pattern.endswith("/") else "")
                logins = sorted({f"@{p.github}" for p in self.holders(probe) if p.github})
                if logins:
                    rules.append((pattern, logins))
        return rules


def _with_known_keys(roles: Roles, admin: Person) -> Person:
    """A site admin's signing keys: those the adopter file lists and those roles.yaml gives the
    same person (matched by e-mail)."""
    known = tuple(k for p in roles.people.values() if set(p.emails) & set(admin.emails) for k in p.keys)
    if not known:
        return admin
    return Person(admin.key, admin.name, admin.emails, admin.github, admin.keys + known)
