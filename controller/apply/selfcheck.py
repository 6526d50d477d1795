"""The self-check after a publication: every channel a run switched is read back through the public
URL with real dnf and apt, as a site reads it (the published .repo and .sources files, signatures
on), and what they offer (package NEVRAs per repository) is compared with what the plan published.

A channel that differs is switched back: its roots (metalink.xml, InRelease, Release, Release.gpg)
are written again as they were before the switch, so that sites keep the generation that was
right, and its manifest is marked so that the next run publishes the channel again, rewriting
every object of the generation, and checks again. The repository managers are told once per
channel and content; `status --check` fails while a failure stands. The record lives in the
private state area (self-check.json). Deciding what a channel should hold is the plan's; this
module only reads it back.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from controller.core.desired import Entry
from controller.core.messages import Message
from controller.core.model import Channel, Config
from controller.core.plan import PublishChannel
from controller.publish import generations
from controller.publish.clients import repo_id
from controller.publish.target import Publication, Target
from controller.sources import clients

MODES = ("auto", "off", "dnf", "apt", "both")
RECORD = "self-check.json"
TEMPLATE = "mail-self-check.txt.j2"
_TOOLS = {"yum": "dnf", "apt": "apt"}


@dataclass(frozen=True)
class Settings:
    """``mode``: which clients read the channels back (auto: those installed here). A mismatch is
    read again ``attempts`` times, ``pause`` seconds apart: a CDN may serve a root it cached for up
    to a minute (the roots' max-age) after the switch."""

    mode: str = "off"
    check_dates: bool = True  # apt's Valid-Until and Date checks; off when replaying another day
    attempts: int = 3
    pause: float = 30.0

    def tools(self, formats: set[str]) -> tuple[set[str], list[str]]:
        """The repository formats to read back, and a note for each one skipped."""
        if self.mode == "off":
            return set(), []
        here = clients.installed()
        wanted = {"dnf": {"dnf"}, "apt": {"apt"}, "both": {"dnf", "apt"}}.get(self.mode, {"dnf", "apt"})
        checked, notes = set(), []
        for fmt in sorted(formats):
            tool = _TOOLS[fmt]
            if tool not in wanted:
                continue
            if here[tool]:
                checked.add(fmt)
            else:
                notes.append(f"self-check: {tool} is not installed on this machine: the {fmt} repositories were "
                             f"not read back (install it, or pass --self-check={'apt' if tool == 'dnf' else 'dnf'} "
                             "or off)")
        return checked, notes


@dataclass(frozen=True)
class Kept:
    """A channel's roots and manifest as they were before its switch."""

    roots: tuple[tuple[str, bytes, float | None], ...]
    manifest: bytes | None


def remember(target: Target, channel: Channel, publication: Publication) -> Kept:
    roots = []
    for key, _, _ in publication.roots:
        data = target.read(key)
        if data is not None:
            stored = target.list(key).get(key)
            roots.append((key, data, stored.modified if stored else None))
    return Kept(tuple(roots), target.read(generations.manifest_key(channel)))


@dataclass
class Result:
    """What the check found: channel -> problems (empty when it matched), and notes."""

    problems: dict[Channel, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> dict[Channel, list[str]]:
        return {c: p for c, p in self.problems.items() if p}


def nevra(entry: Entry, fmt: str) -> str:
    """How dnf (name-epoch:version-release.arch) or apt (name_version_arch) names a package."""
    if fmt == "yum":
        return f"{entry.name}-{entry.epoch}:{entry.version}-{entry.rel}.{entry.arch}"
    epoch = f"{entry.epoch}:" if entry.epoch else ""
    return f"{entry.name}_{epoch}{entry.version}_{entry.arch}"


def compare(repository: str, client: str, wanted: set[str], offered: set[str]) -> list[str]:
    problems = [f"{repository}: {client} does not offer {name}, which was published there"
                for name in sorted(wanted - offered)]
    problems += [f"{repository}: {client} offers {name}, which the plan did not publish there"
                 for name in sorted(offered - wanted)]
    return problems


def read_back(actions: tuple[PublishChannel, ...], base_url: str, settings: Settings, work: Path) -> Result:
    """Read every channel of ``actions`` back through ``base_url`` and compare; a channel that
    differs is read again (``settings.attempts``) before it counts as different."""
    formats = {r.repository.format for a in actions for r in a.content.repos}
    checked, notes = settings.tools(formats)
    result = Result(notes=notes)
    pending = [a for a in actions if any(r.repository.format in checked for r in a.content.repos)]
    for attempt in range(max(1, settings.attempts)):
        if attempt:
            time.sleep(settings.pause)
        try:
            found = _read_once(pending, base_url, checked, work / f"attempt-{attempt}", settings.check_dates)
        except clients.Unreachable as exc:
            result.notes.append(f"self-check: {base_url} did not answer from this machine ({exc}): the channels "
                                "were not read back; serve the publish target there, or pass --self-check=off")
            return result
        result.problems.update(found)
        pending = [a for a in pending if found.get(a.channel)]
        if not pending:
            break
    return result


def _read_once(actions: list[PublishChannel], base_url: str, formats: set[str], work: Path,
               check_dates: bool) -> dict[Channel, list[str]]:
    base = base_url.rstrip("/")
    problems: dict[Channel, list[str]] = {a.channel: [] for a in actions}
    yum: dict[str, tuple[Channel, str, set[str]]] = {}  # dnf repository id -> (channel, name, NEVRAs)
    configs: dict[str, bytes] = {}
    for action in actions:
        channel = action.channel
        for content in action.content.repos:
            repo = content.repository
            if repo.format not in formats:
                continue
            wanted = {nevra(e, repo.format) for e in content.entries}
            suffix = "repo" if repo.format == "yum" else "sources"
            url = f"{base}/{channel.value}/{repo.name}.{suffix}"
            config, missing = clients.read_config(url, work / "downloads")
            if config is None:
                problems[channel].append(f"{repo.name}: its client configuration is not served: {missing}")
            elif repo.format == "yum":
                yum[repo_id(repo, channel)] = (channel, repo.name, wanted)
                configs[repo_id(repo, channel)] = config
            else:
                offered, unread = clients.apt_offers(config, work / f"apt-{repo_id(repo, channel)}", check_dates)
                problems[channel] += ([f"{repo.name}: apt could not read it: {unread}"] if unread
                                      else compare(repo.name, "apt", wanted, offered))
    if configs:
        offered, unread = clients.dnf_offers(configs, work / "dnf")
        for ident, (channel, name, wanted) in yum.items():
            why = unread.get(ident) or unread.get("*")
            problems[channel] += ([f"{name}: dnf could not read it: {why}"] if why
                                  else compare(name, "dnf", wanted, offered.get(ident, set())))
    return problems


def check_channels(actions: tuple[PublishChannel, ...], base_url: str, settings: Settings) -> Result:
    if settings.mode == "off" or not actions:
        return Result()
    with tempfile.TemporaryDirectory(prefix="rolloutctl-self-check-") as work:
        return read_back(actions, base_url, settings, Path(work))


def switch_back(target: Target, channel: Channel, kept: Kept | None, digest: str) -> bool:
    """Serve the generation the channel served before its switch again (True), when there was
    one; either way mark its manifest so that the next run publishes the channel again."""
    restored = bool(kept and kept.roots)
    if restored:
        for key, data, modified in kept.roots:
            target.write(key, data, modified)
        target.flush()
    key = generations.manifest_key(channel)
    raw = kept.manifest if kept and kept.manifest is not None else target.read(key)
    try:
        manifest = json.loads(raw) if raw else {}
    except ValueError:
        manifest = {}
    manifest.update({"digest": "", "self_check": f"failed for {digest}", "files": manifest.get("files", {})})
    target.write(key, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return restored


# --- the record, and what others read of it --------------------------------------------------------


def read_record(store: Target) -> dict[str, dict]:
    """channel -> {"ok", "at", "digest", "problems", "switched_back"}; damaged reads as empty (the
    next publication checks again)."""
    raw = store.read(RECORD)
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {c: v for c, v in found.items() if isinstance(v, dict) and isinstance(v.get("problems"), list)}


def failed_channels(store: Target) -> set[Channel]:
    return {Channel(c) for c, entry in read_record(store).items()
            if not entry.get("ok") and c in {ch.value for ch in Channel}}


def record(store: Target, result: Result, actions: tuple[PublishChannel, ...], switched: dict[Channel, bool],
           now: datetime) -> None:
    found = read_record(store)
    for action in actions:
        if action.channel not in result.problems:
            continue  # not read back (off, no client here, the URL did not answer)
        problems = result.problems[action.channel]
        found[action.channel.value] = {"ok": not problems, "at": now.isoformat(), "digest": action.content.digest,
                                       "problems": problems, "switched_back": switched.get(action.channel, False)}
    text = (json.dumps(found, indent=2, sort_keys=True) + "\n").encode()
    if found and store.read(RECORD) != text:
        store.write(RECORD, text)


def findings(store: Target) -> list[str]:
    """What `status --check` fails on: each channel whose last self-check failed."""
    lines = []
    for channel, entry in sorted(read_record(store).items()):
        if entry.get("ok"):
            continue
        served = "its previous generation is served" if entry.get("switched_back") else "no previous generation"
        lines.append(f"self-check of {channel} failed at {entry.get('at')} ({served}): "
                     + "; ".join(entry["problems"][:5]) + (" ..." if len(entry["problems"]) > 5 else ""))
    return lines


def repository_manager_emails(config: Config) -> tuple[str, ...]:
    return tuple(config.people[m].emails[0] for m in config.teams.get("repository-managers", ())
                 if m in config.people)


def messages(result: Result, actions: tuple[PublishChannel, ...], switched: dict[Channel, bool], config: Config,
             base_url: str, now: datetime) -> list[Message]:
    """One message to the repository managers per channel and content that failed (the outbox
    sends each key once, however many runs find the same failure)."""
    to = repository_manager_emails(config)
    found = []
    for action in actions:
        problems = result.failed.get(action.channel)
        if problems and to:
            channel = action.channel.value
            found.append(Message(f"self-check:{channel}:{action.content.digest[:16]}", now, to, TEMPLATE,
                                 f"the {channel} channel served at {base_url} differs from what was published",
                                 {"channel": channel, "problems": problems, "base_url": base_url,
                                  "switched_back": switched.get(action.channel, False)}))
    return found


def hooks(target: Target, before: Callable[[Channel, Publication], None] | None, checking: bool) -> tuple[
        dict[Channel, Kept], Callable[[Channel, Publication], None] | None]:
    """A before-switch hook that remembers each channel's roots (then calls ``before``), when the
    channels are checked; else ``before`` as it is."""
    kept: dict[Channel, Kept] = {}
    if not checking:
        return kept, before

    def before_switch(channel: Channel, publication: Publication) -> None:
        kept[channel] = remember(target, channel, publication)
        if before is not None:
            before(channel, publication)
    return kept, before_switch
