"""The files of a new federation repository (rolloutctl init): repos-config with commented defaults
(seed Table 3, a calendar for a named country), one example component, provider team and site to
replace, and the README for its people. Pure: names in, {path: text} out. The schemas and the
workflows are the tool's own files, copied by the caller; CODEOWNERS is made from these files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from controller.core.codeowners import codeowners
from controller.core.loading import load_world
from controller.core.model import Commit, Signature, Snapshot
from controller.errors import BadInput

EXAMPLE_COMPONENT = "example-component"
EXAMPLE_STACK = "example-stack"
EXAMPLE_SITE = "EXAMPLE-SITE"
# The tool's files in a federation repository: rolloutctl init --update rewrites them.
TOOL_OWNED = ("schemas/", ".github/workflows/", ".github/CODEOWNERS")


@dataclass(frozen=True)
class Federation:
    name: str  # the distribution's name, e.g. UMD
    country: str  # ISO 3166 code of the public holidays
    subdivision: str | None
    timezone: str
    domain: str = "example.org"  # of the example identities, to be replaced

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "dist"


def _schema_line(kind: str, depth: int) -> str:
    return f"# yaml-language-server: $schema={'../' * depth}schemas/{kind}.schema.json"


def config_files(fed: Federation) -> dict[str, str]:
    d = fed.domain
    files = {}
    files["repos-config/distribution.yaml"] = f"""{_schema_line("distribution", 1)}
# The distribution and its roadmap (seed 2.2): each major release fixes the baseline major version
# of every component; within it a component changes only up to a minor version.
name: {fed.name}
components:
  # An example: replace it with your components (the stack is what early adopters commit to).
  {EXAMPLE_COMPONENT}: {{stack: {EXAMPLE_STACK}, description: An example component; replace it}}
majors:
  - name: "1"
    platforms: [el9, bookworm]
    baselines:
      {EXAMPLE_COMPONENT}: 1
"""
    files["repos-config/repositories.yaml"] = f"""{_schema_line("repositories", 1)}
# Every repository is published in three channels: unverified, staged-rollout, production.
# base_url is where the published tree is served; the client configurations (.repo, .sources)
# name it. reconcile --base-url, when given, wins over it.
base_url: https://repository.{d}/{fed.slug}
repositories:
  - name: {fed.slug}1-el9
    distribution: "1"
    format: yum
    platform: el9
    architectures: [x86_64, noarch]
  - name: {fed.slug}1-bookworm
    distribution: "1"
    format: apt
    platform: bookworm
    architectures: [amd64, all]
"""
    files["repos-config/timelines.yaml"] = f"""{_schema_line("timelines", 1)}
# How long each step may take, in working time (seed Table 3). An overdue step is reported by
# status and on the pages, and the staged-rollout managers are mailed. A working day is as long as
# the working hours in calendar.yaml. min_interval_days is the cadence limit per component between
# releases that reached Production (seed 2.2): a release that comes earlier is held until then.
acceptance_window: {{working_days: 1}}  # early adopters accept within one working day (seed 3.2)
grace_period: {{working_days: 5}}       # in Staged Rollout after the decision (seed 3.8)
categories:
  emergency:    # security or critical fixes: hours, not days
    ingestion: {{working_hours: 3}}
    verification: {{working_hours: 2.5}}
    rollout: {{working_hours: 2.5}}
  revision:     # bug fixes
    ingestion: {{working_hours: 4}}
    verification: {{working_days: 2}}
    rollout: {{working_days: 2}}
    min_interval_days: 14
  minor:        # new backwards-compatible function
    ingestion: {{working_hours: 4}}
    verification: {{working_days: 3}}
    rollout: {{working_days: 3}}
    min_interval_days: 30
  major:        # may break compatibility; only in a new distribution major release
    ingestion: {{working_hours: 4}}
    verification: {{working_days: 10}}
    rollout: {{working_days: 7}}
    min_interval_days: 365
"""
    subdivision = f"subdivision: {fed.subdivision}\n" if fed.subdivision else \
        "# subdivision: a state or province with holidays of its own (ISO 3166-2 code without the country)\n"
    files["repos-config/calendar.yaml"] = f"""{_schema_line("calendar", 1)}
