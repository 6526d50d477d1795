"""Policy as a table of named rules. Each rule looks at the model and returns its findings (an empty
list is a pass); all rules always run, so a user sees every unmet rule at once.

A rule marked ``excludes`` also keeps the offending file out of the lifecycle: a transition written
by the wrong person, or for a site that is not registered, is reported and not counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from posixpath import normpath

from controller.core.advisory_words import check_severity_words
from controller.core.model import Category, Commit, Config, Package, ReleaseFiles, Role, World
from controller.core.versions import major_of
from controller.core.workdays import check_calendar_country
from controller.errors import Problem


@dataclass(frozen=True)
class Context:
    world: World
    pending: frozenset[str] = frozenset()  # commit ids of a pull request not merged yet


@dataclass(frozen=True)
class Rule:
    name: str
    summary: str
    check: Callable[[Context], Iterable[Problem]]
    excludes: bool = False


def _releases(ctx: Context) -> Iterable[ReleaseFiles]:
    return ctx.world.releases.values()


def _problem(rule: str, path: str, message: str, hint: str, pointer: str = "") -> Problem:
    return Problem(path, message, hint, pointer, rule=rule)


# --- rules on what files say -------------------------------------------------------------------


def check_paths_agree(ctx: Context) -> Iterable[Problem]:
    for files in _releases(ctx):
        component, version = files.key.split("/")
        r = files.release
        if r and (r.component, r.version) != (component, version):
            field_name, value, expected = (("component", r.component, component) if r.component != component
                                           else ("version", r.version, version))
            yield _problem("paths-agree", r.path, f"{field_name} is {value!r} but the directory says {expected!r}",
                           f"set {field_name}: {expected}, or move the file to releases/{r.component}/{r.version}/",
                           f"/{field_name}")
        for report in files.reports:
            if report.site != report.file_site:
                yield _problem("paths-agree", report.path, f"site is {report.site!r} but the file is named for "
                               f"{report.file_site!r}", f"a site reports in reports/{report.site}.yaml", "/site")
    for stem, adopter in ctx.world.adopters.items():
        if adopter.site != stem:
            yield _problem("paths-agree", adopter.path,
                           f"site is {adopter.site!r} but the file is adopters/{stem}.yaml",
                           f"rename the file to adopters/{adopter.site}.yaml", "/site")


def check_known_component(ctx: Context) -> Iterable[Problem]:
    config = ctx.world.config
    if config is None:
        return
    for files in _releases(ctx):
        r = files.release
        if r is None:
            continue
        if r.component not in config.components:
            yield _problem("known-component", r.path, f"component {r.component!r} is not in the distribution",
                           "ask the repository managers to add it to repos-config/distribution.yaml", "/component")
        elif config.components[r.component] != r.stack:
            yield _problem("known-component", r.path, f"stack is {r.stack!r} but {r.component} belongs to "
                           f"{config.components[r.component]!r}", f"set stack: {config.components[r.component]}",
                           "/stack")
        if r.distribution not in config.baselines:
            yield _problem("known-component", r.path, f"distribution {r.distribution!r} is not defined",
                           "use one of: " + ", ".join(config.baselines), "/distribution")
            continue
        platforms = config.major_platforms[r.distribution]
        for i, p in enumerate(r.packages):
            if p.platform not in platforms:
                yield _problem("known-component", r.path, f"platform {p.platform!r} is not served by distribution "
                               f"{r.distribution}", "use one of: " + ", ".join(platforms), f"/packages/{i}/platform")


def check_baseline(ctx: Context) -> Iterable[Problem]:
    config = ctx.world.config
    if config is None:
        return
    for files in _releases(ctx):
        r = files.release
        if r is None or r.distribution not in config.baselines:
            continue
        baseline = config.baselines[r.distribution].get(r.component)
        major = major_of(r.version)
        if baseline is None:
            yield _problem("baseline", r.path, f"distribution {r.distribution} has no baseline for {r.component}",
                           "the roadmap (repos-config/distribution.yaml, majors) must list the component first",
                           "/version")
        elif major != baseline:
            yield _problem("baseline", r.path, f"version {r.version} is major {major}, but distribution "
                           f"{r.distribution} carries {r.component} {baseline}.x",
                           "within a distribution major release a component changes only up to a minor version; "
                           "a new major goes to the next distribution release", "/version")


def check_emergency(ctx: Context) -> Iterable[Problem]:
    for files in _releases(ctx):
        r = files.release
        if r is None:
            continue
        if r.category == Category.EMERGENCY and not r.justification:
            yield _problem("emergency-justification", r.path, "an emergency release needs a written justification",
                           "add emergency: {justification: ...} saying why it cannot wait for a revision", "/category")
        if r.category != Category.EMERGENCY and "emergency" in r.raw:
            yield _problem("emergency-justification", r.path, f"a {r.category.value} release has an emergency section",
                           "set category: emergency, or remove the section", "/emergency")
        decision = files.decision
        may_skip = r.category == Category.EMERGENCY and r.skip_staged_rollout
        if decision and decision.skip_staged_rollout and not may_skip:
            yield _problem("emergency-justification", decision.path,
                           "only an emergency release that asked for it may skip staged rollout",
                           "remove skip_staged_rollout, or the provider sets emergency.skip_staged_rollout "
                           "with a justification", "/skip_staged_rollout")


_CVE = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}")


def check_security(ctx: Context) -> Iterable[Problem]:
    for files in _releases(ctx):
        r = files.release
        if r is None or r.security is not None:
            continue
        text = " ".join([r.raw.get("changelog", ""), r.summary] + [str(i) for i in r.raw.get("issues", ())])
        found = sorted(set(_CVE.findall(text)))
        if found:
            yield _problem("security-advisory", r.path, f"the release fixes {', '.join(found)} but has no security "
                           "section", "add security: {advisory: <url>, severity: ..., cves: [...]}", "")


_SAFE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._~%-]*\.(rpm|deb)$")


def expected_filename(p: Package) -> str:
    if p.release is None:
        return f"{p.name}_{p.version}_{p.arch}.deb"
    return f"{p.name}-{p.version}-{p.release}.{p.arch}.rpm"


def check_package_sources(ctx: Context) -> Iterable[Problem]:
    config = ctx.world.config
    formats = {r.platform: r.format for r in config.repositories} if config else {}
    for files in _releases(ctx):
        r = files.release
        if r is None:
            continue
        for i, p in enumerate(r.packages):
            where = f"/packages/{i}"
            if p.path is not None:
                yield from _path_problems(ctx, r.path, r.directory, p.path, where)
            elif p.url is not None:
                yield from _url_problems(ctx, r.path, p.url, where)
            name = p.filename
            if not _SAFE_FILE.match(name) or ".." in name:
                yield _problem("package-source", r.path, f"file name {name!r} is not a plain package file name",
                               "name the file like name-version-release.arch.rpm or name_version_arch.deb",
                               where + ("/path" if p.path else "/url"))
                continue
            expected = expected_filename(p)
            if name != expected:
                yield _problem("package-source", r.path, f"file {name!r} does not match the package fields, which "
                               f"make {expected!r}", "make name, version, release and arch agree with the file",
                               where)
            wanted = formats.get(p.platform)
            if wanted and (wanted == "yum") != (p.format == "rpm"):
                yield _problem("package-source", r.path, f"a {p.format} package for platform {p.platform}, which is "
                               f"published as {wanted}", "use the package format of that platform", where)


def _path_problems(ctx: Context, manifest: str, directory: str, path: str, where: str) -> Iterable[Problem]:
    clean = normpath(path)
    if path.startswith("/") or "\\" in path or clean.startswith("..") or clean != path or path.startswith("./"):
        yield _problem("package-source", manifest, f"path {path!r} leaves the release directory or is not "
                       "normalized", "give a plain relative path such as packages/<file>", where + "/path")
        return
    if not path.startswith("packages/"):
        yield _problem("package-source", manifest, f"path {path!r} is not under packages/",
                       "keep the release's files in its packages/ directory", where + "/path")
    elif f"{directory}/{path}" not in ctx.world.snapshot.files:
        yield _problem("package-source", manifest, f"{directory}/{path} is not in the repository",
                       "commit the file, or fetch it by url", where + "/path")


def _url_problems(ctx: Context, manifest: str, url: str, where: str) -> Iterable[Problem]:
    if "/../" in url or url.endswith("/..") or "%2f" in url.lower() or "%2e%2e" in url.lower():
        yield _problem("package-source", manifest, f"url {url!r} contains a path trick",
                       "give the package's direct address", where + "/url")
    if url.startswith("file://"):
        local = url.removeprefix("file://")
        roots = ctx.world.config.file_roots if ctx.world.config else ()
        if not any(normpath(local).startswith(root.rstrip("/") + "/") for root in roots):
            yield _problem("package-source", manifest, f"file url {url!r} is outside the directories the "
                           "repository managers allow", "list the directory under file_roots in "
                           "repos-config/repositories.yaml, or serve the file over https", where + "/url")


def check_unique_packages(ctx: Context) -> Iterable[Problem]:
    owners: dict[tuple[str, str], str] = {}
    for files in sorted(_releases(ctx), key=lambda f: _landing_order(ctx, f)):
        r = files.release
        if r is None:
            continue
        for i, p in enumerate(r.packages):
            key = (p.platform, p.nevra)
            if key in owners and owners[key] != r.key:
                yield _problem("unique-package", r.path, f"package {p.nevra} ({p.platform}) is already claimed by "
                               f"release {owners[key]}", "a package build belongs to one release; bump its release "
                               "number", f"/packages/{i}")
            elif key in owners:
                yield _problem("unique-package", r.path, f"package {p.nevra} is listed twice", "list it once",
                               f"/packages/{i}")
            owners.setdefault(key, r.key)


def _landing_order(ctx: Context, files: ReleaseFiles) -> tuple:
    touches = ctx.world.snapshot.touches(f"releases/{files.key}/release.yaml")
    if not touches:
        return (2, files.key)
    landed = touches[0].landed
    return (1 if landed.id in ctx.pending else 0, landed.committer.time.isoformat(), files.key)


def check_immutable(ctx: Context) -> Iterable[Problem]:
    for files in _releases(ctx):
        path = f"releases/{files.key}/release.yaml"
        merged, landed = False, None
        for touch in ctx.world.snapshot.touches(path):
            if touch.change == "A":
                merged, landed = touch.landed.id not in ctx.pending, touch.landed.id
                continue
            # Edits inside the pull request that created it land with it, in the same merge.
            if merged and touch.change == "M" and touch.landed.id != landed:
                yield _problem("release-immutable", path, f"release.yaml was changed after it was merged (commit "
                               f"{touch.commit.short} by {touch.commit.author.name})",
                               "revert the change; a corrected release needs a new version directory")
                break


def check_registered_site(ctx: Context) -> Iterable[Problem]:
    for files in _releases(ctx):
        for report in files.reports:
            if report.file_site not in ctx.world.adopters:
                yield _problem("registered-site", report.path, f"site {report.file_site!r} is not a registered early "
                               "adopter", f"register it first in adopters/{report.file_site}.yaml", "/site")


def check_independent(ctx: Context) -> Iterable[Problem]:
    config = ctx.world.config
    if config is None:
        return
    for files in _releases(ctx):
        if files.release is None:
            continue
        provider = _provider_emails(config, files.release.component)
        provider.add(files.release.provider_contact.lower())
        for report in files.reports:
            adopter = ctx.world.adopters.get(report.file_site)
            if adopter and any(set(a.emails) & provider for a in adopter.admins):
                yield _problem("independent-ea", report.path, f"site {adopter.site} is run by the release's provider "
                               "and does not count as an independent early adopter",
                               "another site must carry out the rollout")


def check_report_tested(ctx: Context) -> Iterable[Problem]:
    for files in _releases(ctx):
        r = files.release
        if r is None:
            continue
        sums: dict[str, set[str]] = {}
        for p in r.packages:  # an rpm and a deb may share a name
            sums.setdefault(p.name, set()).add(p.sha256)
        for report in files.reports:
            if report.status != "done":
                continue
            if report.tested_version != r.version:
                yield _problem("report-tested", report.path, f"the report tested version {report.tested_version}, "
                               f"not {r.version}", f"test {r.version} and report its version", "/tested/version")
            for i, (name, digest) in enumerate(report.tested_checksums.items()):
                if name not in sums:
                    yield _problem("report-tested", report.path, f"package {name!r} is not part of {r.key}",
                                   "list the release's packages (rolloutctl report-template fills them in)",
                                   f"/tested/packages/{i}/name")
                elif digest not in sums[name]:
                    yield _problem("report-tested", report.path, f"the tested checksum of {name} differs from the "
                                   "release's", "install the packages from the Staged Rollout channel and report "
                                   "their sha256", f"/tested/packages/{i}/sha256")


# --- who may change what (SPEC section 6) --------------------------------------------------------


def _provider_emails(config: Config, component: str) -> set[str]:
    emails = set()
    for members, components in config.providers.values():
        if component in components:
            for member in members:
                person = config.people.get(member)
                if person:
                    emails.update(person.emails)
    return emails


def role_for_path(path: str) -> tuple[Role, str] | None:
    """Which role may write a path, with its scope (component or site)."""
    parts = path.split("/")
    if parts[0] == "releases" and len(parts) >= 4:
        name = parts[-1]
        if len(parts) == 5 and parts[3] == "reports":
            return Role.SITE_ADMIN, name.removesuffix(".yaml")
        if name in ("release.yaml",) or parts[3] == "packages":
            return Role.PROVIDER, parts[1]
        if name == "verification.yaml":
            return Role.TECHNOLOGY_UNIT, parts[1]
        if name in ("decision.yaml", "withdrawal.yaml"):
            return Role.MANAGER, parts[1]
    if parts[0] == "adopters" and len(parts) == 2:
        return Role.SITE_ADMIN, parts[1].removesuffix(".yaml")
    if parts[0] == "repos-config":
        return Role.REPOSITORY_MANAGER, ""
    return None


def holds_role(world: World, commit: Commit, role: Role, scope: str) -> bool:
    config = world.config
    if config is None:
        return False
    email = commit.author.email.lower()

    def person_ok(emails: tuple[str, ...], keys: tuple[str, ...]) -> bool:
        if email not in emails:
            return False
        return not config.require_signed_commits or (commit.signed_by is not None and commit.signed_by in keys)

    def team(name: str) -> bool:
        return any(person_ok(config.people[m].emails, config.people[m].keys)
                   for m in config.teams.get(name, ()) if m in config.people)

    if role == Role.PROVIDER:
        return any(scope in components and any(person_ok(config.people[m].emails, config.people[m].keys)
                                               for m in members if m in config.people)
                   for members, components in config.providers.values())
    if role == Role.SITE_ADMIN:
        adopter = world.adopters.get(scope)
        admins = adopter.admins if adopter else ()
        # Registering a site is reviewed by the managers, who may also write it for the site.
        return (any(person_ok(a.emails, a.keys + _keys_of(config, a.emails)) for a in admins)
                or team("staged-rollout-managers"))
    if role == Role.REPOSITORY_MANAGER:
        return team("repository-managers") or team("staged-rollout-managers")
    return team(role.value)


def _keys_of(config: Config, emails: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for p in config.people.values() if set(p.emails) & set(emails) for k in p.keys)


_ROLE_NAMES = {Role.PROVIDER: "a member of the provider team owning", Role.TECHNOLOGY_UNIT: "the technology unit",
               Role.SITE_ADMIN: "an administrator of site", Role.MANAGER: "a staged-rollout manager",
               Role.REPOSITORY_MANAGER: "a repository manager"}


def check_roles(ctx: Context) -> Iterable[Problem]:
    if ctx.world.config is None:
        return
    for path, touches in sorted(ctx.world.snapshot.history.items()):
        if path not in ctx.world.snapshot.files:
            continue
        needed = role_for_path(path)
        if needed is None:
            continue
        role, scope = needed
        for touch in touches:
            if role == Role.SITE_ADMIN and path.startswith("releases/"):
                ok = _is_site_admin(ctx.world, touch.commit, scope)
            else:
                ok = holds_role(ctx.world, touch.commit, role, scope)
            if not ok:
                who = f"{touch.commit.author.name} <{touch.commit.author.email}>"
                need = f"{_ROLE_NAMES[role]} {scope}" if role in (Role.PROVIDER, Role.SITE_ADMIN) else _ROLE_NAMES[role]
                signed = " with a signed commit" if ctx.world.config.require_signed_commits else ""
                yield _problem("roles", path, f"commit {touch.commit.short} by {who} changed this file, but only "
                               f"{need} may change it{signed}", "the change is not counted; have the right person "
                               "make it")
                break


CONTROLLER_TRAILER = "Approved-by:"


def approver_of(message: str) -> str | None:
    """The GitHub login a controller-made acceptance names, from its trailer."""
    for line in message.splitlines():
        if line.startswith(CONTROLLER_TRAILER):
            return line.removeprefix(CONTROLLER_TRAILER).strip() or None
    return None


def _is_site_admin(world: World, commit: Commit, site: str) -> bool:
    """Reports are the site's own: not even a manager may write one for it."""
    adopter = world.adopters.get(site)
    config = world.config
    if adopter is None or config is None:
        return False
    email = commit.author.email.lower()
    for admin in adopter.admins:
        if email in admin.emails:
            return not config.require_signed_commits or commit.signed_by in admin.keys + _keys_of(config, admin.emails)
    # The controller records a site's approval of a rollout pull request as its acceptance: such a
    # commit counts only when the approver it names is an administrator of that very site.
    if config.controller is not None and email in config.controller.emails:
        approver = approver_of(commit.message)
        return approver is not None and any(a.github and a.github.lower() == approver.lower() for a in adopter.admins)
    return False


