"""Writing an apt repository: pool/ hardlinked from the package pool, dists/<suite>/ with Packages
(plain, gz, xz), by-hash copies, a Release with SHA256 sums and Valid-Until, InRelease and
Release.gpg. Same entry point as yum.py: write_repository(target, content, ...).

Each package's control paragraph is read once and kept in a cache by sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
from datetime import datetime
from pathlib import Path

from controller.core.desired import Entry, RepoContent
from controller.publish.debfile import control_fields
from controller.publish.parallel import cached_results
from controller.publish.signing import Signer

COMPONENT = "main"
_ANY = ("all",)


class StanzaCache:
    """A release's packages -> their Packages stanzas, one file per release, kept between runs."""

    def __init__(self, root: Path):
        self.root = Path(root) / "apt"

    def get_all(self, groups: list[list[Entry]], pool_path) -> list[list[tuple[str, str]]]:
        """[(architecture, stanza)] for each group of entries; the missing ones built on every core."""
        keys = [hashlib.sha256(repr(("apt-block-2", entries)).encode()).hexdigest() for entries in groups]
        return cached_results(self.root, keys, [(entries, pool_path) for entries in groups], _stanzas_job,
                              lambda stanzas: json.dumps(stanzas).encode(),
                              lambda raw: [tuple(pair) for pair in json.loads(raw)])


def _stanzas_job(job) -> list[tuple[str, str]]:
    entries, pool_path = job
    return [(e.arch, _stanza(control_fields(Path(pool_path(e.sha256)).read_bytes(), e.filename), e))
            for e in entries]


def pool_path_of(entry: Entry) -> str:
    # One directory per initial, not per source package as Debian's archive does: apt follows
    # Filename wherever it points, and thousands of directories cost more than they tell.
    return f"pool/{COMPONENT}/{entry.name[0].lower()}/{entry.filename}"


def _stanza(fields: list[tuple[str, str]], entry: Entry) -> str:
    drop = {"Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"}
    lines = [f"{key}: {value}" for key, value in fields if key not in drop]
    lines += [f"Filename: {pool_path_of(entry)}", f"Size: {entry.size}", f"SHA256: {entry.sha256}"]
    return "\n".join(lines) + "\n"


def _rfc2822(value: datetime) -> str:
    return value.strftime("%a, %d %b %Y %H:%M:%S UTC")


def write_repository(target: Path, content: RepoContent, pool_path, cache: StanzaCache, signer: Signer,
                     label: str, date: datetime, valid_until: datetime) -> None:
    repo = content.repository
    suite = repo.platform
    by_release: dict[str, list[Entry]] = {}
    for folder in {pool_path_of(e).rsplit("/", 1)[0] for e in content.entries}:
        (target / folder).mkdir(parents=True)
    root = str(target)
    for entry in content.entries:
        os.link(pool_path(entry.sha256), f"{root}/{pool_path_of(entry)}")
        by_release.setdefault(entry.release, []).append(entry)
    groups = [entries for _, entries in sorted(by_release.items())]
    stanzas = [pair for block in cache.get_all(groups, pool_path) for pair in block]
    dist = target / "dists" / suite
    arches = [a for a in repo.architectures if a not in _ANY] or ["all"]
    sums: list[tuple[str, int, str]] = []
    for arch in arches:
        chosen = [text for entry_arch, text in stanzas if entry_arch == arch or entry_arch in _ANY]
        index = "\n".join(chosen).encode()
        folder = dist / COMPONENT / f"binary-{arch}"
        by_hash = folder / "by-hash" / "SHA256"
        by_hash.mkdir(parents=True)
        variants = {"Packages": index}
        if "gz" in repo.compression:
            variants["Packages.gz"] = gzip.compress(index, compresslevel=9, mtime=0)
        if "xz" in repo.compression:
            variants["Packages.xz"] = lzma.compress(index)
        for name, data in variants.items():
            digest = hashlib.sha256(data).hexdigest()
            (by_hash / digest).write_bytes(data)
            os.link(by_hash / digest, folder / name)
            sums.append((digest, len(data), f"{COMPONENT}/binary-{arch}/{name}"))
    release = "\n".join([
        f"Origin: {label.split()[0]}",
        f"Label: {label}",
        f"Suite: {suite}",
        f"Codename: {suite}",
        f"Date: {_rfc2822(date)}",
        f"Valid-Until: {_rfc2822(valid_until)}",
        f"Architectures: {' '.join(arches)}",
        f"Components: {COMPONENT}",
        "Acquire-By-Hash: yes",
        "SHA256:",
        *(f" {digest} {size:>10} {path}" for digest, size, path in sorted(sums, key=lambda s: s[2])),
    ]).encode() + b"\n"
    # Indices and their by-hash copies are in place; the signed root files come last.
    (dist / "Release.gpg").write_bytes(signer.detach_sign(release))
    (dist / "Release").write_bytes(release)
    (dist / "InRelease").write_bytes(signer.clear_sign(release))
    # Servers derive Last-Modified (and so If-Range answers) from mtime: make it the metadata's
    # Date, or a client resuming a partial InRelease could splice two publications together.
    for name in ("Release.gpg", "Release", "InRelease"):
        os.utime(dist / name, (date.timestamp(), date.timestamp()))
