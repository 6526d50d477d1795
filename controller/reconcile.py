"""plan and reconcile: the pipeline git -> model -> desired -> plan -> apply, wired in one place.

Planning reads (git, the pool, what is published, the outbox's ledger) and decides through the
pure core; it writes nothing. Reconcile takes the lock, plans, and hands the plan to apply.
Nothing here prints or exits.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from controller import app
from controller.apply import gate as gate_step
from controller.apply import selfcheck
from controller.apply import state as remembered
from controller.apply.gc import GONE, Collection, collect
from controller.apply.lastrun import Outcome, published_marker, stops_at_once
from controller.apply.run import apply_plan, plan_garbage
from controller.apply.state import private_location, state_store
from controller.core import installability, public
from controller.core import plan as core_plan
from controller.core.assess import Assessment, Ingest, assess
from controller.core.desired import compute_desired, compute_private
from controller.core.ingest import ingest_outcomes
from controller.core.loading import locate
from controller.core.messages import due_messages
from controller.core.metrics import compute_metrics, render_svg
from controller.core.model import Channel, State, World
from controller.core.plan import Fetch, Plan
from controller.core.policy import Context, evaluate_rules
from controller.core.public import PrivateChannel
from controller.core.snapshots import first_snapshots, read_snapshots, snapshot_contents
from controller.core.timeline import landing
from controller.core.views import release_views
from controller.errors import BadInput, Problem
from controller.notify import outbox
from controller.notify.mail import SmtpSettings
from controller.notify.render import Renderer
from controller.progress import Progress
from controller.publish import generations, site
from controller.publish.lease import leased
from controller.publish.pool import Pool
from controller.publish.pool import collected as pool_collected
from controller.publish.target import Publication, Target, open_target
from controller.sources.fetch import FetchPolicy

DEFAULT_BASE_URL = "http://localhost:8080"
DOCUMENTS = ("status.json", "beta.json")

read_failures = remembered.read_failures  # the status command reads them too


@dataclass(frozen=True)
class Options:
    repo: str
    rev: str
    now: datetime
    publish: Path | str  # a directory or s3://BUCKET/PREFIX
    state: Path
    gnupg_home: Path | None = None
    base_url: str | None = None
    wait: float = 0.0
    fetch_policy: FetchPolicy = FetchPolicy()
    # Called after a generation is complete and before the channel switches to it: a seam for
    # hooks (and for tests that interrupt a run there).
    before_switch: Callable[[Channel, Publication], None] | None = None
    # Called after a channel switched and before the self-check reads it back (a seam for tests
    # that change what is served in between).
    after_switch: Callable[[Channel], None] | None = None
    # Reading every switched channel back with real dnf and apt (off unless asked: the CLI asks
    # for what is installed).
    self_check: selfcheck.Settings = selfcheck.Settings()
    # Whether releases waiting for verification are checked to install (off unless asked: the CLI
    # asks for what is installed).
    installability: gate_step.Settings = gate_step.Settings()
    progress: Progress = field(default_factory=Progress)  # silent unless a terminal draws it
    smtp: SmtpSettings | None = None  # notifications are off without a mail server
    target: Target | None = None  # instead of opening ``publish`` (a seam for wrapping it)
    # The private area (never served): what runs share besides the published tree. Default: a
    # directory beside a local publish directory; required for S3.
    private: Path | str | None = None
    # The private channel: embargoed releases until their date, for the security group and the
    # committed early adopters, published where the operator serves it with access control.
    private_publish: Path | str | None = None
    private_base_url: str | None = None

    def open_target(self) -> Target:
        return self.target if self.target is not None else open_target(self.publish)

    def open_state_store(self) -> Target:
        return state_store(self.publish, self.private)

    def open_private_area(self) -> Target:
        """The private area itself: its pool holds embargoed packages until their date."""
        return open_target(private_location(self.publish, self.private))

    def open_private_channel(self) -> Target | None:
        return open_target(self.private_publish) if self.private_publish is not None else None


def check_private_channel(options: Options) -> None:
    """The private channel needs its own place: not inside the public tree (the public would read
    it) nor the private area (its keys and ledger are for no one), and the URL it is served at."""
    if options.private_publish is None:
        return
    if not options.private_base_url:
        raise BadInput("--private-publish-dir needs --private-base-url",
                       "name where the private channel is served (with access control), for its client "
                       "configurations; see docs/publishing.md")

    def where(location: Path | str) -> str:
        text = str(location)
        return text.rstrip("/") + "/" if text.startswith("s3://") else f"{Path(text).absolute()}/"

    mine = where(options.private_publish)
    for name, other in (("--publish-dir", options.publish),
                        ("the private area", private_location(options.publish, options.private))):
        if mine.startswith(where(other)) or where(other).startswith(mine):
            raise BadInput(f"--private-publish-dir {options.private_publish} overlaps {name} ({other})",
                           "give the private channel a location of its own, served with access control")


@dataclass
class Planned:
    """A plan with what it was made from: the model and the assessment it decided on."""

    world: World
    assessment: Assessment
    plan: Plan
    problems: list[Problem]
    rules: tuple[list[Problem], set[str]] | None = None
    renderer: Renderer | None = field(default=None, repr=False)
    target: Target | None = field(default=None, repr=False)
    store: Target | None = field(default=None, repr=False)  # the private state area
    notes: list[str] = field(default_factory=list)
    published_before: bool = False  # the target holds an earlier publication (so a ledger existed)
    base_url: str = DEFAULT_BASE_URL  # where the channels are served, for client configurations
    pools: tuple[Pool, Pool] | None = field(default=None, repr=False)  # public, private: as listed for the plan

    @property
    def fetches(self) -> tuple[Fetch, ...]:
        return self.plan.fetches

    @property
    def actions(self) -> tuple[core_plan.PublishChannel, ...]:
        return self.plan.channels

    @property
    def state_changes(self) -> tuple[tuple[str, str | None, str], ...]:
        return self.plan.state_changes


def base_url(world: World, options: Options) -> str:
    return options.base_url or world.config.base_url or DEFAULT_BASE_URL


@dataclass(frozen=True)
class Reading:
    """What a plan reads from git: read once per run, whatever the number of plans."""

    world: World
    problems: list[Problem]
    rules: tuple[list[Problem], set[str]]


def read_repository(options: Options, memo: dict | None = None) -> Reading:
    check_private_channel(options)
    world, problems = app.read_world(options.repo, options.rev, {} if memo is None else memo)
    if world.config is None:
        raise BadInput("the repository has no valid repos-config/", "rolloutctl validate shows what is wrong",
                       problems)
    return Reading(world, problems, evaluate_rules(Context(world)))


@dataclass
class Holdings:
    """What the pools hold, the fetches that calls for, and the assessment as it will be once
    they succeed."""

    pools: tuple[Pool, Pool]  # public, private
    fetches: tuple[Fetch, ...]
    assessment: Assessment
    checks: tuple[core_plan.CheckInstallability, ...] = ()  # installability checks due (assumed to pass)


def assess_holdings(options: Options, reading: Reading, target: Target, store: Target,
                    notes: list[str] | None = None) -> Holdings:
    world, problems, rules = reading.world, reading.problems, reading.rules
    pools = _pools(target, options)
    held = set(pools[0].contents()) | set(pools[1].contents())
    failures = remembered.read_failures(store, notes)
    gate = gate_step.read_gate(store)
    outcomes, before = _assess_ingested(world, target, held, failures, options.now, problems, rules, gate)
    fetches = tuple(_missing(world, before, held, options.now))
    assessment = before
    if fetches:
        outcomes = dict(outcomes)
        for key in {f.release for f in fetches}:
            touch = landing(world.snapshot, world.releases[key].release.path)
            outcomes[key] = Ingest(True, touch.landed.committer.time)
        assessment = assess(world, options.now, outcomes, problems=problems, rules=rules, gate=gate)
    checks = gate_step.due_checks(world, assessment, gate, target, options.installability, options.now)
    if checks:  # assumed to pass, as fetches are assumed to succeed: apply plans again if one does not
        assumed = installability.assume_passed(gate, [c.release for c in checks], {c.release: c.basis for c in checks},
                                               options.now)
        assessment = assess(world, options.now, outcomes, problems=problems, rules=rules, gate=assumed)
    return Holdings(pools, fetches, assessment, checks)


def make_plan(options: Options, memo: dict | None = None, target: Target | None = None,
              store: Target | None = None, reading: Reading | None = None, holdings: Holdings | None = None,
              notes: list[str] | None = None) -> Planned:
    """What reconcile would do, assuming every fetch succeeds. Writes nothing (``memo``, the parse
    cache, is only filled in memory). ``holdings`` and ``notes``: what a run found before, when
    it knows they still hold."""
    reading = reading or read_repository(options, memo)
    target = target or options.open_target()
    store = store or options.open_state_store()
    notes = [] if notes is None else notes
    holdings = holdings or assess_holdings(options, reading, target, store, notes)
    planned = plan_for(reading.world, holdings.assessment, holdings.fetches, options, reading.problems,
                       reading.rules, target, store, holdings.pools, holdings.checks)
    planned.notes += notes
    return planned


def _pools(target: Target, options: Options) -> tuple[Pool, Pool]:
    """The public pool and the private pool, each listed once, when first asked."""
    return Pool(target, options.state), Pool(options.open_private_area(), options.state)


def replan(planned: Planned, options: Options) -> Planned:
    """The plan again after some fetches failed or some installability checks did not pass: from
    what the pools and the recorded results hold now."""
    world = planned.world
    pools = _pools(planned.target, options)
    held = set(pools[0].contents()) | set(pools[1].contents())
    _, assessment = _assess_ingested(world, planned.target, held, remembered.read_failures(planned.store),
                                     options.now, [], planned.rules, gate_step.read_gate(planned.store))
    fetches = planned.plan.fetches + planned.plan.private_fetches
    return plan_for(world, assessment, fetches, options, planned.problems, planned.rules, planned.target,
                    planned.store, pools, planned.plan.checks)


def _assess_ingested(world: World, target: Target, held: set[str], failures: dict, now: datetime,
                     problems: list[Problem], rules, gate) -> tuple[dict[str, Ingest], Assessment]:
    """Ingestion read from the pools and from what garbage collection took out of them: a collected
    package counts as ingested for a dead release (rejected, obsoleted, withdrawn), which keeps its
    state; a release alive again (reconciled at an older commit) has it fetched again."""
    collected = set(pool_collected(target)) - held
    present = held | collected
    outcomes = ingest_outcomes(world, present.__contains__, failures)
    assessment = assess(world, now, outcomes, problems=problems, rules=rules, gate=gate)
    alive = {p.sha256 for key, s in assessment.statuses.items() if s.state not in GONE
             for p in world.releases[key].release.packages if p.sha256 in collected}
    if alive:
        present -= alive
        outcomes = ingest_outcomes(world, present.__contains__, failures)
        assessment = assess(world, now, outcomes, problems=problems, rules=rules, gate=gate)
    return outcomes, assessment


def plan_for(world: World, assessment: Assessment, fetches: tuple[Fetch, ...], options: Options,
             problems: list[Problem], rules, target: Target, store: Target,
             pools: tuple[Pool, Pool], checks: tuple[core_plan.CheckInstallability, ...] = ()) -> Planned:
    now = options.now
    url = base_url(world, options)
    desired = compute_desired(world, assessment, now)
    published = {c: generations.read_published(target, c) for c in Channel}
    before = any(published.values()) or target.read("status.json") is not None
    from controller.apply.channels import setup  # here: a run that stops at once does not load the writers

    channels = core_plan.plan_channels(desired, published, now, setup(world, url))
    kept, upcoming = _snapshots(world, now, rules, pools)
    wanted = {(snap.channel, snap.day.isoformat()): content for snap, content in kept.items()}
    snapshots_published = {key: generations.read_published(target, *key) for key in wanted}
    snapshot_actions = core_plan.plan_snapshots(wanted, snapshots_published, now, setup(world, url))
    channels += snapshot_actions
    # A run is due when a snapshot's day ends, and before its apt Valid-Until runs out.
    upcoming = min(filter(None, [upcoming, *_renewals(wanted, snapshots_published, snapshot_actions, now)]),
                   default=None)
    if upcoming is not None and (assessment.next_change is None or upcoming < assessment.next_change):
        assessment = replace(assessment, next_change=upcoming)
    documents = core_plan.plan_documents(
        {"status.json": _json(public.status_document(world, assessment, now)),
         "beta.json": _json(public.beta_sites(world, assessment, now))},
        {name: _read_text(target, name) for name in DOCUMENTS})
    renderer = Renderer(world.snapshot.files)
    published_site, published_inputs = site.published_inputs(target)
    rendered = site.render_site(release_views(world, assessment, now, first_snapshots(kept)), renderer, url,
                                f"{world.config.distribution_name} releases", _plots(world, assessment, now),
                                world.config, now, published_inputs)
    site_action = core_plan.plan_site(rendered.files, rendered.digest, published_site, rendered.inputs)
    messages: tuple = ()
    if options.smtp is not None:
        send, stale = outbox.select(outbox.read_ledger(store), due_messages(world, assessment, now), now)
        messages = tuple(send + stale)
    shown = public.public_keys(world, assessment, now)  # an embargoed release's moves are not told
    changes = core_plan.state_changes(_previous_states(target),
                                      {key: assessment.statuses[key].state.value for key in shown})
    private_channels: list = []
    if options.private_publish is not None:  # told in counts only (core/plan.py)
        channel_target = options.open_private_channel()
        private_published = {c: generations.read_published(channel_target, c) for c in PrivateChannel}
        private_channels = core_plan.plan_channels(compute_private(world, assessment, now), private_published, now,
                                                   setup(world, options.private_base_url))
    plan = Plan(fetches=tuple(f for f in fetches if not f.private),
                private_fetches=tuple(f for f in fetches if f.private),
                moves=core_plan.plan_moves(world, now, set(pools[0].contents()), pools[1].contents()), checks=checks,
                channels=tuple(channels),
                private_channels=tuple(private_channels), documents=documents, site=site_action, messages=messages,
                state_changes=changes)
    return Planned(world, assessment, plan, locate(assessment.findings, world), rules, renderer, target=target,
                   store=store, base_url=url, published_before=before, pools=pools)


def _snapshots(world: World, now: datetime, rules, pools: tuple[Pool, Pool]):
    """The dated snapshots whose day is over, with what each holds: the channel recomputed at the
    end of its day, packages counted as ingested when the public pool holds them."""
    snapshots, _ = read_snapshots(world)
    if not snapshots:
        return {}, None
    # A package garbage collection took out since counts as it did on the snapshot's day.
    present = set(pools[0].contents()) | set(pool_collected(pools[0].target))
    outcomes = ingest_outcomes(world, present.__contains__, {})
    contents = snapshot_contents(world, snapshots, now, lambda at: assess(world, at, outcomes, rules=rules))
    return contents, min((s.at for s in snapshots if s.at > now), default=None)


def _renewals(wanted: dict, published: dict, actions: list[core_plan.PublishChannel], now: datetime) -> list[datetime]:
    """When each snapshot with apt repositories must be signed again (as it will stand after this run)."""
    renewed = {(a.channel, a.snapshot) for a in actions}
    found = []
    for key, content in wanted.items():
        until = now + core_plan.VALIDITY if key in renewed else getattr(published.get(key), "valid_until", None)
        if until is not None and any(r.repository.format == "apt" for r in content.repos):
            found.append(until - core_plan.RENEW_MARGIN)
    return found


def _plots(world: World, assessment: Assessment, now: datetime) -> dict[str, str]:
    world, assessment = public.without_embargoed(world, assessment, now)
    figures = compute_metrics(world, assessment, None, None, now)
    return {"rollout-durations.svg": render_svg(figures["rollout_days"])}


def _json(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _read_text(target: Target, key: str) -> str | None:
    raw = target.read(key)
    return raw.decode(errors="replace") if raw is not None else None


def _missing(world: World, assessment: Assessment, pool: set[str], now: datetime) -> list[Fetch]:
    """What to fetch: an embargoed release's packages go to the private pool."""
    wanted = []
    for key, status in sorted(assessment.statuses.items()):
        if status.state in (State.CERTIFIED, State.INGEST_FAILED) and not status.gated:  # gated: no channel
            release = world.releases[key].release
            private = public.is_embargoed(release, now)
            wanted += [Fetch(key, p, private) for p in release.packages if p.sha256 not in pool]
    return wanted


