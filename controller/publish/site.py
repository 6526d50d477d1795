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


def render_site(views: list[dict], renderer: Renderer, base_url: str, title: str,
                extra: dict[str, str] | None = None, config: Config | None = None,
                generated_at: datetime | None = None) -> dict[str, str]:
    """Every file of the site: relative path -> text (``extra``: files made elsewhere, e.g. plots)."""
    stamp = generated_at.strftime("%Y-%m-%d %H:%M UTC") if generated_at else ""
    common = {"site_title": title, "generated_at": generated_at, "generated": stamp,
              "install": install_views(config, base_url)}
    files = {"index.html": renderer.render("index.html.j2", releases=views, root="", **common,
                                           stacks=sorted({v["stack"] for v in views}),
                                           plots=sorted(p for p in (extra or {}) if p.endswith(".svg"))),
             **(extra or {})}
    for view in views:
        files[f"releases/{view['slug']}.html"] = renderer.render("release.html.j2", r=view, root="../", **common)
    host = urlparse(base_url).hostname or "localhost"
    # One id per release, the same in every feed that lists it, whatever the feed.
    base_id = f"tag:{host},2026:{title.replace(' ', '-').lower()}"
    for stack in [None, *sorted({v["stack"] for v in views})]:
        entries = feed_entries(views, stack)
        filename = "feed.atom" if stack is None else f"feed-{stack}.atom"
        newest = max((e["production_at"] for e in entries), default=None)
        files[filename] = renderer.render(
            "feed.atom.j2", entries=entries, filename=filename, base_url=base_url.rstrip("/"), site_title=title,
            title=f"{title}: releases in Production" + (f" ({stack})" if stack else ""),
            feed_id=base_id + (f":feed:{stack}" if stack else ":feed"), entry_id=base_id + ":release",
            updated=newest.isoformat() if newest else None,
            generated=generated_at.isoformat() if generated_at else "")
    return files


def _unstamped(text: str) -> bytes:
    return _STAMP.sub("", text).encode()


def site_digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps({k: _unstamped(v).decode() for k, v in files.items()},
                                     sort_keys=True).encode()).hexdigest()


def _manifest(target: Target) -> dict:
    raw = target.read(MANIFEST)
    try:
        data = json.loads(raw) if raw is not None else {}
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def published_digest(target: Target) -> str | None:
    """The digest of the site as published, None when there is none (or it cannot be read)."""
    return _manifest(target).get("digest")


def publish_site(target: Target, files: dict[str, str], digest: str) -> None:
    """Write the pages that changed, each in one step, then the manifest that lists them all."""
    known = _manifest(target).get("files")
    known = known if isinstance(known, dict) else {}
    sums = {}
    for relpath, text in sorted(files.items()):
        sums[relpath] = hashlib.sha256(_unstamped(text)).hexdigest()
        if known.get(relpath) != sums[relpath]:
            target.write(f"{SITE}/{relpath}", text.encode())
    target.write(MANIFEST, (json.dumps({"digest": digest, "files": sums}, indent=1, sort_keys=True) + "\n").encode())
