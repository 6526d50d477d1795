"""Which messages the state of the releases calls for, each with a stable key so that it is sent
exactly once however often reconcile runs. Pure: the ledger of what was sent is the caller's.

- a release verified: to the early-adopter list of its stack ("ready for staged rollout");
- a step past its limit (the acceptance window, Table 3's steps, the grace period): to the
  staged-rollout managers;
- a report with result reject: to the provider and the managers at once;
- a release in Production: a broadcast to the site administrators.
Until its embargo date an embargoed release's messages go only to the security group, and to the
early adopters committed to its component where they must act (its readiness, the acceptance
window and the rollout): never to the managers' list, a stack's list or the provider's contact.
Its broadcast waits for the end of the embargo. Such a message is ``restricted``: what reconcile
prints about it, and the managers' report of undelivered mail, withhold its details.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from controller.core.assess import Assessment, ReleaseStatus
from controller.core.model import Config, Release, State, World
from controller.core.public import is_embargoed
from controller.core.timeline import Kind


@dataclass(frozen=True)
class Message:
    key: str  # stable: the ledger remembers it once sent
    event_at: datetime  # when what it reports happened
    recipients: tuple[str, ...]
    template: str
    subject: str
    context: dict = field(default_factory=dict, compare=False, hash=False)
    restricted: bool = False  # about an embargoed release: its details stay out of every public output

    def describe(self) -> str:
        if self.restricted:
            return "mail the security group about an embargoed release (details withheld)"
        return f"mail {self.key}: {self.subject}"


def _team_emails(config: Config, team: str) -> tuple[str, ...]:
    return tuple(config.people[m].emails[0] for m in config.teams.get(team, ()) if m in config.people)


def manager_emails(config: Config) -> tuple[str, ...]:
    """The staged-rollout managers: they also hear of messages that could not be delivered."""
    return _team_emails(config, "staged-rollout-managers")


def _committed_admins(world: World, release: Release) -> tuple[str, ...]:
    return tuple(sorted({a.emails[0] for adopter in world.adopters.values()
                         if adopter.commits_to(release.component, release.stack) for a in adopter.admins}))


def _restricted(world: World, release: Release, adopters: bool = True) -> tuple[str, ...]:
    """The security group, with the early adopters committed to the release's component."""
    committed = _committed_admins(world, release) if adopters else ()
    return tuple(sorted(set(_team_emails(world.config, "security")) | set(committed)))


_ADOPTERS_ACT = ("acceptance window", "step 3: staged rollout")  # timers the early adopters must meet


def due_messages(world: World, assessment: Assessment, now: datetime) -> list[Message]:
    config = world.config
    if config is None:
        return []
    messages = []
    managers = manager_emails(config)
    for key, status in sorted(assessment.statuses.items()):
        release = world.releases[key].release
        if release is None:
            continue
        secret = is_embargoed(release, now)
        context = {"key": key, "release": release, "status": status, "embargoed": secret}
        verified = _first(status, Kind.VERIFY)
        if verified is not None:
            to = _restricted(world, release) if secret else \
                tuple(filter(None, [config.lists.get(release.stack)])) or _committed_admins(world, release)
            messages.append(Message(f"verified:{key}", verified, to, "mail-verified.txt.j2",
                                    f"[{release.stack}] {release.component} {release.version} is ready for staged "
                                    "rollout", context, secret))
        for timer in status.timers:
            if timer.finished is None and timer.is_overdue(now):
                to = _restricted(world, release, timer.name in _ADOPTERS_ACT) if secret else managers
                messages.append(Message(f"overdue:{key}:{timer.name}", timer.deadline, to,
                                        "mail-overdue.txt.j2", f"{key}: {timer.name} is overdue",
                                        {**context, "timer": timer}, secret))
        for report in world.releases[key].reports:
            done = _report_done(status, report.file_site)
            if report.result == "reject" and done is not None:
                # Under embargo the security group tells the provider: its contact may be a list.
                to = _restricted(world, release, False) if secret else \
                    tuple(sorted({release.provider_contact.lower(), *managers}))
                messages.append(Message(f"reject:{key}:{report.file_site}", done, to, "mail-reject.txt.j2",
                                        f"{key}: {report.file_site} reports reject", {**context, "report": report},
                                        secret))
        if status.production_at is not None and status.state in (State.PRODUCTION, State.WITHDRAWN) and not secret:
            broadcast = tuple(filter(None, [config.lists.get("broadcast")]))
            messages.append(Message(f"production:{key}", status.production_at, broadcast, "mail-production.txt.j2",
                                    f"{release.component} {release.version} is available in Production", context))
    return [m for m in messages if m.recipients]


def _first(status: ReleaseStatus, kind: Kind) -> datetime | None:
    return next((event.at for event, _ in status.history if event.kind == kind), None)


def _report_done(status: ReleaseStatus, site: str) -> datetime | None:
    return next((event.at for event, _ in status.history if event.kind == Kind.REPORT and event.site == site), None)
