"""Writing a yum repository: Packages/ hardlinked from the pool, repodata/ with primary,
filelists, other and updateinfo, repomd.xml and its detached signature. The only createrepo_c user.

Each package's XML is computed once from its rpm header and kept in a cache by sha256, so a
republish concatenates known chunks instead of reading every rpm again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
from datetime import datetime
from pathlib import Path

import createrepo_c as cr

from controller.desired import Advisory, RepoContent
from controller.publish.signing import Signer

_HEADS = {
    "primary": '<metadata xmlns="http://linux.duke.edu/metadata/common" '
               'xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{n}">\n',
    "filelists": '<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="{n}">\n',
    "other": '<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="{n}">\n',
}
_TAILS = {"primary": "</metadata>\n", "filelists": "</filelists>\n", "other": "</otherdata>\n"}


class ChunkCache:
    """sha256 -> (primary, filelists, other) XML chunks, kept on disk between runs."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def get(self, sha256: str, rpm: Path, href: str) -> tuple[str, str, str]:
        cached = self.root / sha256[:2] / f"{sha256}.json"
        if cached.is_file():
            data = json.loads(cached.read_text())
            if data["href"] == href:
                return data["primary"], data["filelists"], data["other"]
        package = cr.package_from_rpm(str(rpm), checksum_type=cr.SHA256, location_href=href,
                                      changelog_limit=10)
        package.time_file = 0  # the pool file's mtime says nothing about the package
        primary, filelists, other = cr.xml_dump(package)
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(json.dumps({"href": href, "primary": primary, "filelists": filelists, "other": other}))
        os.replace(tmp, cached)
        return primary, filelists, other


def href_of(filename: str) -> str:
    return f"Packages/{filename[0].lower()}/{filename}"


def write_repository(target: Path, content: RepoContent, pool_path, cache: ChunkCache, signer: Signer,
                     revision: int) -> None:
    """Write a whole yum repository into ``target`` (an empty directory of a new generation)."""
    repodata = target / "repodata"
    repodata.mkdir(parents=True)
    chunks = {"primary": [], "filelists": [], "other": []}
    for entry in content.entries:
        href = href_of(entry.filename)
        link = target / href
        link.parent.mkdir(parents=True, exist_ok=True)
        source = pool_path(entry.sha256)
        os.link(source, link)  # same bytes as the pool: promotion copies nothing
        for kind, chunk in zip(("primary", "filelists", "other"), cache.get(entry.sha256, source, href), strict=True):
            chunks[kind].append(chunk)
    compression = "xz" if "xz" in content.repository.compression and "gz" not in content.repository.compression \
        else "gz"
    repomd = cr.Repomd()
    repomd.set_revision(str(revision))
    for kind, parts in chunks.items():
        text = '<?xml version="1.0" encoding="UTF-8"?>\n' + _HEADS[kind].format(n=len(parts)) + "".join(parts) \
            + _TAILS[kind]
        repomd.set_record(_record(repodata, kind, text.encode(), compression, revision))
    updateinfo = _updateinfo(content.advisories, content)
    repomd.set_record(_record(repodata, "updateinfo", updateinfo.encode(), compression, revision))
    xml = repomd.xml_dump().encode()
    # Leaf files first, the signature, then the root index last.
    (repodata / "repomd.xml.asc").write_bytes(signer.detach_sign(xml))
    (repodata / "repomd.xml").write_bytes(xml)
    for name in ("repomd.xml.asc", "repomd.xml"):  # Last-Modified follows the metadata (see apt.py)
        os.utime(repodata / name, (revision, revision))


def _record(repodata: Path, kind: str, data: bytes, compression: str, revision: int) -> cr.RepomdRecord:
    packed = gzip.compress(data, compresslevel=6, mtime=0) if compression == "gz" else lzma.compress(data)
    digest = hashlib.sha256(packed).hexdigest()
    name = f"{digest}-{kind}.xml.{compression}"
    (repodata / name).write_bytes(packed)
    record = cr.RepomdRecord(kind, str(repodata / name))
    record.checksum_type = "sha256"
    record.checksum = digest
    record.checksum_open_type = "sha256"
    record.checksum_open = hashlib.sha256(data).hexdigest()
    record.size = len(packed)
    record.size_open = len(data)
    record.timestamp = revision
    record.location_href = f"repodata/{name}"
    return record


def _updateinfo(advisories: tuple[Advisory, ...], content: RepoContent) -> str:
    by_file = {e.filename: e for e in content.entries}
    info = cr.UpdateInfo()
    for advisory in advisories:
        record = cr.UpdateRecord()
        record.id = advisory.id
        record.type = advisory.type
        record.severity = advisory.severity
        record.title = advisory.title
        record.summary = advisory.title
        record.description = advisory.description
        record.status = "stable"
        record.release = content.repository.distribution
        record.issued_date = datetime.fromisoformat(advisory.issued).replace(tzinfo=None)
        for url, ident, kind in advisory.references:
            reference = cr.UpdateReference()
            reference.href, reference.id, reference.type, reference.title = url, ident, kind, ident
            record.append_reference(reference)
        collection = cr.UpdateCollection()
        collection.shortname = advisory.release.replace("/", "-")
        collection.name = advisory.release
        for filename in advisory.packages:
            entry = by_file[filename]
            package = cr.UpdateCollectionPackage()
            package.name, package.epoch, package.version = entry.name, str(entry.epoch), entry.version
            package.release, package.arch, package.filename = entry.rel or "", entry.arch, filename
            package.sum, package.sum_type = entry.sha256, cr.SHA256
            collection.append(package)
        record.append_collection(collection)
        info.append(record)
    return info.xml_dump()