RULES: tuple[Rule, ...] = (
    Rule("paths-agree", "component, version and site agree with the file's path", check_paths_agree, excludes=True),
    Rule("known-component", "the component, stack, distribution and platforms exist in repos-config",
         check_known_component),
    Rule("baseline", "the version's major equals the distribution's baseline (seed 2.2)", check_baseline),
    Rule("emergency-justification", "emergency releases are justified; only they may skip staged rollout",
         check_emergency),
    Rule("security-advisory", "a release fixing a CVE carries its advisory", check_security),
    Rule("calendar-country", "the calendar names a country and subdivision with known public holidays",
         lambda ctx: check_calendar_country(ctx.world)),
    Rule("severity-words", "security severities are dnf's words (warns on the old ones)",
         lambda ctx: check_severity_words(ctx.world)),
    Rule("package-source", "package paths and URLs are plain and agree with the package fields",
         check_package_sources),
    Rule("unique-package", "one package build belongs to one release", check_unique_packages),
    Rule("release-immutable", "a merged release.yaml never changes", check_immutable),
    Rule("registered-site", "reports come from registered early-adopter sites", check_registered_site, excludes=True),
    Rule("independent-ea", "the provider's own site does not count as an early adopter", check_independent,
         excludes=True),
    Rule("report-tested", "a report names the version and checksums it tested", check_report_tested),
    Rule("roles", "every change is authored by someone holding the role for its path", check_roles, excludes=True),
)


def evaluate_rules(ctx: Context) -> tuple[list[Problem], set[str]]:
    """Every finding of every rule, and the files that must not count."""
    findings, excluded = [], set()
    for rule in RULES:
        for problem in rule.check(ctx):
            findings.append(problem)
            if rule.excludes:
                excluded.add(problem.file)
    return findings, excluded
