"""Building an apt suite: dists/<suite>/ with Packages (plain, gz, xz) and their by-hash copies, a
Release with SHA256 sums and Valid-Until, InRelease and Release.gpg, naming packages where they
lie in the shared pool/. Same entry point as yum.py: build_repository(..., content, ...).

Each package's control paragraph is read once and kept in a cache by sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from controller.core.desired import Entry, RepoContent
from controller.publish import xzblocks
from controller.publish.parallel import cached_results
from controller.publish.pool import pool_key
from controller.publish.signing import Signer
from controller.publish.target import Publication

COMPONENT = "main"
_ANY = ("all",)
RUN = 32  # releases per compressed run of the index, on average


class StanzaCache:
    """A release's packages -> their Packages stanzas, one file per release, kept between runs."""

    def __init__(self, root: Path):
        self.root = Path(root) / "apt"

    def get_all(self, groups: list[list[Entry]], pool_path) -> list[list[tuple[str, str]]]:
        """[(architecture, stanza)] for each group of entries; the missing ones built on every core."""
        keys = [hashlib.sha256(repr(("apt-block-3", entries)).encode()).hexdigest() for entries in groups]
        return cached_results(self.root, keys, [(entries, pool_path) for entries in groups], _stanzas_job,
                              lambda stanzas: json.dumps(stanzas).encode(),
                              lambda raw: [tuple(pair) for pair in json.loads(raw)])


def _stanzas_job(job) -> list[tuple[str, str]]:
    from controller.publish.debfile import control_fields_of  # here: its readers load only when a stanza is made

    entries, pool_path = job
    return [(e.arch, _stanza(control_fields_of(Path(pool_path(e.sha256, e.filename)), e.filename, e.sha256), e))
            for e in entries]


def suite_of(repository: str, channel: str) -> str:
    """One suite per repository and channel in the target's one archive root; a name of its own,
    so that pinning tells it apart from Debian's suites."""
    return f"{repository}-{channel}"


def _stanza(fields: list[tuple[str, str]], entry: Entry) -> str:
    drop = {"Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"}
    lines = [f"{key}: {value}" for key, value in fields if key not in drop]
    lines += [f"Filename: {pool_key(entry.sha256, entry.filename)}", f"Size: {entry.size}", f"SHA256: {entry.sha256}"]
    return "\n".join(lines) + "\n"


def _runs(groups: list[tuple[str, list[str]]]) -> list[bytes]:
    """The index (stanzas separated by blank lines) cut into runs of consecutive releases, a run
    ending after each release whose name hashes to a multiple of RUN: where runs end depends on
    the releases at the ends only, so one release added or changed changes one run."""
    runs: list[list[str]] = [[]]
    for release, texts in groups:
        runs[-1] += texts
        if runs[-1] and int(hashlib.sha256(release.encode()).hexdigest()[:8], 16) % RUN == 0:
            runs.append([])
    pieces, first = [], True
    for texts in runs:
        if texts:
            pieces.append(("" if first else "\n") + "\n".join(texts))
            first = False
    return [piece.encode() for piece in pieces]


def _compress_job(job: tuple[str, bytes]) -> bytes:
    kind, text = job
    if kind == "gz":
        return gzip.compress(text, compresslevel=9, mtime=0)
    return xzblocks.encode_block(xzblocks.compress_block(text))


def _sealed(data: bytes) -> bytes:
    return hashlib.sha256(data).digest() + data


def _unsealed(raw: bytes) -> bytes:
    """A kept run, checked: a damaged one is built again, never published."""
    if hashlib.sha256(raw[32:]).digest() != raw[:32]:
        raise ValueError("damaged")
    return raw[32:]


def _side_by_side(job, items: list) -> list:
    """zlib and lzma let go of the GIL while they work: two threads keep both cores busy."""
    if len(items) < 2:
        return [job(item) for item in items]
    with ThreadPoolExecutor(2) as workers:
        return list(workers.map(job, items))


def _compressed(pieces: list[bytes], compression: tuple[str, ...] | list[str], cache: StanzaCache) -> dict[str, bytes]:
    """Packages.gz (a gzip member per run: readers take consecutive members as one stream) and
    Packages.xz (one stream, a block per run), each run compressed once and kept by its text."""
    wanted = [(name, kind) for name, kind in (("Packages.gz", "gz"), ("Packages.xz", "xz")) if kind in compression]
    jobs = [(kind, piece) for _, kind in wanted for piece in pieces]
    keys = [hashlib.sha256(f"apt-run-1:{kind}:".encode() + piece).hexdigest() for kind, piece in jobs]
    packed = iter(cached_results(cache.root / "runs", keys, jobs, _compress_job, _sealed, _unsealed, _side_by_side))
    made = {}
    for name, kind in wanted:
        mine = [next(packed) for _ in pieces]
        if kind == "gz":
            made[name] = b"".join(mine) if mine else gzip.compress(b"", compresslevel=9, mtime=0)
        else:
            made[name] = xzblocks.assemble([xzblocks.decode_block(raw) for raw in mine])
    return made


def _rfc2822(value: datetime) -> str:
    return value.strftime("%a, %d %b %Y %H:%M:%S UTC")


def build_repository(suite: str, channel: str, content: RepoContent, pool_path, cache: StanzaCache, signer: Signer,
                     label: str, date: datetime, valid_until: datetime) -> Publication:
    """A suite (dists/<suite>/) of the archive whose root is the target's root and whose pool/ is
    the shared pool: Packages by hash (written once), by name, then Release and InRelease."""
    repo = content.repository
    by_release: dict[str, list[Entry]] = {}
    for entry in content.entries:
        by_release.setdefault(entry.release, []).append(entry)
    groups = [entries for _, entries in sorted(by_release.items())]
    blocks = cache.get_all(groups, pool_path)
    names = [entries[0].release for entries in groups]
    dist = f"dists/{suite}"
    arches = [a for a in repo.architectures if a not in _ANY] or ["all"]
    publication = Publication()
    sums: list[tuple[str, int, str]] = []
    for arch in arches:
        pieces = _runs([(name, [text for entry_arch, text in block if entry_arch == arch or entry_arch in _ANY])
                        for name, block in zip(names, blocks, strict=True)])
        folder = f"{dist}/{COMPONENT}/binary-{arch}"
        variants = {"Packages": b"".join(pieces), **_compressed(pieces, repo.compression, cache)}
        for name, data in variants.items():
            digest = hashlib.sha256(data).hexdigest()
            publication.once[f"{folder}/by-hash/SHA256/{digest}"] = data
            publication.indexes.append((f"{folder}/{name}", data))
            sums.append((digest, len(data), f"{COMPONENT}/binary-{arch}/{name}"))
    release = "\n".join([
        f"Origin: {label.split()[0]}",
        f"Label: {label}",
        f"Suite: {channel}",
        f"Codename: {suite}",
        f"Date: {_rfc2822(date)}",
        f"Valid-Until: {_rfc2822(valid_until)}",
        f"Architectures: {' '.join(arches)}",
        f"Components: {COMPONENT}",
        "Acquire-By-Hash: yes",
        "SHA256:",
        *(f" {digest} {size:>10} {path}" for digest, size, path in sorted(sums, key=lambda s: s[2])),
    ]).encode() + b"\n"
    # apt reads InRelease first and everything else by hash from it: InRelease is the switch.
    stamp = date.timestamp()
    publication.roots += [(f"{dist}/Release.gpg", signer.detach_sign(release), stamp),
                          (f"{dist}/Release", release, stamp),
                          (f"{dist}/InRelease", signer.clear_sign(release), stamp)]
    return publication