# Timers run on working time only: within the working hours, Monday to Friday, not on the public
# holidays of the country below (every year, from the holidays package) and not on the
# federation's own closing days listed under holidays.
timezone: {fed.timezone}
working_hours: {{start: "08:00", end: "16:00"}}
weekend: [sat, sun]
country: {fed.country}
{subdivision}holidays: []  # the federation's own closing days, e.g. - {{date: "2027-12-31", name: Closing day}}
"""
    files["repos-config/freezes.yaml"] = f"""{_schema_line("freezes", 1)}
# Freeze windows: while one is in force nothing is promoted to Production (or nothing but
# emergencies), for every stack or for those listed. A release whose grace period ends inside a
# freeze waits until its end; status says "held by the freeze <name> until <time>". A freeze counts
# from the commit that adds it, never earlier. To lift one early, add lifted: {{reason: ...}} to it:
# it ends when that commit lands. A freeze without until is an emergency stop: it holds until lifted.
# Only repository and staged-rollout managers may change this file. For example:
#
# freezes:
#   - name: end-of-year
#     reason: Most sites are closed over the end-of-year break
#     from: "2027-12-18"          # a date (its start in the calendar's time zone) or an instant
#     until: "2028-01-04"         # releases move at the start of this day
#     emergencies: allowed        # emergency releases still pass (default: held)
#     stops_timers: true          # its days are days off for every timer, like holidays
#   - name: data-taking-run
#     reason: LHC run 4 start-up
#     from: "2028-03-01T00:00:00Z"
#     until: "2028-03-15T00:00:00Z"
#     stacks: [{EXAMPLE_STACK}]     # only these stacks; omitted: every stack
freezes: []
"""
    files["repos-config/snapshots.yaml"] = f"""{_schema_line("snapshots", 1)}
# Dated snapshots: a channel kept as it stood at the end of a day, served beside the live channel
# (production-2027-12-01/ for dnf, the apt suite <repository>-production-2027-12-01) and never
# pruned while its entry stays here. For example:
#
# snapshots:
#   - channel: production
#     date: "2027-12-01"
#     reason: sites reproduce the December installation
snapshots: []
"""
    files["repos-config/roles.yaml"] = f"""{_schema_line("roles", 1)}
# Who may make which change (people are keyed by a short name; teams list those keys). Replace the
# example people with yours; early-adopter administrators are listed in adopters/, not here.
# After a change here, run rolloutctl init --update . to regenerate .github/CODEOWNERS.
require_signed_commits: false
controller: {{name: rolloutctl, email: rolloutctl@{d}}}
people:
  manager: {{name: Example Manager, email: manager@{d}, github: example-manager}}
  verifier: {{name: Example Verifier, email: verifier@{d}, github: example-verifier}}
  security: {{name: Example Security Officer, email: security@{d}, github: example-security}}
  provider: {{name: Example Provider, email: provider@{d}, github: example-provider}}
teams:
  technology-unit: [verifier]           # verify releases (verification.yaml)
  staged-rollout-managers: [manager]    # close rollouts (decision.yaml, withdrawal.yaml)
  repository-managers: [manager]        # change repos-config/
  security: [security]                  # see embargoed security releases first
providers:
  # Each provider team owns components; its members write their release.yaml.
  example-pt: {{members: [provider], components: [{EXAMPLE_COMPONENT}]}}
lists:
  {EXAMPLE_STACK}: early-adopters@{d}   # the early adopters of each stack
  broadcast: site-admins@{d}            # every site administrator (releases in Production)
"""
    files[f"adopters/{EXAMPLE_SITE}.yaml"] = f"""{_schema_line("adopter", 1)}
# An early-adopter site (seed 3.1): its administrators write its reports. An example: rename the
# file to your site's name (as in GOCDB) and replace the administrator.
site: {EXAMPLE_SITE}
administrators:
  - {{name: Example Site Admin, email: admin@site.{d}, github: example-site-admin}}
