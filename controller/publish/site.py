"""Writing the public site: an index, a page per release, an Atom feed of releases reaching
Production and one per stack. Only the pages whose text changed are written, each in one step;
pages link to each other only by name, so a reader never needs two of them to agree.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import urlparse

from controller.core.views import feed_entries
from controller.notify.render import Renderer
from controller.publish.target import Target

SITE = "site"
MANIFEST = f"{SITE}/manifest.json"
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
        data = text.encode()
        sums[relpath] = hashlib.sha256(data).hexdigest()
        if known.get(relpath) != sums[relpath]:
            target.write(f"{SITE}/{relpath}", data)
    target.write(MANIFEST, (json.dumps({"digest": digest, "files": sums}, indent=1, sort_keys=True) + "\n").encode())
