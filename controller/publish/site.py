"""Writing the public site: an index, a page per release, an Atom feed of releases reaching
Production and one per stack, and how to install from each channel. Only the pages whose text
changed are written, each in one step; pages link to each other only by name, so a reader never
needs two of them to agree.

Every page says when it was generated. That stamp is left out when pages are compared (the
digest, the per-page sums), so a run that changes nothing else rewrites nothing, and a page keeps
the time it last changed. An empty feed's <updated> is that stamp too: never an invented date.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

from controller.core.model import Channel, Config
from controller.core.views import feed_entries
from controller.notify.render import Renderer
from controller.publish import apt, clients
from controller.publish.target import Target

SITE = "site"
MANIFEST = f"{SITE}/manifest.json"
_STAMP = re.compile(r'<time class="generated" datetime="[^"]*">[^<]*</time>|<updated>[^<]*</updated><!-- generated -->')
# Site administrators install from Production; the other channels are for early adopters and testing.
_CHANNELS = (Channel.PRODUCTION, Channel.STAGED_ROLLOUT, Channel.UNVERIFIED)


def install_views(config: Config | None, base_url: str) -> list[dict]:
    """Per channel: the client configuration of every repository (where to put it, its text) and
    the key, as the channels are published (see apply/channels.py)."""
    base = base_url.rstrip("/")
    channels = []
    for channel in _CHANNELS if config else ():
        repos = []
        for repo in config.repositories:
            if repo.format == "yum":
                name, folder, tool = f"{repo.name}.repo", "/etc/yum.repos.d", "dnf"
                text = clients.dnf_repo(repo, channel, base_url, f"{config.distribution_name} {repo.distribution}")
            else:
                name, folder, tool = f"{repo.name}.sources", "/etc/apt/sources.list.d", "apt"
                text = clients.apt_sources(repo, channel, base_url, b"", apt.suite_of(repo.name, channel.value))
                text += " (the public key of key.asc, inline in the file)\n"
            repos.append({"name": repo.name, "platform": repo.platform, "tool": tool, "text": text,
                          "url": f"{base}/{channel.value}/{name}",
                          "path": f"{folder}/{repo.name}-{channel.value}{name[len(repo.name):]}"})
        channels.append({"channel": channel.value, "key": f"{base}/{channel.value}/key.asc", "repos": repos})
    return channels


@dataclass(frozen=True)
class Site:
    """The site as a plan sees it: what each file is made from, and the files rendered now."""

    inputs: dict[str, str]  # every file (relative path) -> digest of what it is rendered from
    files: dict[str, str]  # relative path -> text, for the files whose inputs changed
    digest: str  # of every file's inputs: changes exactly when a file would


def _key(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def render_site(views: list[dict], renderer: Renderer, base_url: str, title: str,
                extra: dict[str, str] | None = None, config: Config | None = None,
                generated_at: datetime | None = None, published: dict[str, str] | None = None) -> Site:
    """Every file of the site (``extra``: files made elsewhere, e.g. plots), each rendered only
    when what it is made from differs from ``published`` (file -> inputs, as last published): a
    page is a function of its template, its release's view and what every page shares, so one
    release's change renders its page, the index and the feeds, not every page."""
    published = published or {}
    stamp = generated_at.strftime("%Y-%m-%d %H:%M UTC") if generated_at else ""
    install = install_views(config, base_url)
    shared = _key(renderer.digest(), title, install)  # the generation stamp is left out: see _STAMP
    # Each view's digest once: the index and every feed that lists a release use the same one.
    digests = {id(view): _key(view) for view in views}
    common = {"site_title": title, "generated_at": generated_at, "generated": stamp, "install": install}
    plots = sorted(p for p in (extra or {}) if p.endswith(".svg"))
    stacks = sorted({v["stack"] for v in views})
    makers = {"index.html": (_key(shared, "index", [digests[id(v)] for v in views], plots),
                             lambda: renderer.render("index.html.j2", releases=views, root="", **common,
                                                     stacks=stacks, plots=plots))}
    for name, text in (extra or {}).items():
        makers[name] = (_key("extra", text), lambda text=text: text)
    for view in views:
        makers[f"releases/{view['slug']}.html"] = (
            _key(shared, "release", digests[id(view)]),
            lambda view=view: renderer.render("release.html.j2", r=view, root="../", **common))
    host = urlparse(base_url).hostname or "localhost"
    # One id per release, the same in every feed that lists it, whatever the feed.
    base_id = f"tag:{host},2026:{title.replace(' ', '-').lower()}"
    for stack in [None, *stacks]:
        entries = feed_entries(views, stack)
        filename = "feed.atom" if stack is None else f"feed-{stack}.atom"
        newest = max((e["production_at"] for e in entries), default=None)
        listed = [digests[id(e)] for e in entries]
        makers[filename] = (_key(shared, "feed", base_url, listed), lambda entries=entries, filename=filename,
                            stack=stack, newest=newest: renderer.render(
            "feed.atom.j2", entries=entries, filename=filename, base_url=base_url.rstrip("/"), site_title=title,
            title=f"{title}: releases in Production" + (f" ({stack})" if stack else ""),
            feed_id=base_id + (f":feed:{stack}" if stack else ":feed"), entry_id=base_id + ":release",
            updated=newest.isoformat() if newest else None,
            generated=generated_at.isoformat() if generated_at else ""))
    inputs = {name: key for name, (key, _) in makers.items()}
    files = {name: make() for name, (key, make) in makers.items() if published.get(name) != key}
    return Site(inputs, files, _key(sorted(inputs.items())))


def _unstamped(text: str) -> bytes:
    return _STAMP.sub("", text).encode()


def _manifest(target: Target) -> dict:
    raw = target.read(MANIFEST)
    try:
        data = json.loads(raw) if raw is not None else {}
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def published_inputs(target: Target) -> tuple[str | None, dict[str, str]]:
    """The digest of the site as published and what each file was made from (None and {} when
    there is none, or it cannot be read: then every page is rendered)."""
    manifest = _manifest(target)
    inputs = manifest.get("inputs")
    return manifest.get("digest"), inputs if isinstance(inputs, dict) else {}


def publish_site(target: Target, files: dict[str, str], digest: str, inputs: dict[str, str]) -> None:
    """Write the pages that changed, each in one step, then the manifest that lists them all
    (``inputs``: every file of the site; ``files``: those rendered now)."""
    manifest = _manifest(target)
    known = manifest.get("files")
    known = known if isinstance(known, dict) else {}
    sums = {}
    for relpath in sorted(inputs):
        if relpath not in files:
            sums[relpath] = known.get(relpath)
            continue
        sums[relpath] = hashlib.sha256(_unstamped(files[relpath])).hexdigest()
        if known.get(relpath) != sums[relpath]:
            target.write(f"{SITE}/{relpath}", files[relpath].encode())
    target.write(MANIFEST, (json.dumps({"digest": digest, "files": sums, "inputs": inputs}, indent=1,
                                       sort_keys=True) + "\n").encode())
