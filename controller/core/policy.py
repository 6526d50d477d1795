"""Policy as a table of named rules. Each rule looks at the model and returns its findings (an empty
list is a pass); all rules always run, so a user sees every unmet rule at once.

Who may change what, and whether a change comes in order, is judged earlier, change by change, by
the history replay (history.py, admission.py): the model holds only what it accepted. The rules
here judge what the files say. A rule marked ``excludes`` keeps the offending file out of the
lifecycle (content imported unchecked from before the trust anchor can still break them); one
marked ``gates`` keeps the release out of every channel.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from posixpath import normpath

from controller.core import admission
from controller.core.advisory_words import check_severity_words
from controller.core.model import Category, Package, ReleaseFiles, World
from controller.core.redaction import has_credentials, redact
from controller.core.trust import Roster
from controller.core.versions import major_of
from controller.core.workdays import check_calendar_country
from controller.errors import Problem


@dataclass(frozen=True)
class Context:
    world: World
    pending: frozenset[str] = frozenset()  # commit ids of a pull request not merged yet
    # A pull request's check that changes no configuration: the components it touches. Rules then
    # look only at their releases (findings about the others are about files it did not change),
    # and the calendar rule, whose only file it did not change, is not evaluated.
    components: frozenset[str] | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    summary: str
    check: Callable[[Context], Iterable[Problem]]
    excludes: bool = False
    gates: bool = False  # the release is published to no channel


def _releases(ctx: Context) -> Iterable[ReleaseFiles]:
    if ctx.components is None:
        return ctx.world.releases.values()
    return [files for key, files in ctx.world.releases.items() if key.split("/", 1)[0] in ctx.components]


def _problem(rule: str, path: str, message: str, hint: str, pointer: str = "") -> Problem:
    return Problem(path, message, hint, pointer, rule=rule)


# --- rules on what files say -------------------------------------------------------------------


def check_paths_agree(ctx: Context) -> Iterable[Problem]:
    for files in _releases(ctx):
        for item in (files.release, *files.reports):
            if item is not None:
                yield from admission.disagreements(item.path, "release" if item is files.release else "report",
                                                   item.raw)
    for adopter in ctx.world.adopters.values():
        yield from admission.disagreements(adopter.path, "adopter", adopter.raw)


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
        if files.decision is not None:
            yield from admission.skip_refused(files.decision.path, files.decision.raw, r.raw)


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
    if has_credentials(url):
        yield _problem("package-source", manifest, f"url {redact(url)!r} carries credentials (a user or password "
                       "before the host)", "release.yaml is public: serve the package at an address that needs no "
                       "credentials", where + "/url")
        url = redact(url)  # never echo them in a finding: CI logs are public
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
    # Every release's packages: a package a release of another component claimed first counts too.
    for files in sorted(ctx.world.releases.values(), key=lambda f: _landing_order(ctx, f)):
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


def check_registered_site(ctx: Context) -> Iterable[Problem]:
    for files in _releases(ctx):
        for report in files.reports:
            if report.file_site not in ctx.world.adopters:
                yield _problem("registered-site", report.path, f"site {report.file_site!r} is not a registered early "
                               "adopter", f"register it first in adopters/{report.file_site}.yaml", "/site")


def check_independent(ctx: Context) -> Iterable[Problem]:
    if ctx.world.config is None:
        return
    roster = Roster(ctx.world.config.roles, ctx.world.adopters)
    for files in _releases(ctx):
        if files.release is not None:
            for report in files.reports:
                if report.file_site in ctx.world.adopters:
                    yield from admission.independence(roster, report.path, files.release.raw)


def check_report_tested(ctx: Context) -> Iterable[Problem]:
    for files in _releases(ctx):
        if files.release is not None:
            for report in files.reports:
                yield from admission.tested(report.path, report.raw, files.release.raw)


RULES: tuple[Rule, ...] = (
    Rule("paths-agree", "component, version and site agree with the file's path", check_paths_agree, excludes=True),
    Rule("known-component", "the component, stack, distribution and platforms exist in repos-config",
         check_known_component),
    Rule("baseline", "the version's major equals the distribution's baseline (seed 2.2)", check_baseline, gates=True),
    Rule("emergency-justification", "emergency releases are justified; only they may skip staged rollout",
         check_emergency),
    Rule("security-advisory", "a release fixing a CVE carries its advisory", check_security),
    Rule("calendar-country", "the calendar names a country and subdivision with known public holidays",
         lambda ctx: check_calendar_country(ctx.world) if ctx.components is None else ()),
    Rule("severity-words", "security severities are dnf's words (warns on the old ones)",
         lambda ctx: check_severity_words(ctx.world)),
    Rule("package-source", "package paths and URLs are plain and agree with the package fields",
         check_package_sources),
    Rule("unique-package", "one package build belongs to one release", check_unique_packages),
    Rule("registered-site", "reports come from registered early-adopter sites", check_registered_site, excludes=True),
    Rule("independent-ea", "the provider's own site does not count as an early adopter", check_independent,
         excludes=True),
    Rule("report-tested", "a report names the version and checksums it tested", check_report_tested,
         excludes=True),
)


GATES = frozenset(rule.name for rule in RULES if rule.gates)


def evaluate_rules(ctx: Context) -> tuple[list[Problem], set[str]]:
    """Every finding of every rule, and the files that must not count."""
    findings, excluded = [], set()
    for rule in RULES:
        for problem in rule.check(ctx):
            findings.append(problem)
            if rule.excludes:
                excluded.add(problem.file)
    return findings, excluded
