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

from controller.desired import Entry, RepoContent
from controller.publish.debfile import control_fields
from controller.publish.signing import Signer

COMPONENT = "main"
_ANY = ("all",)


class StanzaCache:
    """sha256 -> the control fields of a .deb, kept on disk between runs."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def get(self, sha256: str, deb: Path, filename: str) -> list[tuple[str, str]]:
        cached = self.root / sha256[:2] / f"{sha256}.deb.json"
        if cached.is_file():
            return [tuple(pair) for pair in json.loads(cached.read_text())]
        fields = control_fields(deb.read_bytes(), filename)
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(json.dumps(fields))
        os.replace(tmp, cached)
        return fields


def pool_path_of(entry: Entry) -> str:
    return f"pool/{COMPONENT}/{entry.name[0]}/{entry.name}/{entry.filename}"


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
    stanzas = {}
    for entry in content.entries:
        link = target / pool_path_of(entry)
        link.parent.mkdir(parents=True, exist_ok=True)
        os.link(pool_path(entry.sha256), link)
        fields = cache.get(entry.sha256, pool_path(entry.sha256), entry.filename)
        stanzas[entry.filename] = (entry, _stanza(fields, entry))
    dist = target / "dists" / suite
    arches = [a for a in repo.architectures if a not in _ANY] or ["all"]
    sums: list[tuple[str, int, str]] = []
    for arch in arches:
        chosen = [text for entry, text in sorted(stanzas.values(), key=lambda s: s[0].filename)
                  if entry.arch == arch or entry.arch in _ANY]
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
