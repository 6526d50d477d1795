"""The channel step: build each planned channel's publication (yum and apt repositories, client
configurations, the public key) and write it to the target in the protocol's order, then the
channel's manifest that the next plan compares against.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from controller.core.desired import RepoContent
from controller.core.model import Channel, World
from controller.core.plan import VALIDITY, PublishChannel
from controller.publish import apt, clients, generations, yum
from controller.publish.pool import Pool, pool_key
from controller.publish.signing import (
    Signer,
    configured_signer,
    export_secret_key,
    import_secret_key,
    throwaway_signer,
)
from controller.publish.target import Publication, Target, write_publication


def signing_key(world: World) -> str | None:
    return next((r.signing_key for r in world.config.repositories if r.signing_key), None)


def setup(world: World, base_url: str) -> dict[str, str]:
    """What the published files depend on besides the content: where they are served from, which
    key signs them (the configured one; a throwaway key is "throwaway"), and that rpms are served
    as signed copies (channels published before that are published again, once)."""
    return {"base_url": base_url, "signing_key": signing_key(world) or "throwaway", "rpms": "signed",
            "retiring_keys": " ".join(world.config.retiring_keys)}


def served(repo_content: RepoContent, pool: Pool, signer: Signer, staging: Path) -> RepoContent:
    """A yum repository's entries as its channel serves them: each rpm's copy signed with the
    repository's key. A package the pool held before rpms were signed is signed now, once."""
    copies = pool.signed_copies()
    entries = []
    for entry in repo_content.entries:
        if entry.sha256 not in copies:
            work = staging / "signing" / entry.filename
            work.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(pool.reader()(entry.sha256, entry.filename), work)
            signer.sign_rpm(work)
            pool.admit_signed(work, entry.sha256, entry.filename)
        sha256, size = copies[entry.sha256]
        entries.append(replace(entry, sha256=sha256, size=size))
    return replace(repo_content, entries=tuple(entries))


THROWAWAY_KEY = "throwaway-key.asc"


def make_signer(world: World, gnupg_home: Path | None, state: Path, store: Target | None,
                notes: list[str]) -> Signer:
    """The configured key; else the throwaway key kept in the private state area (made on the
    first run there), so that every runner signs with the same one."""
    fingerprint = signing_key(world)
    if fingerprint:
        home = gnupg_home or Path(os.environ.get("GNUPGHOME") or Path.home() / ".gnupg")  # "" is unset
        return configured_signer(home, fingerprint, world.config.retiring_keys)
    home = state / "throwaway-gnupg"
    kept = store.read(THROWAWAY_KEY) if store is not None else None
    if kept is not None and not home.exists():
        import_secret_key(home, kept)
    signer, created = throwaway_signer(home)
    if created:
        notes.append(f"no signing_key in repos-config/repositories.yaml: made a throwaway key "
                     f"{signer.fingerprint}; set signing_key for real use")
    if store is not None and (created or kept is None):
        store.write(THROWAWAY_KEY, export_secret_key(signer))
    return signer


def build_channel(action: PublishChannel, world: World, pool: Pool, signer: Signer, cache: Path, now: datetime,
                  base_url: str) -> tuple[Publication, datetime | None]:
    """Every object of the channel's new publication, and apt's Valid-Until if it has apt."""
    config = world.config
    channel, label = action.channel, action.label
    publication = Publication()
    public_key = signer.public_key()
    valid_until = None
    reader = pool.reader()
    for repo_content in action.content.repos:
        repo = repo_content.repository
        if repo.format == "yum":
            repo_content = served(repo_content, pool, signer, cache.parent)
            publication.add(yum.build_repository(f"{label}/{repo.name}", repo_content, reader,
                                                 yum.BlockCache(cache), signer, int(now.timestamp()), base_url))
            config_file = clients.dnf_repo(repo, channel, base_url, f"{config.distribution_name} {repo.distribution}",
                                           label)
            publication.indexes.append((f"{label}/{repo.name}.repo", config_file.encode()))
        else:
            valid_until = now + VALIDITY
            title = f"{config.distribution_name} {repo.distribution} {repo.platform} {label}"
            suite = apt.suite_of(repo.name, label)
            publication.add(apt.build_repository(suite, label, repo_content, reader, apt.StanzaCache(cache),
                                                 signer, title, now, valid_until))
            config_file = clients.apt_sources(repo, channel, base_url, public_key, suite)
            publication.indexes.append((f"{label}/{repo.name}.sources", config_file.encode()))
    publication.indexes.append((f"{label}/key.asc", public_key))
    return publication, valid_until


def publish_channel(action: PublishChannel, world: World, pool: Pool, signer: Signer, target: Target, cache: Path,
                    now: datetime, base_url: str,
                    before_switch: Callable[[Channel, Publication], None] | None = None,
                    notes: list[str] | None = None, rewrite: bool = False) -> None:
    """``rewrite``: write the generation's objects again even where they exist (after a failed
    self-check, what is stored under their names may not be what was written)."""
    content = action.content
    publication, valid_until = build_channel(action, world, pool, signer, cache, now, base_url)
    if before_switch is not None:
        # Everything is built; nothing is written yet (a seam for hooks, and for tests).
        before_switch(action.channel, publication)
    packages: dict[str, set[str]] = {}
    copies = pool.signed_copies()
    for repo_content in content.repos:
        for entry in repo_content.entries:
            keys = packages.setdefault(entry.release, set())
            keys.add(pool_key(entry.sha256, entry.filename))
            if entry.sha256 in copies:  # an rpm is served as its signed copy
                keys.add(pool_key(copies[entry.sha256][0], entry.filename))
    if not action.snapshot:  # a dated snapshot is kept whole: garbage collection leaves it alone
        generation = generations.Generation(now, tuple(sorted(publication.once)), tuple(sorted(packages)))
        generations.record_generation(target, action.channel, generation,
                                      {release: sorted(keys) for release, keys in packages.items()}, now,
                                      notes if notes is not None else [])
    if rewrite:
        for key, data in publication.once.items():
            target.write(key, data)
    write_publication(target, publication)
    manifest = {"digest": content.digest, "commit": world.snapshot.head.id, "setup": setup(world, base_url),
                "valid_until": valid_until.isoformat() if valid_until else None,
                "files": {r.repository.name: sorted(e.filename for e in r.entries) for r in content.repos}}
    target.write(generations.manifest_key(action.channel, action.snapshot),
                 (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
