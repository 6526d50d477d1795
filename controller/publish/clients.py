"""Client configuration per channel and repository: a dnf .repo file and an apt deb822 .sources
file with the public key inside, so that a site copies one file to use a channel. Pure text.
"""

from __future__ import annotations

from controller.core.model import Channel, Repository


def repo_id(repo: Repository, channel: Channel, label: str = "") -> str:
    return f"{repo.name}-{label or channel.value}"


def dnf_repo(repo: Repository, channel: Channel, base_url: str, title: str, label: str = "") -> str:
    """``label``: where the channel is published when it is not its own name (a dated snapshot)."""
    label = label or channel.value
    url = f"{base_url.rstrip('/')}/{label}"
    # The metalink names the current repomd.xml by URL and checksum: one object switches dnf to a
    # new generation. Both checks on: the signed repomd.xml pins the metadata (repo_gpgcheck), and
    # every rpm carries the repository key's signature (gpgcheck), as hardened sites require.
    return (f"[{repo_id(repo, channel, label)}]\n"
            f"name={title} {repo.platform} ({label})\n"
            f"metalink={url}/{repo.name}/metalink.xml\n"
            "enabled=1\n"
            "repo_gpgcheck=1\n"
            "gpgcheck=1\n"
            f"gpgkey={url}/key.asc\n"
            "metadata_expire=1h\n")


def apt_sources(repo: Repository, channel: Channel, base_url: str, public_key: bytes, suite: str) -> str:
    key_lines = [(" " + line) if line.strip() else " ." for line in public_key.decode().strip().splitlines()]
    return "\n".join([
        "Types: deb",
        f"URIs: {base_url.rstrip('/')}/",
        f"Suites: {suite}",
        "Components: main",
        "Signed-By:",
        *key_lines,
    ]) + "\n"
