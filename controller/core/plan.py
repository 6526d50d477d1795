"""Desired state against what is published and remembered: one frozen plan of small, describable
actions (fetches, channel generations, the site, status.json and beta.json, messages) that apply
carries out in order. Pure: the published side arrives as plain values read by the adapters.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from controller.core.desired import ChannelContent
from controller.core.messages import Message
from controller.core.model import Channel, Package, World
from controller.core.public import PrivateChannel, is_embargoed


@dataclass(frozen=True)
class Published:
    """What a channel's current generation says about itself (its manifest)."""

    digest: str
    files: dict[str, set[str]]  # repository -> filenames
    valid_until: datetime | None  # earliest apt Valid-Until in the channel
    setup: dict[str, str] = field(default_factory=dict)  # base URL and signing key it was made with


@dataclass(frozen=True)
class Fetch:
    release: str
    package: Package
    private: bool = False  # an embargoed release's: into the private pool, and never named

    def describe(self) -> str:
        if self.private:
            return "fetch a package of an embargoed release into the private pool (details withheld)"
        source = self.package.url or self.package.path
        return f"fetch {self.package.filename} for {self.release} from {source}"


@dataclass(frozen=True)
class MovePackage:
    """A package whose release's embargo ended: from the private pool into the public one."""

    release: str
    sha256: str
    filename: str

    def describe(self) -> str:
        return f"move {self.filename} for {self.release} from the private pool into the public pool (embargo ended)"


@dataclass(frozen=True)
class CheckInstallability:
    """Whether a release's packages install into Staged Rollout with Production (the result is
    recorded for the core; see core/installability.py)."""

    release: str
    basis: str
    private: bool = False  # an embargoed release's: counted, never named

    def describe(self) -> str:
        return f"check that {self.release} installs into Staged Rollout with Production (dnf repoclosure, apt)"


@dataclass(frozen=True)
class PublishChannel:
    channel: Channel | PrivateChannel
    content: ChannelContent
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    reason: str = ""
    snapshot: str = ""  # a dated snapshot's day (YYYY-MM-DD); "" for the live channel

    @property
    def label(self) -> str:
        """Where it is published: the channel's name, or a snapshot's (production-2026-12-01)."""
        return f"{self.channel.value}-{self.snapshot}" if self.snapshot else self.channel.value

    def describe(self) -> str:
        name = f"the snapshot {self.channel.value}/{self.snapshot}" if self.snapshot else self.channel.value
        lines = [f"publish {name}: {self.reason}"]
        for repo in sorted(set(self.added) | set(self.removed)):
            for name in self.added.get(repo, ()):
                lines.append(f"  + {repo}/{name}")
            for name in self.removed.get(repo, ()):
                lines.append(f"  - {repo}/{name}")
        return "\n".join(lines)


def plan_moves(world: World, now: datetime, public: set[str], private: dict[str, str]) -> tuple[MovePackage, ...]:
    """The packages waiting in the private pool (``private``: sha256 -> pool key) whose release's
    embargo has ended, to be moved into the public pool before any channel names them."""
    moves = {}
    for key, files in sorted(world.releases.items()):
        release = files.release
        if release is None or is_embargoed(release, now):
            continue
        for package in release.packages:
            if package.sha256 in private and package.sha256 not in public and package.sha256 not in moves:
                filename = private[package.sha256].rsplit("/", 1)[-1]
                moves[package.sha256] = MovePackage(key, package.sha256, filename)
    return tuple(moves.values())


# apt clients refuse a Release past its Valid-Until: sign for this long, renew within the margin.
VALIDITY = timedelta(days=7)
RENEW_MARGIN = timedelta(days=2)


def plan_channels(desired: dict[Channel, ChannelContent], published: dict[Channel, Published | None],
                  now: datetime, setup: dict[str, str] | None = None) -> list[PublishChannel]:
    """``setup``: the base URL and signing key this run would publish with; a change rewrites the
    client configurations and signatures even when the packages stay the same."""
    actions = []
    for channel, content in desired.items():
        current = published.get(channel)
        files = {r.repository.name: {e.filename for e in r.entries} for r in content.repos}
        if current is None:
            actions.append(PublishChannel(channel, content, _sorted(files), {}, "first publication"))
            continue
        if current.digest != content.digest:
            added = {repo: names - current.files.get(repo, set()) for repo, names in files.items()}
            removed = {repo: names - files.get(repo, set()) for repo, names in current.files.items()}
            actions.append(PublishChannel(channel, content, _sorted(added), _sorted(removed), "content changed"))
        elif setup is not None and current.setup != setup:
            actions.append(PublishChannel(channel, content, {}, {}, "base URL or signing key changed"))
        elif current.valid_until is not None and current.valid_until - now <= RENEW_MARGIN:
            actions.append(PublishChannel(channel, content, {}, {}, "apt Valid-Until renewal"))
    return actions


