"""The channel step: write each planned channel's new generation (yum and apt repositories,
client configurations, the public key, a manifest) and switch the channel to it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from controller.core.model import Channel, World
from controller.core.plan import VALIDITY, PublishChannel
from controller.publish import apt, clients, generations, yum
from controller.publish.pool import Pool
from controller.publish.signing import Signer, configured_signer, throwaway_signer


def signing_key(world: World) -> str | None:
    return next((r.signing_key for r in world.config.repositories if r.signing_key), None)


def setup(world: World, base_url: str) -> dict[str, str]:
    """What the published files depend on besides the content: where they are served from and
    which key signs them (the configured one; a throwaway key is "throwaway")."""
    return {"base_url": base_url, "signing_key": signing_key(world) or "throwaway"}


def make_signer(world: World, gnupg_home: Path | None, state: Path, notes: list[str]) -> Signer:
    fingerprint = signing_key(world)
    if fingerprint:
        home = gnupg_home or Path(os.environ.get("GNUPGHOME", Path.home() / ".gnupg"))
        return configured_signer(home, fingerprint)
    signer, created = throwaway_signer(state / "throwaway-gnupg")
    if created:
        notes.append(f"no signing_key in repos-config/repositories.yaml: made a throwaway key "
                     f"{signer.fingerprint} in {signer.home}; set signing_key for real use")
    return signer


def publish_channel(action: PublishChannel, world: World, pool: Pool, signer: Signer, publish: Path, cache: Path,
                    now: datetime, base_url: str,
                    before_switch: Callable[[Channel, Path], None] | None = None) -> None:
    config = world.config
    content = action.content
    generation = generations.new_generation(publish, action.channel, content.digest)
    public_key = signer.public_key()
    valid_until = None
    for repo_content in content.repos:
        repo = repo_content.repository
        target = generation / repo.name
        if repo.format == "yum":
            yum.write_repository(target, repo_content, pool.path, yum.BlockCache(cache), signer, int(now.timestamp()))
            (generation / f"{repo.name}.repo").write_text(
                clients.dnf_repo(repo, action.channel, base_url, f"{config.distribution_name} {repo.distribution}"))
        else:
            valid_until = now + VALIDITY
            label = f"{config.distribution_name} {repo.distribution} {action.channel.value}"
            apt.write_repository(target, repo_content, pool.path, apt.StanzaCache(cache), signer, label,
                                 now, valid_until)
            (generation / f"{repo.name}.sources").write_text(
                clients.apt_sources(repo, action.channel, base_url, public_key))
    (generation / "key.asc").write_bytes(public_key)
    manifest = {"digest": content.digest, "commit": world.snapshot.head.id, "setup": setup(world, base_url),
                "valid_until": valid_until.isoformat() if valid_until else None,
                "files": {r.repository.name: sorted(e.filename for e in r.entries) for r in content.repos}}
    (generation / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if before_switch is not None:
        before_switch(action.channel, generation)
    generations.switch(publish, action.channel, generation)
    generations.prune(publish, action.channel)
