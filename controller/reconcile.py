"""reconcile and plan: fetch what is missing into the pool, work out the desired channels, and
publish each changed channel as a new generation. The one place that wires the publish adapters
to the pure core (assess -> desired -> plan); it prints nothing and never exits.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from controller import app
from controller.core import public
from controller.core import schemacheck as schemas
from controller.core.assess import Assessment, Ingest, assess
from controller.core.desired import compute_desired
from controller.core.ingest import check_bytes, identity_problem, ingest_outcomes
from controller.core.loading import locate
from controller.core.messages import Message, due_messages
from controller.core.metrics import compute_metrics, render_svg
from controller.core.model import Channel, State, World
from controller.core.plan import RENEW_MARGIN, VALIDITY, Fetch, PublishChannel, plan_channels
from controller.core.policy import Context, evaluate_rules
from controller.core.timeline import landing
from controller.core.views import release_views
from controller.errors import BadInput, ControllerError, Problem
from controller.notify import outbox
from controller.notify.mail import Mailer, SmtpSettings
from controller.notify.render import Renderer
from controller.publish import apt, clients, debfile, generations, site, yum
from controller.publish.pool import Pool
from controller.publish.signing import Signer, configured_signer, throwaway_signer
from controller.sources.fetch import FetchPolicy, fetch

DEFAULT_BASE_URL = "http://localhost:8080"


@dataclass(frozen=True)
class Options:
    repo: str
    rev: str
    now: datetime
    publish: Path
    state: Path
    gnupg_home: Path | None = None
    base_url: str | None = None
    wait: float = 0.0
    fetch_policy: FetchPolicy = FetchPolicy()
    # Called after a generation is complete and before the channel switches to it: a seam for
    # hooks (and for tests that interrupt a run there).
    before_switch: Callable[[Channel, Path], None] | None = None
    progress: Callable[[str], None] = lambda message: None
    smtp: SmtpSettings | None = None  # notifications are off without a mail server


@dataclass
class Plan:
    world: World
    assessment: Assessment
    fetches: list[Fetch]
    actions: list[PublishChannel]
    state_changes: list[tuple[str, str | None, str]]
    problems: list[Problem]
    rules: tuple[list[Problem], set[str]] | None = None


@dataclass
class Outcome:
    plan: Plan | None  # None: the run saw at once that nothing could have changed
    fetched: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)  # keys of the messages sent

    @property
    def changed(self) -> bool:
        return self.plan is not None and bool(self.fetched or self.plan.actions or self.plan.state_changes)


# --- ingestion -------------------------------------------------------------------------------


def _failures_file(state: Path) -> Path:
    return state / "ingest-failures.json"


def read_failures(state: Path) -> dict[str, dict]:
    path = _failures_file(state)
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_json_if_changed(path: Path, data: object) -> bool:
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def _missing(world: World, assessment: Assessment, pool: set[str]) -> list[Fetch]:
    wanted = []
    for key, status in sorted(assessment.statuses.items()):
        if status.state in (State.CERTIFIED, State.INGEST_FAILED):
            release = world.releases[key].release
            wanted += [Fetch(key, p) for p in release.packages if p.sha256 not in pool]
    return wanted


def _fetch_one(world: World, item: Fetch, pool: Pool, policy: FetchPolicy) -> str:
    """Bring one package into the pool; '' on success, else the reason."""
    package = item.package
    release = world.releases[item.release].release
    staged = pool.partial(package.sha256)
    if package.path is not None:
        data = world.snapshot.files.get(f"{release.directory}/{package.path}")
        if data is None:
            return f"{package.path}: not in the repository"
        reason = check_bytes(package, data)
        if reason:
            return reason
        staged.write_bytes(data)
    else:
        try:
            digest = fetch(package.url, staged, package.size, policy)
        except ControllerError as exc:
            return f"{package.filename}: {exc.message}"
        if digest != package.sha256:
            staged.unlink()
            return f"{package.filename}: sha256 is {digest}, the manifest says {package.sha256}"
    # Right bytes, but are they the package the manifest names? The metadata will say what the
    # header says, so a mismatch would publish something other than what was verified.
    try:
        found = (yum.rpm_identity(str(staged)) if package.format == "rpm"
                 else debfile.deb_identity(staged.read_bytes(), package.filename))
    except (ControllerError, ValueError, OSError) as exc:
        found, reason = None, f"{package.filename}: not a readable {package.format} package ({exc})"
    else:
        reason = identity_problem(package, found)
    if reason:
        staged.unlink()
        return reason
    pool.admit(staged, package.sha256, durable=False)
    return ""


# --- the parse cache -------------------------------------------------------------------------


def _memo_file(state: Path) -> Path:
    return state / "cache" / "documents.json"


def _memo_version() -> str:
    """Parse results stay valid while the schemas and the reader are the same."""
    return hashlib.sha256(f"{MEMO_FORMAT}:{schemas.schemas_digest()}".encode()).hexdigest()


MEMO_FORMAT = "documents-1"


def _load_memo(state: Path) -> dict:
    path = _memo_file(state)
    if not path.is_file():
        return {}
    try:
        stored = json.loads(path.read_text())
    except ValueError:
        return {}  # a damaged cache is only a slower run
    if stored.get("version") != _memo_version():
        return {}
    return {key: tuple(value) for key, value in stored["entries"].items()}


def _save_memo(state: Path, memo: dict, known: int) -> None:
    """Store the cache when this run parsed something new (``known``: entries it started with)."""
    if len(memo) == known:
        return
    path = _memo_file(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"version": _memo_version(), "entries": memo}, separators=(",", ":")))
    os.replace(tmp, path)


# --- planning --------------------------------------------------------------------------------


def _previous_states(publish: Path) -> dict[str, str]:
    path = publish / "status.json"
    if not path.is_file():
        return {}
    return {r["release"]: r["state"] for r in json.loads(path.read_text())["releases"]}


def make_plan(options: Options, assume_fetched: bool = True) -> Plan:
    """What reconcile would do. Writes nothing; packages not yet in the pool are taken as fetched
    (when ``assume_fetched``) so that the plan shows where their releases would go."""
    memo = _load_memo(options.state)
    known = len(memo)
    world, problems = app.read_world(options.repo, options.rev, memo)
    _save_memo(options.state, memo, known)
    if world.config is None:
        raise BadInput("the repository has no valid repos-config/", "rolloutctl validate shows what is wrong",
                       problems)
    held = Pool(options.publish / "pool").contents()
    failures = read_failures(options.state)
    outcomes = ingest_outcomes(world, held.__contains__, failures)
    rules = evaluate_rules(Context(world))
    before = assess(world, options.now, outcomes, problems=problems, rules=rules)
    fetches = _missing(world, before, held)
    assessment = before
    if assume_fetched and fetches:
        pending = {f.release for f in fetches}
        optimistic = dict(outcomes)
        for key in pending:
            touch = landing(world.snapshot, world.releases[key].release.path)
            optimistic[key] = Ingest(True, touch.landed.committer.time)
        assessment = assess(world, options.now, optimistic, problems=problems, rules=rules)
    plan = _finish_plan(world, assessment, fetches, options, problems)
    plan.rules = rules
    return plan


def _finish_plan(world: World, assessment: Assessment, fetches: list[Fetch], options: Options,
                 problems: list[Problem]) -> Plan:
    desired = compute_desired(world, assessment, options.now)
    published = {c: generations.read_published(options.publish, c) for c in Channel}
    actions = plan_channels(desired, published, options.now, _setup(world, options))
    previous = _previous_states(options.publish)
    changes = [(key, previous.get(key), s.state.value) for key, s in sorted(assessment.statuses.items())
               if previous.get(key) != s.state.value]
    return Plan(world, assessment, fetches, actions, changes, locate(assessment.findings, world))


def _base_url(world: World, options: Options) -> str:
    return options.base_url or world.config.base_url or DEFAULT_BASE_URL


def _setup(world: World, options: Options) -> dict[str, str]:
    """What the published files depend on besides the content: where they are served from and
    which key signs them (the configured one; a throwaway key is "throwaway")."""
    key = next((r.signing_key for r in world.config.repositories if r.signing_key), None)
    return {"base_url": _base_url(world, options), "signing_key": key or "throwaway"}


# --- applying --------------------------------------------------------------------------------


def _signer(world: World, options: Options, notes: list[str]) -> Signer:
    config = world.config
    fingerprint = next((r.signing_key for r in config.repositories if r.signing_key), None)
    if fingerprint:
        home = options.gnupg_home or Path(os.environ.get("GNUPGHOME", Path.home() / ".gnupg"))
        return configured_signer(home, fingerprint)
    signer, created = throwaway_signer(options.state / "throwaway-gnupg")
    if created:
        notes.append(f"no signing_key in repos-config/repositories.yaml: made a throwaway key "
                     f"{signer.fingerprint} in {signer.home}; set signing_key for real use")
    return signer


def reconcile(options: Options) -> Outcome:
    with generations.locked(options.state, options.wait):
        if _nothing_changed(options):
            return Outcome(None)
        for channel in Channel:
            generations.prune(options.publish, channel)
        first = make_plan(options, assume_fetched=False)
        world = first.world
        pool = Pool(options.publish / "pool")
        failures = read_failures(options.state)
        fetched, failed = _ingest(world, first.fetches, pool, failures, options)
        plan = first
        if first.fetches:
            held = pool.contents()
            assessment = assess(world, options.now, ingest_outcomes(world, held.__contains__, failures),
                                problems=[], rules=first.rules)
            plan = _finish_plan(world, assessment, [], options, first.problems)
            plan.fetches = first.fetches
        outcome = Outcome(plan, fetched, failed)
        if plan.actions:
            signer = _signer(world, options, outcome.notes)
            for action in plan.actions:
                options.progress(f"publishing {action.channel.value}")
                _publish_channel(action, world, pool, signer, options)
        _write_json_if_changed(options.publish / "status.json",
                               public.status_document(world, plan.assessment, options.now))
        _write_json_if_changed(options.publish / "beta.json", public.beta_sites(world, plan.assessment, options.now))
        views = release_views(world, plan.assessment, options.now)
        title = f"{world.config.distribution_name} releases"
        renderer = Renderer(world.snapshot.files)
        figures = compute_metrics(world, plan.assessment, None, None, options.now)
        plots = {"rollout-durations.svg": render_svg(figures["rollout_days"])}
        if site.publish_site(options.publish, site.render_site(views, renderer, _base_url(world, options), title,
                                                               plots)):
            outcome.notes.append(f"pages and feeds updated under {options.publish / site.SITE}/")
        if options.smtp is not None:
            outcome.notified, failure = _notify(world, plan.assessment, renderer, options)
            if failure:
                outcome.notes.append(f"notifications wait in the outbox: {failure}")
        _remember(options, world, plan, failures)
        return outcome


def _ingest(world: World, fetches: list[Fetch], pool: Pool, failures: dict, options: Options):
    """Fetch what is missing, release by release; record failures (retried next run)."""
    fetched, failed = [], {}
    by_release: dict[str, list[Fetch]] = {}
    for item in fetches:
        by_release.setdefault(item.release, []).append(item)
    # file:// sources are allowed only inside the roots the repository managers configured.
    policy = replace(options.fetch_policy, file_roots=world.config.file_roots)
    for key, items in by_release.items():
        reasons = []
        for item in items:
            options.progress(item.describe())
            reason = _fetch_one(world, item, pool, policy)
            if reason:
                reasons.append(reason)
            else:
                fetched.append(item.package.filename)
        if reasons:
            failures[key] = {"reason": "; ".join(reasons), "at": options.now.isoformat()}
            failed[key] = failures[key]["reason"]
        else:
            failures.pop(key, None)
    if fetched:
        pool.sync()  # admitted without a sync each: one for all, before anything names them
    if failures or _failures_file(options.state).exists():
        _write_json_if_changed(_failures_file(options.state), failures)
    return fetched, failed


# --- notifications ---------------------------------------------------------------------------


def _notify(world: World, assessment: Assessment, renderer: Renderer, options: Options) -> tuple[list[str], str]:
    base = _base_url(world, options).rstrip("/")
    repos = [r for r in world.config.repositories]

    def render(message: Message) -> str:
        key = message.context["key"]
        urls = [f"{base}/staged-rollout/{r.name}.{'repo' if r.format == 'yum' else 'sources'}" for r in repos
                if any(p.platform == r.platform for p in world.releases[key].release.packages)]
        page = None if message.context.get("embargoed") else f"{base}/site/releases/{key.replace('/', '-')}.html"
        return renderer.render(message.template, client_urls=urls, page_url=page, **message.context)

    due = due_messages(world, assessment, options.now)
    return outbox.deliver(options.state, due, options.now, render, lambda: Mailer(options.smtp))


# --- skipping a run that cannot change anything --------------------------------------------------


def _last_file(state: Path) -> Path:
    return state / "last-reconcile.json"


def _remember(options: Options, world: World, plan: Plan, failures: dict) -> None:
    """What the next run needs to know that nothing can have changed since this one."""
    renew = [p.valid_until - RENEW_MARGIN for c in Channel
             if (p := generations.read_published(options.publish, c)) and p.valid_until]
    until = [t for t in (plan.assessment.next_change, min(renew, default=None)) if t is not None]
    _write_json_if_changed(_last_file(options.state), {
        "commit": world.snapshot.head.id,
        "rev": options.rev,
        "now": options.now.isoformat(),
        "valid_until": min(until).isoformat() if until else None,
        "pending_failures": bool(failures) or bool(options.smtp and outbox.read_ledger(options.state).pending),
        "pool": _pool_marker(options.publish),
        "channels": {c.value: str(generations.channel_link(options.publish, c).resolve()) for c in Channel},
    })


def _pool_marker(publish: Path) -> float:
    folder = publish / "pool" / "sha256"
    return max((entry.stat().st_mtime for entry in os.scandir(folder)), default=0.0) if folder.is_dir() else 0.0


def _nothing_changed(options: Options) -> bool:
    path = _last_file(options.state)
    if not path.is_file():
        return False
    last = json.loads(path.read_text())
    if last["pending_failures"] or last["rev"] != options.rev:
        return False
    if last["valid_until"] is not None and options.now >= datetime.fromisoformat(last["valid_until"]):
        return False
    if options.now < datetime.fromisoformat(last["now"]):
        return False  # replaying an earlier day
    if last["pool"] != _pool_marker(options.publish):
        return False
    channels = {c.value: str(generations.channel_link(options.publish, c).resolve()) for c in Channel}
    if channels != last["channels"]:
        return False
    return app.head_commit(options.repo, options.rev) == last["commit"]


def _publish_channel(action: PublishChannel, world: World, pool: Pool, signer: Signer, options: Options) -> None:
    config = world.config
    publish = options.publish
    content = action.content
    generation = generations.new_generation(publish, action.channel, content.digest)
    base_url = _base_url(world, options)
    public_key = signer.public_key()
    cache = options.state / "cache"
    valid_until = None
    for repo_content in content.repos:
        repo = repo_content.repository
        target = generation / repo.name
        if repo.format == "yum":
            yum.write_repository(target, repo_content, pool.path, yum.BlockCache(cache), signer,
                                 int(options.now.timestamp()))
            (generation / f"{repo.name}.repo").write_text(
                clients.dnf_repo(repo, action.channel, base_url, f"{config.distribution_name} {repo.distribution}"))
        else:
            valid_until = options.now + VALIDITY
            label = f"{config.distribution_name} {repo.distribution} {action.channel.value}"
            apt.write_repository(target, repo_content, pool.path, apt.StanzaCache(cache), signer, label,
                                 options.now, valid_until)
            (generation / f"{repo.name}.sources").write_text(
                clients.apt_sources(repo, action.channel, base_url, public_key))
    (generation / "key.asc").write_bytes(public_key)
    manifest = {"digest": content.digest, "commit": world.snapshot.head.id, "setup": _setup(world, options),
                "valid_until": valid_until.isoformat() if valid_until else None,
                "files": {r.repository.name: sorted(e.filename for e in r.entries) for r in content.repos}}
    (generation / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if options.before_switch is not None:
        options.before_switch(action.channel, generation)
    generations.switch(publish, action.channel, generation)
    generations.prune(publish, action.channel)
