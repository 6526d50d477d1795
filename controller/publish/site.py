"""Writing the public site: an index, a page per release, an Atom feed of releases reaching
Production and one per stack. Published as a generation of its own, switched atomically like a
channel, and only when what it shows has changed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from controller.core.views import feed_entries
from controller.notify.render import Renderer
from controller.publish import generations

SITE = "site"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def render_site(views: list[dict], renderer: Renderer, base_url: str, title: str,
                extra: dict[str, str] | None = None) -> dict[str, str]:
    """Every file of the site: relative path -> text (``extra``: files made elsewhere, e.g. plots)."""
    files = {"index.html": renderer.render("index.html.j2", releases=views, root="", site_title=title,
                                           stacks=sorted({v["stack"] for v in views}),
                                           plots=sorted(p for p in (extra or {}) if p.endswith(".svg"))),
             **(extra or {})}
    for view in views:
        files[f"releases/{view['slug']}.html"] = renderer.render("release.html.j2", r=view, root="../",
                                                                 site_title=title)
    host = urlparse(base_url).hostname or "localhost"
    for stack in [None, *sorted({v["stack"] for v in views})]:
        entries = feed_entries(views, stack)
        filename = "feed.atom" if stack is None else f"feed-{stack}.atom"
        updated = max((e["production_at"] for e in entries), default=_EPOCH)
        files[filename] = renderer.render(
            "feed.atom.j2", entries=entries, filename=filename, base_url=base_url.rstrip("/"), site_title=title,
            title=f"{title}: releases in Production" + (f" ({stack})" if stack else ""),
            feed_id=f"tag:{host},2026:{title.replace(' ', '-').lower()}" + (f":{stack}" if stack else ""),
            updated=updated.isoformat())
    return files


def site_digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def published_digest(publish: Path) -> str | None:
    """The digest of the site as published, None when there is none (or it cannot be read)."""
    manifest = generations.channel_link(publish, SITE) / "manifest.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text()).get("digest")


def publish_site(publish: Path, files: dict[str, str], digest: str) -> None:
    """Switch the site to these files as one new generation."""
    generation = generations.new_generation(publish, SITE, digest)
    for relpath, text in files.items():
        target = generation / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (generation / "manifest.json").write_text(json.dumps({"digest": digest}) + "\n")
    generations.switch(publish, SITE, generation)
    generations.prune(publish, SITE)