def plan_snapshots(desired: dict[tuple[Channel, str], ChannelContent],
                   published: dict[tuple[Channel, str], Published | None], now: datetime,
                   setup: dict[str, str] | None = None) -> list[PublishChannel]:
    """Dated snapshots, keyed by (channel, day), planned as live channels are: published once,
    again only when the set-up changes or apt's Valid-Until needs renewing."""
    actions = []
    for (channel, day), content in sorted(desired.items(), key=lambda item: (item[0][1], item[0][0].value)):
        actions += [replace(a, snapshot=day) for a in
                    plan_channels({channel: content}, {channel: published.get((channel, day))}, now, setup)]
    return actions


def _sorted(files: dict[str, set[str]]) -> dict[str, list[str]]:
    return {repo: sorted(names) for repo, names in files.items() if names}


@dataclass(frozen=True)
class WriteDocument:
    """A public JSON document (status.json, beta.json) whose content changed."""

    name: str
    text: str

    def describe(self) -> str:
        return f"write {self.name}"


@dataclass(frozen=True)
class PublishSite:
    """The pages and feeds, switched as a whole when any of them changed."""

    digest: str
    files: tuple[tuple[str, str], ...]  # (relative path, text) of the files that changed
    inputs: tuple[tuple[str, str], ...] = ()  # every file of the site: (relative path, what it is made from)

    def describe(self) -> str:
        return f"publish the site: {len(self.files)} of {len(self.inputs)} pages, feeds and plots"


@dataclass(frozen=True)
class Plan:
    """Every action of a run, in the order apply carries them out. Channel, document and site
    actions assume the fetches succeed; apply plans again only when one fails."""

    fetches: tuple[Fetch, ...] = ()
    private_fetches: tuple[Fetch, ...] = ()  # embargoed releases' packages, into the private pool
    moves: tuple[MovePackage, ...] = ()  # embargo ended: private pool -> public pool, before the channels
    checks: tuple[CheckInstallability, ...] = ()  # after the fetches, before the channels
    channels: tuple[PublishChannel, ...] = ()
    private_channels: tuple[PublishChannel, ...] = ()  # to the private channel's own location
    documents: tuple[WriteDocument, ...] = ()
    site: PublishSite | None = None
    messages: tuple[Message, ...] = ()  # due and not yet in the ledger (sent now, or recorded as stale)
    state_changes: tuple[tuple[str, str | None, str], ...] = ()  # (release, state before, state after)

    def describe(self) -> list[str]:
        """Every action, as the public may read it: embargoed work is counted, never named."""
        lines = [f.describe() for f in self.fetches]
        lines += [m.describe() for m in self.moves]
        lines += [c.describe() for c in self.checks if not c.private]
        lines += [a.describe() for a in self.channels]
        lines += [d.describe() for d in self.documents]
        if self.site is not None:
            lines.append(self.site.describe())
        lines += [m.describe() for m in self.messages if not m.restricted]
        return lines + self.withheld()

    def withheld(self) -> list[str]:
        """What the run does for embargoed releases, in counts."""
        lines = []
        if self.private_fetches:
            releases = len({f.release for f in self.private_fetches})
            lines.append(f"fetch {len(self.private_fetches)} package(s) of {releases} embargoed release(s) into the "
                         "private pool (details withheld)")
        for action in self.private_channels:
            releases = len({e.release for repo in action.content.repos for e in repo.entries})
            lines.append(f"publish the private channel: {action.reason}, {releases} embargoed release(s) "
                         "(details withheld)")
        private = sum(1 for c in self.checks if c.private)
        if private:
            lines.append(f"check that {private} embargoed release(s) install (details withheld)")
        restricted = sum(1 for m in self.messages if m.restricted)
        if restricted:
            lines.append(f"mail {restricted} message(s) about embargoed releases to the security group and the "
                         "committed early adopters (details withheld)")
        return lines


def plan_documents(wanted: dict[str, str], published: dict[str, str | None]) -> tuple[WriteDocument, ...]:
    """The documents whose text differs from what is published."""
    return tuple(WriteDocument(name, text) for name, text in sorted(wanted.items()) if published.get(name) != text)


def plan_site(files: dict[str, str], digest: str, published_digest: str | None,
              inputs: dict[str, str] | None = None) -> PublishSite | None:
    """The site when any file's inputs changed (``files``: those rendered, ``inputs``: all)."""
    if digest == published_digest:
        return None
    return PublishSite(digest, tuple(sorted(files.items())), tuple(sorted((inputs or {}).items())))


def state_changes(previous: dict[str, str], current: dict[str, str]) -> tuple[tuple[str, str | None, str], ...]:
    """(release, state before, state after) for every release whose public state moved."""
    return tuple((key, previous.get(key), state) for key, state in sorted(current.items())
                 if previous.get(key) != state)