def _previous_states(target: Target) -> dict[str, str]:
    text = _read_text(target, "status.json")
    try:
        return {r["release"]: r["state"] for r in json.loads(text)["releases"]} if text else {}
    except (ValueError, KeyError, TypeError):
        return {}  # unreadable: every state is shown as new


def collect_garbage(options: Options, dry_run: bool = False) -> Collection:
    """What no kept generation names, deleted (or only listed, with ``dry_run``) under the lease."""
    target = options.open_target()
    if dry_run:
        return plan_garbage(make_plan(options, target=target), options.now)
    with leased(target, options.wait) as lease:
        remembered.check_private_area(target, options.open_state_store())
        collection = plan_garbage(make_plan(options, target=target), options.now)
        collect(target, collection, options.now, lease.renew)
        return collection


def reconcile(options: Options) -> Outcome:
    """Plan once. The repository is read once and the pools listed once, before the lease, to
    download what is missing (downloads can be slow, and only admitting the bytes needs the
    lease); under the lease the plan is made from them, unless another run published meanwhile:
    then the pools are listed again."""
    target = options.open_target()
    store = options.open_state_store()
    if stops_at_once(options.repo, options.rev, options.now, options.state, target, store,
                     options.open_private_channel()):
        return Outcome(None)  # nothing written: no lease needed
    memo = remembered.load_memo(options.state)
    known = len(memo)
    reading = read_repository(options, memo)
    marker, notes = published_marker(target, options.open_private_channel()), []
    holdings = assess_holdings(options, reading, target, store, notes)
    downloaded = {}
    if holdings.fetches:  # private ones too: both download into staging
        from controller.apply.ingest import download

        downloaded = download(reading.world, holdings.fetches, holdings.pools[0], options.fetch_policy,
                              options.progress)
    with leased(target, options.wait) as lease:
        remembered.check_private_area(target, store)
        if published_marker(target, options.open_private_channel()) != marker:
            holdings, notes = None, []
        planned = make_plan(options, memo, target, store, reading, holdings, notes)
        remembered.save_memo(options.state, memo, known)
        return apply_plan(planned, options, replan, lease.renew, downloaded)
