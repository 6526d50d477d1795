"""Writing a yum repository: Packages/ hardlinked from the pool, repodata/ with primary,
filelists, other and updateinfo, repomd.xml and its detached signature. The only createrepo_c user.

Metadata is assembled from per-release blocks: the XML of a release's packages (read once from
their rpm headers) and its advisory, each kept both as text and as a gzip member. A gzip file may
hold several members, read back as one stream, so republishing a channel after one release
changed compresses only that release's block; everything else is concatenated as it is.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import createrepo_c as cr

from controller.core.desired import Advisory, Entry, RepoContent
from controller.publish.parallel import cached_results
from controller.publish.signing import Signer

KINDS = ("primary", "filelists", "other", "updateinfo")
_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
_HEADS = {
    "primary": '<metadata xmlns="http://linux.duke.edu/metadata/common" '
               'xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{n}">\n',
    "filelists": '<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="{n}">\n',
    "other": '<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="{n}">\n',
    "updateinfo": "<updates>\n",
}
_TAILS = {"primary": "</metadata>\n", "filelists": "</filelists>\n", "other": "</otherdata>\n",
          "updateinfo": "</updates>\n"}
_FORMAT = "yum-block-1"


def rpm_identity(path: str) -> tuple[str, int, str, str, str]:
    """(name, epoch, version, release, arch) from an rpm's header."""
    try:
        package = cr.package_from_rpm(path, checksum_type=cr.SHA256, location_href="x", changelog_limit=0)
    except cr.CreaterepoCError as exc:
        raise ValueError(str(exc)) from None
    return package.name, int(package.epoch or 0), package.version, package.release, package.arch


def href_of(filename: str) -> str:
    return f"Packages/{filename[0].lower()}/{filename}"


@dataclass(frozen=True)
class Block:
    text: dict[str, bytes]
    packed: dict[str, bytes]  # gzip members


class BlockCache:
    """(repository, release, its packages, its advisory) -> Block, kept on disk between runs."""

    def __init__(self, root: Path):
        self.root = Path(root) / "yum"

    def get_all(self, repo: str, wanted: list[tuple[list[Entry], Advisory | None]], pool_path) -> list[Block]:
        """The blocks for each (entries, advisory), building the missing ones on every core."""
        keys = [hashlib.sha256(repr((_FORMAT, repo, entries, advisory)).encode()).hexdigest()
                for entries, advisory in wanted]
        jobs = [(entries, advisory, pool_path) for entries, advisory in wanted]
        return cached_results(self.root, keys, jobs, _make_block_job, _write_block, _read_block)


def _make_block_job(job) -> Block:
    return _make_block(*job)


def _write_block(block: Block) -> bytes:
    parts = [block.text[k] for k in KINDS] + [block.packed[k] for k in KINDS]
    return json.dumps([len(p) for p in parts]).encode() + b"\n" + b"".join(parts)


def _read_block(raw: bytes) -> Block:
    header, _, body = raw.partition(b"\n")
    parts, offset = [], 0
    for size in json.loads(header):
        parts.append(body[offset:offset + size])
        offset += size
    return Block(dict(zip(KINDS, parts[:4], strict=True)), dict(zip(KINDS, parts[4:], strict=True)))


def _make_block(entries: list[Entry], advisory: Advisory | None, pool_path) -> Block:
    text = {k: [] for k in KINDS}
    for entry in entries:
        package = cr.package_from_rpm(pool_path(entry.sha256), checksum_type=cr.SHA256,
                                      location_href=href_of(entry.filename), changelog_limit=10)
        package.time_file = 0  # the pool file's mtime says nothing about the package
        primary, filelists, other = cr.xml_dump(package)
        text["primary"].append(primary)
        text["filelists"].append(filelists)
        text["other"].append(other)
    if advisory is not None:
        text["updateinfo"].append(cr.xml_dump_updaterecord(_update_record(advisory, entries)))
    joined = {k: "".join(v).encode() for k, v in text.items()}
    return Block(joined, {k: gzip.compress(v, compresslevel=6, mtime=0) if v else b"" for k, v in joined.items()})


