"""Desired channels against what is published: an ordered list of small, describable actions.
Pure: the published side arrives as plain values read by the publish adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controller.core.desired import ChannelContent
from controller.core.model import Channel, Package


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

    def describe(self) -> str:
        source = self.package.url or self.package.path
        return f"fetch {self.package.filename} for {self.release} from {source}"


@dataclass(frozen=True)
class PublishChannel:
    channel: Channel
    content: ChannelContent
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    reason: str = ""

    def describe(self) -> str:
        lines = [f"publish {self.channel.value}: {self.reason}"]
        for repo in sorted(set(self.added) | set(self.removed)):
            for name in self.added.get(repo, ()):
                lines.append(f"  + {repo}/{name}")
            for name in self.removed.get(repo, ()):
                lines.append(f"  - {repo}/{name}")
        return "\n".join(lines)


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


def _sorted(files: dict[str, set[str]]) -> dict[str, list[str]]:
    return {repo: sorted(names) for repo, names in files.items() if names}
