"""Building a yum repository: repodata/ with primary, filelists, other and updateinfo, repomd.xml
and its detached signature, in a generation of its own named by a metalink; packages are named
where they lie in the shared pool. The only createrepo_c user.

Metadata is assembled from per-release blocks: the XML of a release's packages (read once from
their rpm headers) and its advisory. A gzip file may hold several members, read back as one
stream: consecutive releases are compressed together, a run ending after each release whose key
hashes to a multiple of RUN (so about RUN releases a member, compressing nearly as well as one
stream), and each member is kept by the blocks it holds. Adding or changing one release changes
one run: republishing compresses that member and concatenates the others as they are.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape

import createrepo_c as cr

from controller.core.desired import Advisory, Entry, RepoContent
from controller.publish.parallel import cached_results
from controller.publish.pool import pool_key
from controller.publish.signing import Signer
from controller.publish.target import Publication

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
_FORMAT = "yum-block-3"
RUN = 32  # releases per gzip member, on average


def rpm_identity(path: str) -> tuple[str, int, str, str, str]:
    """(name, epoch, version, release, arch) from an rpm's header."""
    try:
        package = cr.package_from_rpm(path, checksum_type=cr.SHA256, location_href="x", changelog_limit=0)
    except cr.CreaterepoCError as exc:
        raise ValueError(str(exc)) from None
    return package.name, int(package.epoch or 0), package.version, package.release, package.arch


def href_of(entry: Entry) -> str:
    """Where a package is, from a generation's base (<channel>/<repository>/<generation>/):
    the shared pool at the target's root. dnf resolves the ../ itself."""
    return "../../../" + pool_key(entry.sha256, entry.filename)


@dataclass(frozen=True)
class Block:
    text: dict[str, bytes]


class BlockCache:
    """(repository, release, its packages, its advisory) -> Block, kept on disk between runs."""

    def __init__(self, root: Path):
        self.root = Path(root) / "yum"

    def get_all(self, repo: str, wanted: list[tuple[list[Entry], Advisory | None]],
                pool_path) -> tuple[list[str], list[Block]]:
        """The key and block of each (entries, advisory), building the missing ones on every core."""
        keys = [hashlib.sha256(repr((_FORMAT, repo, entries, advisory)).encode()).hexdigest()
                for entries, advisory in wanted]
        jobs = [(entries, advisory, pool_path) for entries, advisory in wanted]
        return keys, cached_results(self.root, keys, jobs, _make_block_job, _write_block, _read_block)

    def members(self, kind: str, keys: list[str], blocks: list[Block]) -> list[bytes]:
        """The gzip members of ``kind`` for the blocks, one a run, compressed only when new."""
        runs, start = [], 0
        for i, key in enumerate(keys):
            if int(key[:8], 16) % RUN == 0 or i == len(keys) - 1:
                runs.append((start, i + 1))
                start = i + 1
        run_keys = [hashlib.sha256(f"{kind}:{':'.join(keys[a:b])}".encode()).hexdigest() for a, b in runs]
        texts = [b"".join(block.text[kind] for block in blocks[a:b]) for a, b in runs]
        return cached_results(self.root / "runs", run_keys, texts, _gzip, bytes, bytes)


def _gzip(text: bytes) -> bytes:
    return gzip.compress(text, compresslevel=6, mtime=0) if text else b""


def _make_block_job(job) -> Block:
    return _make_block(*job)


def _write_block(block: Block) -> bytes:
    parts = [block.text[k] for k in KINDS]
    return json.dumps([len(p) for p in parts]).encode() + b"\n" + b"".join(parts)


def _read_block(raw: bytes) -> Block:
    header, _, body = raw.partition(b"\n")
    parts, offset = [], 0
    for size in json.loads(header):
        parts.append(body[offset:offset + size])
        offset += size
    return Block(dict(zip(KINDS, parts, strict=True)))


