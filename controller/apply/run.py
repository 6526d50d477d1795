"""Carrying out a plan, step by step, each recorded in the journal as it finishes: fetches, then
the channels, the public documents, the site, the messages; last, what the next run needs to
know to stop at once when nothing can have changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from controller.apply import gate as gate_step
from controller.apply import gc
from controller.apply import state as remembered
from controller.apply.lastrun import Outcome, published_marker
from controller.core import public
from controller.core.messages import Message, manager_emails
from controller.core.model import Channel
from controller.core.plan import RENEW_MARGIN
from controller.errors import ControllerError
from controller.notify import outbox
from controller.notify.mail import Mailer
from controller.publish import generations, site
from controller.publish.pool import Pool
from controller.publish.signing import Signer
from controller.publish.target import Target

if TYPE_CHECKING:
    from controller.reconcile import Options, Planned


def apply_plan(planned: Planned, options: Options, replan: Callable[[Planned, Options], Planned],
               renew: Callable[[], None] = lambda: None, downloaded: dict[str, str] | None = None) -> Outcome:
    """Carry out ``planned``; when a fetch fails, what follows is planned again from the pool.
    ``renew`` keeps the lease on the target alive between steps; ``downloaded``: the packages
    this run downloaded before taking it (their outcome by sha256)."""
    # Here, not at the top: a run that stops at once (nothing changed) loads none of the writers.
    from controller.apply import channels as channel_step
    from controller.apply.ingest import ingest

    world = planned.world
    journal = remembered.Journal(options.state, options.now.isoformat(), world.snapshot.head.id, renew)
    target, store = planned.target, planned.store
    pool, private = planned.pools or (Pool(target, options.state), Pool(options.open_private_area(), options.state))
    failures = remembered.read_failures(store)
    fetches = planned.plan.fetches + planned.plan.private_fetches
    notes: list[str] = []
    with contextlib.ExitStack() as stack:
        signers: list[Signer] = []

        def signer() -> Signer:  # the key is opened (its gpg-agent started) only when something is signed
            if not signers:
                signers.append(stack.enter_context(channel_step.make_signer(world, options.gnupg_home,
                                                                            options.state, store, notes)))
            return signers[0]

        fetched, failed = ingest(world, fetches, pool, private, failures, options.fetch_policy,
                                 options.now.isoformat(), options.progress, downloaded,
                                 lambda paths: signer().sign_rpms(paths))
        remembered.write_failures(store, failures)
        if fetches:
            result = f"{len(failed)} release(s) failed" if failed else "done"
            journal.done(f"fetch {len(fetches)} package(s)", result)
        refused = 0
        if planned.plan.checks:  # the releases whose fetch failed are left out
            refused = gate_step.check_planned(planned, options, (pool, private), signer)
            journal.done(f"check that {len(planned.plan.checks)} release(s) install",
                         f"{refused} did not pass" if refused else "done")
        if failed or refused:
            planned = replan(planned, options)
        plan = planned.plan
        for move in plan.moves:  # the embargo ended: in the public pool before a channel names them
            pool.take(private, move.sha256, move.filename)
        if plan.moves:
            pool.sync()
            journal.done(f"move {len(plan.moves)} package(s) into the public pool")
        url = planned.base_url
        from controller.apply import selfcheck

        checking = options.self_check.mode != "off"
        kept, before_switch = selfcheck.hooks(target, options.before_switch, checking)
        repair = selfcheck.failed_channels(store) if plan.channels else set()
        for action in plan.channels:
            options.progress(f"publishing {action.label}")
            channel_step.publish_channel(action, world, pool, signer(), target, options.state / "cache",
                                         options.now, url, options.before_switch if action.snapshot else before_switch,
                                         notes, action.channel in repair and not action.snapshot)
            if options.after_switch is not None and not action.snapshot:
                options.after_switch(action.channel)
            journal.done(f"publish {action.label}")
        if plan.private_channels:
            options.progress("publishing the private channel")
            _publish_private(plan, world, (private, pool), signer(), options)
            journal.done("publish the private channel")
    outcome = Outcome(planned, fetched, failed, list(planned.notes) + notes)
    alerts = _self_check(outcome, options, kept, journal) if checking and plan.channels else []
    for document in plan.documents:
        target.write(document.name, document.text.encode())
        journal.done(document.describe())
    if plan.site is not None:
        site.publish_site(target, dict(plan.site.files), plan.site.digest, dict(plan.site.inputs))
        outcome.notes.append(f"pages and feeds updated under {target.description.rstrip('/')}/{site.SITE}/")
        journal.done(plan.site.describe())
    if options.smtp is not None:
        due = list(plan.messages) + alerts
        outcome.notified, failure = _notify(planned, due, url, options)
        outcome.notes += [n for n in planned.notes if n not in outcome.notes]
        if failure:
            outcome.notes.append(f"notifications wait in the outbox: {failure}")
        if due:
            journal.done(f"mail {len(outcome.notified)} of {len(due)} message(s)")
    collect_next = _collect_garbage(planned, options.now, journal, outcome.notes, renew, pool)
    # A release waiting for verification is checked again against the channels just published.
    recheck = bool(plan.channels) and bool(gate_step.due_checks(
        world, planned.assessment, gate_step.read_gate(store), target, options.installability, options.now))
    _remember(options, planned, failures, store, collect_next, outcome.self_check_failed or recheck)
    _withhold(outcome, world, options.now)
    return outcome


def _publish_private(plan, world, sources: tuple[Pool, Pool], signer: Signer, options: Options) -> None:
    """The private channel, in its own location with its own pool (filled from the private pool,
    never fetched again). Its errors name the packages: what is said of them is redacted."""
    from controller.apply import channels as channel_step

    target = options.open_private_channel()
    pool = Pool(target, options.state)
    try:
        for action in plan.private_channels:
            for repo in action.content.repos:
                for entry in repo.entries:
                    source = next((s for s in sources if entry.sha256 in s.contents()), sources[0])
                    pool.copy_from(source, entry.sha256, entry.filename)
            pool.sync()
            channel_step.publish_channel(action, world, pool, signer, target, options.state / "cache", options.now,
                                         options.private_base_url)
    except ControllerError as exc:
        secrets = public.identifiers(world, options.now)
        error = ControllerError(f"publishing the private channel failed: {public.redact(exc.message, secrets)}",
                                public.redact(exc.hint, secrets))
        error.exit_code = exc.exit_code
        raise error from None


def _self_check(outcome: Outcome, options: Options, kept: dict, journal: remembered.Journal) -> list[Message]:
    """Read the channels just published back through the public URL; switch back each one that
    differs. Returns the alerts for the repository managers. Dated snapshots are not read back."""
    from controller.apply import selfcheck

    planned = outcome.plan
    actions = tuple(a for a in planned.plan.channels if not a.snapshot)
    if not actions:
        return []
    options.progress("reading the channels back with dnf and apt")
    result = selfcheck.check_channels(actions, planned.base_url, options.self_check)
    switched = {channel: selfcheck.switch_back(planned.target, channel, kept.get(channel),
                                               next(a for a in actions if a.channel == channel).content.digest)
                for channel in result.failed}
    selfcheck.record(planned.store, result, actions, switched, options.now)
    outcome.self_check = {channel.value: problems for channel, problems in result.problems.items()}
    outcome.notes += result.notes
    if result.problems:
        failed = ", ".join(c.value for c in result.failed)
        journal.done(f"self-check of {len(result.problems)} channel(s)",
                     f"{failed} differ; switched back" if failed else "done")
    return selfcheck.messages(result, actions, switched, planned.world.config, planned.base_url, options.now)


def _withhold(outcome: Outcome, world, now: datetime) -> None:
    """Leave embargoed releases out of what reconcile reports (its output may be a public CI log):
    their fetches, failures and messages become counts, and every note is redacted."""
    plan = outcome.plan.plan
    secret = public.embargoed_keys(world, now)
    private = {f.package.filename for f in plan.private_fetches}
    restricted = {m.key for m in plan.messages if m.restricted}
    fetched = [name for name in outcome.fetched if name in private]
    failed = [key for key in outcome.failures if key in secret]
    mailed = [key for key in outcome.notified if key in restricted]
    outcome.fetched = [name for name in outcome.fetched if name not in private]
    outcome.failures = {key: reason for key, reason in outcome.failures.items() if key not in secret}
    outcome.notified = [key for key in outcome.notified if key not in restricted]
    outcome.withheld_failures = len(failed)
    if fetched:
        outcome.withheld.append(f"fetched {len(fetched)} package(s) of embargoed releases into the private pool "
                                "(details withheld)")
    if failed:
        outcome.withheld.append(f"{len(failed)} embargoed release(s) failed ingestion (details withheld; "
                                f"{public.SHOW})")
    if plan.private_channels:
        outcome.withheld.append("published the private channel (details withheld)")
    if mailed:
        outcome.withheld.append(f"mailed {len(mailed)} message(s) about embargoed releases to the security group "
                                "and the committed early adopters (details withheld)")
    secrets = public.identifiers(world, now)
    outcome.notes = [public.redact(note, secrets) for note in outcome.notes]


def plan_garbage(planned: Planned, now: datetime, pool: Pool | None = None) -> gc.Collection:
    """``pool``: the public pool as this run left it (else it is listed again)."""
    copies = (pool or Pool(planned.target, Path("/nonexistent"))).signed_copies()
    alive, gone = gc.release_packages(planned.world, planned.assessment, copies)
    return gc.plan_collection(planned.target, planned.world.config.retention, now, alive, gone,
                              pool.names() if pool is not None else None)


def _collect_garbage(planned: Planned, now: datetime, journal, notes: list[str], renew,
                     pool: Pool | None = None) -> datetime | None:
    """After the publication's writes, never among them: what no kept generation names goes.
    Returns when a retention time next runs out."""
    collection = plan_garbage(planned, now, pool)
    if collection.keys:
        gc.collect(planned.target, collection, now, renew)
        journal.done("collect garbage", collection.describe())
        notes.append(collection.describe())
    return collection.next_due


def _notify(planned: Planned, due: list[Message], url: str, options: Options) -> tuple[list[str], str]:
    world = planned.world
    base = url.rstrip("/")

    def clients(key: str, where: str) -> list[str]:
        return [f"{where}/{r.name}.{'repo' if r.format == 'yum' else 'sources'}" for r in world.config.repositories
                if any(p.platform == r.platform for p in world.releases[key].release.packages)]

    private = f"{options.private_base_url.rstrip('/')}/{public.PrivateChannel.EMBARGOED.value}" \
        if options.private_publish is not None else None

    def render(message: Message) -> str:
        if "key" not in message.context:  # not about one release: a message of the controller's own
            return planned.renderer.render(message.template, **message.context)
        key = message.context["key"]
        secret = message.context.get("embargoed")
        page = None if secret else f"{base}/site/releases/{key.replace('/', '-')}.html"
        return planned.renderer.render(message.template, client_urls=clients(key, f"{base}/staged-rollout"),
                                       private_urls=clients(key, private) if secret and private else [],
                                       page_url=page, **message.context)

    smtp = options.smtp
    store = planned.store
    lost = store.read(outbox.LEDGER) is None and planned.published_before
    if outbox.is_damaged(store) or lost:
        # Rebuilt as a new deployment would start: what is due now counts as sent, so that no one
        # gets a message twice; a person is told, since some may not have gone out.
        outbox.write_ledger(store, outbox.Ledger(skipped={m.key: "the ledger was unreadable; rebuilt" for m in due}))
        planned.notes.append(f"the notification ledger in {store.description} was {'lost' if lost else 'unreadable'}"
                             ": rebuilt, "
                             f"{len(due)} due message(s) marked as sent without sending")
        return [], ""
    return outbox.deliver(store, due, options.now, render, lambda: Mailer(smtp),
                          manager_emails(world.config), smtp.attempts, smtp.backoff)


# --- the record that lets the next run stop at once (apply/lastrun) -------------------------


def _remember(options: Options, planned: Planned, failures: dict, store: Target, collect_next: datetime | None,
              pending: bool = False) -> None:
    """What the next run needs to know that nothing can have changed since this one."""
    target = planned.target
    published = [(target, c) for c in Channel]
    if options.private_publish is not None:  # the private channel's apt Release expires too
        published += [(options.open_private_channel(), c) for c in public.PrivateChannel]
    renew = [p.valid_until - RENEW_MARGIN for where, c in published
             if (p := generations.read_published(where, c)) and p.valid_until]
    until = [t for t in (planned.assessment.next_change, min(renew, default=None), collect_next) if t is not None]
    remembered.write_last_run(options.state, {
        "commit": planned.world.snapshot.head.id,
        "rev": options.rev,
        "now": options.now.isoformat(),
        "valid_until": min(until).isoformat() if until else None,
        "pending_failures": bool(failures) or pending or bool(options.smtp and outbox.has_work(store)),
        "published": published_marker(target, options.open_private_channel()),
    })
