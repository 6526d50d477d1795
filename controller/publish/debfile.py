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


def deb_identity(data: bytes, filename: str) -> tuple[str, str, str]:
    """(package, version with any epoch, architecture) from a .deb's control file."""
    fields = dict(control_fields(data, filename))
    return fields.get("Package", ""), fields.get("Version", ""), fields.get("Architecture", "")