commitments:
  - {{stacks: [{EXAMPLE_STACK}], platforms: [el9, bookworm], architectures: [x86_64, noarch, amd64, all], \
since: "2026-01-01"}}
"""
    files[".gitignore"] = "# what a local reconcile writes\npublic/\n.rolloutctl-state/\n"
    return files


def workflow_text(text: str, version: str) -> str:
    """A workflow of the tool's own repository, for a federation repository: there rolloutctl is
    installed as a package of the version that wrote it, not from the checkout."""
    pinned = f'pip install "rolloutctl=={version}"'
    return re.sub(r"pip install \.(?=\s|$)", pinned, text)


def settings_of(workflows: dict[str, str]) -> tuple[list[str], list[str]]:
    """The repository variables and secrets the workflows read, for the README."""
    text = "\n".join(workflows.values())
    variables = sorted(set(re.findall(r"\bvars\.([A-Z0-9_]+)", text)))
    secrets = sorted(set(re.findall(r"\bsecrets\.([A-Z0-9_]+)", text)) - {"GITHUB_TOKEN"})
    return variables, secrets


def readme(fed: Federation, workflows: dict[str, str], version: str) -> str:
    variables, secrets = settings_of(workflows)
    names = ", ".join(f"`{n}`" for n in sorted(workflows))
    return f"""# {fed.name} releases

This repository is where {fed.name} releases are staged: every release is a directory under
`releases/`, and every step of its rollout (verification, early adopters' acceptances and
reports, the managers' decision) is a file that someone merges. The controller, `rolloutctl`
({version}), turns what is merged into three package channels (Unverified, Staged Rollout,
Production), a release page each, and feeds.

Install it with `pip install "rolloutctl=={version}"`; every command below runs in a clone of this
repository. `rolloutctl validate` checks everything before you push; a pull request is checked
the same way.

## Providers: submit a release

1. Build your packages, then write the manifest from them:
   `rolloutctl release new COMPONENT VERSION --package path/to/pkg.rpm --package https://.../pkg.deb`.
   Names, versions, architectures, sizes and checksums are read from the packages.
2. Replace every `FILL-IN` (summary, release notes, changelog, certification), run
   `rolloutctl validate`, and open a pull request with `releases/COMPONENT/VERSION/`.

## Technology unit: verify

Add `releases/COMPONENT/VERSION/verification.yaml` with `result: verified` (or `rejected`) and
the checks you made. The packages then move to Staged Rollout.

## Early adopters: accept, test, report

- Register once: `adopters/SITE.yaml` (see `adopters/{EXAMPLE_SITE}.yaml`).
- Accept within one working day: commit `releases/COMPONENT/VERSION/reports/SITE.yaml` with
  `site: SITE` and `status: rolling-out` (or approve the rollout pull request).
- Report: `rolloutctl report-template COMPONENT/VERSION --site SITE` writes the report with the
  version and checksums filled in; replace every `FILL-IN` and commit it.

## Staged-rollout managers: decide

When every accepting site has reported, add `decision.yaml` (`outcome: success`, `warning` or
`reject`, and a summary). After the grace period the release reaches Production by itself.

## Site administrators: install

The published tree has, for each channel, a `.repo` file for dnf, a `.sources` file for apt and
the signing key; the release pages say how to install and what each release fixes.

## Setting up this repository

- `repos-config/` holds the distribution, its repositories, the timelines (seed Table 3), the
  working-day calendar ({fed.country}) and the roles. Replace the examples
  (`{EXAMPLE_COMPONENT}`, `{EXAMPLE_SITE}`, the example people) with yours.
- `schemas/` lets editors complete and check the YAML files (the `# yaml-language-server`
  line at the top of each). `rolloutctl init --update .` brings the schemas, the workflows and
  `.github/CODEOWNERS` up to date with the installed rolloutctl and with roles.yaml.
- `.github/workflows/` ({names}): validate every pull request, report on it, and reconcile
  main on every push and every 30 minutes. Protect main and make the `validate` job a required
  check. Repository variables they read: {", ".join(f"`{v}`" for v in variables) or "none"}.
  Secrets: {", ".join(f"`{s}`" for s in secrets) or "none"}.
"""


def codeowners_of(files: dict[str, bytes]) -> str:
    """CODEOWNERS from the configuration and adopters as they are written, before any commit."""
    nobody = Signature("", "", datetime(1970, 1, 1, tzinfo=UTC))
    world, problems = load_world(Snapshot(Commit("0" * 40, nobody, nobody, ""), files, {}))
    problems = [p for p in problems if p.file.startswith(("repos-config/", "adopters/"))]
    if problems:
        raise BadInput("repos-config or adopters/ has problems; CODEOWNERS is made from them",
                       "fix them (rolloutctl validate lists them) and run again", problems)
    return codeowners(world)