def _make_block(entries: list[Entry], advisory: Advisory | None, pool_path) -> Block:
    text = {k: [] for k in KINDS}
    for entry in entries:
        package = cr.package_from_rpm(pool_path(entry.sha256, entry.filename), checksum_type=cr.SHA256,
                                      location_href=href_of(entry), changelog_limit=10)
        package.time_file = 0  # the pool file's mtime says nothing about the package
        primary, filelists, other = cr.xml_dump(package)
        text["primary"].append(primary)
        text["filelists"].append(filelists)
        text["other"].append(other)
    if advisory is not None:
        text["updateinfo"].append(cr.xml_dump_updaterecord(_update_record(advisory, entries)))
    return Block({k: "".join(v).encode() for k, v in text.items()})


def build_repository(prefix: str, content: RepoContent, pool_path, cache: BlockCache, signer: Signer,
                     revision: int, base_url: str) -> Publication:
    """A whole yum repository as objects under ``prefix`` (<channel>/<repository>): a generation
    of repodata named by its repomd.xml's digest, written once, and the metalink that names it.

    The metalink is the one mutable object: dnf reads it, then only immutable files of one
    generation, so a client never sees a repomd.xml and a signature from two publications."""
    by_release: dict[str, list[Entry]] = {}
    for entry in content.entries:
        by_release.setdefault(entry.release, []).append(entry)
    advisories = {a.release: a for a in content.advisories}
    keys, blocks = cache.get_all(content.repository.name,
                           [(entries, advisories.get(key)) for key, entries in sorted(by_release.items())], pool_path)
    use_xz = "xz" in content.repository.compression and "gz" not in content.repository.compression
    repomd = cr.Repomd()
    repomd.set_revision(str(revision))
    files: dict[str, bytes] = {}
    for kind in KINDS:
        head = (_DECL + _HEADS[kind].format(n=len(content.entries))).encode()
        tail = _TAILS[kind].encode()
        texts = [head, *(b.text[kind] for b in blocks), tail]
        if use_xz:
            packed, suffix = lzma.compress(b"".join(texts)), "xz"
        else:
            members = [gzip.compress(head, mtime=0), *cache.members(kind, keys, blocks), gzip.compress(tail, mtime=0)]
            packed, suffix = b"".join(members), "gz"
        name, record = _record(kind, texts, packed, suffix, revision)
        files[name] = packed
        repomd.set_record(record)
    xml = repomd.xml_dump().encode()
    generation = f"{prefix}/{hashlib.sha256(xml).hexdigest()[:20]}"
    once = {f"{generation}/{name}": data for name, data in files.items()}
    once[f"{generation}/repodata/repomd.xml.asc"] = signer.detach_sign(xml)
    once[f"{generation}/repodata/repomd.xml"] = xml
    url = f"{base_url.rstrip('/')}/{generation}/repodata/repomd.xml"
    return Publication(once, [], [(f"{prefix}/{METALINK}", metalink(xml, url, revision), None)])


METALINK = "metalink.xml"


def metalink(repomd: bytes, url: str, revision: int) -> bytes:
    """A metalink naming one repomd.xml by URL, size and sha256 (librepo checks both)."""
    when = formatdate(revision, usegmt=True)
    return (f'''<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" xmlns:mm0="http://fedorahosted.org/mirrormanager" \
type="dynamic" pubdate="{when}" generator="rolloutctl">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>{revision}</mm0:timestamp>
   <size>{len(repomd)}</size>
   <verification>
    <hash type="sha256">{hashlib.sha256(repomd).hexdigest()}</hash>
   </verification>
   <resources maxconnections="1">
    <url protocol="{url.split(":", 1)[0]}" type="{url.split(":", 1)[0]}" preference="100">{escape(url)}</url>
   </resources>
  </file>
 </files>
</metalink>
''').encode()


def _record(kind: str, texts: list[bytes], packed: bytes, suffix: str, revision: int) -> tuple[str, cr.RepomdRecord]:
    opened = hashlib.sha256()
    for part in texts:
        opened.update(part)
    digest = hashlib.sha256(packed).hexdigest()
    name = f"repodata/{digest}-{kind}.xml.{suffix}"
    record = cr.RepomdRecord(kind, None)
    record.checksum_type = "sha256"
    record.checksum = digest
    record.checksum_open_type = "sha256"
    record.checksum_open = opened.hexdigest()
    record.size = len(packed)
    record.size_open = sum(len(p) for p in texts)
    record.timestamp = revision
    record.location_href = name
    return name, record


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