def write_repository(target: Path, content: RepoContent, pool_path, cache: BlockCache, signer: Signer,
                     revision: int) -> None:
    """Write a whole yum repository into ``target`` (an empty directory of a new generation)."""
    repodata = target / "repodata"
    repodata.mkdir(parents=True)
    by_release: dict[str, list[Entry]] = {}
    for folder in {href_of(e.filename).rsplit("/", 1)[0] for e in content.entries}:
        (target / folder).mkdir(parents=True)
    root = str(target)
    for entry in content.entries:
        os.link(pool_path(entry.sha256), f"{root}/{href_of(entry.filename)}")  # the pool's bytes: no copy
        by_release.setdefault(entry.release, []).append(entry)
    advisories = {a.release: a for a in content.advisories}
    blocks = cache.get_all(content.repository.name,
                           [(entries, advisories.get(key)) for key, entries in sorted(by_release.items())], pool_path)
    use_xz = "xz" in content.repository.compression and "gz" not in content.repository.compression
    repomd = cr.Repomd()
    repomd.set_revision(str(revision))
    for kind in KINDS:
        head = (_DECL + _HEADS[kind].format(n=len(content.entries))).encode()
        tail = _TAILS[kind].encode()
        texts = [head, *(b.text[kind] for b in blocks), tail]
        if use_xz:
            packed, suffix = lzma.compress(b"".join(texts)), "xz"
        else:
            members = [gzip.compress(head, mtime=0), *(b.packed[kind] for b in blocks), gzip.compress(tail, mtime=0)]
            packed, suffix = b"".join(members), "gz"
        repomd.set_record(_record(repodata, kind, texts, packed, suffix, revision))
    xml = repomd.xml_dump().encode()
    # Leaf files first, the signature, then the root index last.
    (repodata / "repomd.xml.asc").write_bytes(signer.detach_sign(xml))
    (repodata / "repomd.xml").write_bytes(xml)
    for name in ("repomd.xml.asc", "repomd.xml"):  # Last-Modified follows the metadata (see apt.py)
        os.utime(repodata / name, (revision, revision))


def _record(repodata: Path, kind: str, texts: list[bytes], packed: bytes, suffix: str,
            revision: int) -> cr.RepomdRecord:
    opened = hashlib.sha256()
    for part in texts:
        opened.update(part)
    digest = hashlib.sha256(packed).hexdigest()
    name = f"{digest}-{kind}.xml.{suffix}"
    (repodata / name).write_bytes(packed)
    record = cr.RepomdRecord(kind, str(repodata / name))
    record.checksum_type = "sha256"
    record.checksum = digest
    record.checksum_open_type = "sha256"
    record.checksum_open = opened.hexdigest()
    record.size = len(packed)
    record.size_open = sum(len(p) for p in texts)
    record.timestamp = revision
    record.location_href = f"repodata/{name}"
    return record


def _update_record(advisory: Advisory, entries: list[Entry]) -> cr.UpdateRecord:
    record = cr.UpdateRecord()
    record.id = advisory.id
    record.type = advisory.type
    if advisory.severity:  # dnf shows bugfix and enhancement advisories without one
        record.severity = advisory.severity
    record.title = advisory.title
    record.summary = advisory.title
    record.description = advisory.description
    record.status = advisory.status
    record.issued_date = datetime.fromisoformat(advisory.issued).replace(tzinfo=None)
    for url, ident, kind in advisory.references:
        reference = cr.UpdateReference()
        reference.href, reference.id, reference.type, reference.title = url, ident, kind, ident
        record.append_reference(reference)
    collection = cr.UpdateCollection()
    collection.shortname = advisory.release.replace("/", "-")
    collection.name = advisory.release
    for entry in entries:
        package = cr.UpdateCollectionPackage()
        package.name, package.epoch, package.version = entry.name, str(entry.epoch), entry.version
        package.release, package.arch, package.filename = entry.rel or "", entry.arch, entry.filename
        package.sum, package.sum_type = entry.sha256, cr.SHA256
        collection.append(package)
    record.append_collection(collection)
    return record
