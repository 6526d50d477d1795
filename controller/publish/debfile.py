"""Reading a .deb's control paragraph: the ar archive and the control fields through python-debian,
the control.tar member (gzip, xz, zstd or plain) decompressed here under a bound. The only user of
python-debian and zstandard; used to check a package's identity and to write apt's Packages index.

A package is untrusted input: its control member is small in every real package, so one that
expands past a fixed size, or far beyond its compressed size, is refused before it is held in memory.
"""

from __future__ import annotations

import io
import lzma
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import zstandard
from debian import arfile, deb822

from controller.errors import BadInput

CHUNK = 1 << 16


@dataclass(frozen=True)
class Bound:
    """How far a control member may expand: never past ``limit`` bytes, and past ``small`` bytes
    only while it stays within ``ratio`` times its compressed size."""

    limit: int = 64 << 20
    small: int = 1 << 20
    ratio: int = 20  # past the first megabyte only md5sums grow, and they pack 2 to 4 times

    def allowed(self, compressed: int) -> int:
        return min(self.limit, max(self.small, self.ratio * compressed))


BOUND = Bound()
_HINT = "is it a Debian package? Rebuild it with dpkg-deb"


def _inflate_gzip(data: bytes, most: int) -> bytes:
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    out = bytearray(inflater.decompress(data, most + 1))
    while inflater.unconsumed_tail and len(out) <= most:
        out += inflater.decompress(inflater.unconsumed_tail, most + 1 - len(out))
    return bytes(out)


def _inflate_xz(data: bytes, most: int) -> bytes:
    inflater = lzma.LZMADecompressor()
    out = bytearray(inflater.decompress(data, most + 1))
    while not inflater.eof and not inflater.needs_input and len(out) <= most:
        out += inflater.decompress(b"", most + 1 - len(out))
    return bytes(out)


def _inflate_zstd(data: bytes, most: int) -> bytes:
    out = bytearray()
    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True) as reader:
        while len(out) <= most and (chunk := reader.read(min(CHUNK, most + 1 - len(out)))):
            out += chunk
    return bytes(out)


_INFLATE = {".gz": _inflate_gzip, ".xz": _inflate_xz, ".zst": _inflate_zstd, "": lambda data, most: data[:most + 1]}


def _control_tar(data: bytes, filename: str, bound: Bound) -> bytes:
    try:
        archive = arfile.ArFile(fileobj=io.BytesIO(data))
    except (arfile.ArError, ValueError, OSError) as exc:
        raise BadInput(f"{filename}: not an ar archive ({exc})", _HINT) from None
    members = [m for m in archive.getnames() if m.startswith("control.tar")]
    if not members:
        raise BadInput(f"{filename}: no control.tar member", _HINT)
    name = members[0]
    suffix = name.removeprefix("control.tar")
    if suffix not in _INFLATE:
        raise BadInput(f"{filename}: {name} is compressed in a way dpkg does not write", _HINT)
    member = archive.getmember(name)
    packed = member.read()
    if len(packed) != member.size:
        raise BadInput(f"{filename}: {name} is cut short ({len(packed)} of {member.size} bytes)", _HINT)
    most = bound.allowed(len(packed))
    try:
        body = _INFLATE[suffix](packed, most)
    except (zlib.error, lzma.LZMAError, zstandard.ZstdError, EOFError) as exc:
        raise BadInput(f"{filename}: {name} is damaged ({exc})", _HINT) from None
    if len(body) > most:
        raise BadInput(f"{filename}: {name} expands past {most} bytes ({len(packed)} compressed; at most "
                       f"{bound.ratio} times that, and never more than {bound.limit}): refused as a "
                       "decompression bomb", "a real control member is a few kilobytes; rebuild the package")
    return body


def control_fields(data: bytes, filename: str, bound: Bound = BOUND) -> list[tuple[str, str]]:
    """The control file's fields, in order, with multi-line values kept as written."""
    body = _control_tar(data, filename, bound)
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:") as tar:
            member = next((m for m in tar.getmembers() if m.name.removeprefix("./") == "control"), None)
            if member is None or not member.isfile():
                raise BadInput(f"{filename}: its control.tar has no control file", _HINT)
            text = tar.extractfile(member).read()
    except tarfile.TarError as exc:
        raise BadInput(f"{filename}: cannot read its control.tar ({exc})", _HINT) from None
    paragraph = deb822.Deb822(text.decode("utf-8", errors="replace"))
    if not paragraph:
        raise BadInput(f"{filename}: its control file has no fields", _HINT)
    return list(paragraph.items())


def identity(fields: list[tuple[str, str]]) -> tuple[str, str, str]:
    """(package, version with any epoch, architecture) from a .deb's control fields."""
    found = dict(fields)
    return found.get("Package", ""), found.get("Version", ""), found.get("Architecture", "")


def deb_identity(data: bytes, filename: str) -> tuple[str, str, str]:
    """(package, version with any epoch, architecture) from a .deb's control file."""
    return identity(control_fields(data, filename))


def control_fields_at(path: Path, filename: str, bound: Bound = BOUND) -> list[tuple[str, str]]:
    """The control fields of the .deb at ``path``, reading only as far as its control member:
    the data member after it (nearly all of the file) is not read."""
    with open(path, "rb") as f:
        head = f.read(8)
        while len(header := f.read(60)) == 60:  # ar member headers: name, ..., size (48:58), magic
            try:
                size = int(header[48:58])
            except ValueError:
                size = -1
            if size < 0:
                head += header  # ArFile says what is wrong with it
                break
            body = f.read(size + size % 2)
            head += header + body
            if header.startswith(b"control.tar") or len(body) < size:
                break
        else:
            head += header
    return control_fields(head, filename, bound)


# The control fields of the packages this run has read, by sha256 (content addressed, so never
# stale): ingestion reads each .deb once, and apt's Packages index is made from what it read.
_KNOWN: dict[str, list[tuple[str, str]]] = {}


def remember(sha256: str, fields: list[tuple[str, str]]) -> None:
    _KNOWN[sha256] = fields


def control_fields_of(path: Path, filename: str, sha256: str) -> list[tuple[str, str]]:
    """The control fields of the .deb whose bytes have this ``sha256`` (held at ``path``)."""
    known = _KNOWN.get(sha256)
    return list(known) if known is not None else control_fields_at(path, filename)
