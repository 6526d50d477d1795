"""An rpm's signature header, read and rewritten with a new header signature (the RSAHEADER tag
that ``rpmsign --addsign`` writes on rpm 4.18: an OpenPGP v4 signature over the main header),
and the OpenPGP packets that signature is made of. Bytes only: the private-key operation is the
caller's (signing.py), and nothing here runs a tool.

A package is untrusted input: every offset and length is checked against the file before it is
used, and an rpm laid out in a way this module does not know (no signature region, no SHA256
header digest, a header digest that does not match) is refused with the reason, so that the
caller can hand it to rpmsign instead or report it. Never a half-written file: the new signature
header replaces the old one in place (the reserved space absorbs the difference, as rpmsign does)
or the file is written anew beside and renamed over.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LEAD = 96
HEADER_MAGIC = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"
REGION = 62  # RPMTAG_HEADERSIGNATURES: the region every signature-header entry belongs to
RSAHEADER, SHA256HEADER, RESERVEDSPACE = 268, 273, 1008
# Signatures replaced by ours: DSA and RSA over the header, the legacy PGP/GPG/PGP5 over header+payload.
OLD_SIGNATURES = {267, 268, 1002, 1005, 1006}
BIN, STRING = 7, 6
_SIZES = {0: 0, 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1}  # fixed-size types: bytes per element
_MAX_ENTRIES = 4096


class NotSignable(ValueError):
    """This rpm's layout is not one this module rewrites (the message says why)."""


@dataclass(frozen=True)
class Entry:
    tag: int
    type: int
    count: int
    data: bytes


@dataclass(frozen=True)
class Package:
    entries: tuple[Entry, ...]  # the signature header's entries, region first
    signature_end: int  # where the signature header ends (before its padding)
    header: bytes  # the main header, magic included: what a header signature covers


def _data_length(kind: int, count: int, store: bytes, offset: int) -> int:
    if kind in _SIZES:
        return _SIZES[kind] * count
    if kind in (STRING, 8, 9):  # one string, or count of them, each NUL-terminated
        end = offset
        for _ in range(1 if kind == STRING else count):
            end = store.find(b"\0", end, len(store))
            if end < 0:
                raise NotSignable("a string runs past the end of the signature header")
            end += 1
        return end - offset
    raise NotSignable(f"unknown data type {kind} in the signature header")


def _read_header(data: bytes, start: int) -> tuple[list[tuple[int, int, int, int]], bytes, int]:
    """(index entries, data store, end) of the header at ``start``."""
    if data[start:start + 8] != HEADER_MAGIC:
        raise NotSignable(f"no header at byte {start}")
    count, size = struct.unpack_from(">II", data, start + 8)
    if count > _MAX_ENTRIES or start + 16 + 16 * count + size > len(data):
        raise NotSignable(f"the header at byte {start} runs past the end of the file")
    index = [struct.unpack_from(">iiii", data, start + 16 + 16 * i) for i in range(count)]
    store_at = start + 16 + 16 * count
    return index, data[store_at:store_at + size], store_at + size


def parse(data: bytes) -> Package:
    if len(data) < LEAD + 16 or data[:4] != b"\xed\xab\xee\xdb":
        raise NotSignable("no rpm lead")
    index, store, end = _read_header(data, LEAD)
    if not index or index[0][:2] != (REGION, BIN) or index[0][3] != 16:
        raise NotSignable("the signature header has no region")
    entries = []
    for tag, kind, offset, count in index:
        if offset < 0 or count < 0 or offset > len(store):
            raise NotSignable(f"tag {tag} points outside the signature header")
        length = _data_length(kind, count, store, offset)
        if offset + length > len(store):
            raise NotSignable(f"tag {tag} runs past the end of the signature header")
        entries.append(Entry(tag, kind, count, store[offset:offset + length]))
    trailer = struct.unpack(">iiii", entries[0].data)
    if trailer != (REGION, BIN, -16 * len(index), 16) or index[0][2] != len(store) - 16:
        raise NotSignable("the signature region does not cover the whole signature header")
    tags = [e.tag for e in entries]
    if tags != sorted(tags) or len(set(tags)) != len(tags):
        raise NotSignable("the signature header's tags are out of order")
    main = end + (-end) % 8
    _, _, main_end = _read_header(data, main)
    header = data[main:main_end]
    digest = next((e.data for e in entries if e.tag == SHA256HEADER and e.type == STRING), None)
    if digest is None:
        raise NotSignable("the signature header has no SHA256 header digest")
    if digest.rstrip(b"\0").decode("ascii", "replace") != hashlib.sha256(header).hexdigest():
        raise NotSignable("its header does not match the SHA256 digest in its signature header: damaged")
    return Package(tuple(entries), end, header)


def _read_headers(f) -> bytes:
    """The lead and both headers of the open rpm ``f`` (not its payload), read by their sizes."""
    head = f.read(LEAD + 16)
    for _ in range(2):
        start = len(head) - 16
        if len(head) < start + 16 or head[start:start + 8] != HEADER_MAGIC:
            raise NotSignable(f"no header at byte {start}")
        count, size = struct.unpack_from(">II", head, start + 8)
        if count > _MAX_ENTRIES or size > 256 << 20:
            raise NotSignable(f"the header at byte {start} is implausibly large")
        end = start + 16 + 16 * count + size
        head += f.read(end + (-end) % 8 + 16 - len(head))
    return head


def _align(kind: int) -> int:
    return {3: 2, 4: 4, 5: 8}.get(kind, 1)


def _layout(entries: list[Entry], fill: int | None) -> bytes:
    body = [e for e in entries if e.tag != REGION]
    if fill is not None:
        body = [Entry(RESERVEDSPACE, BIN, fill, b"\0" * fill) if e.tag == RESERVEDSPACE else e for e in body]
    count = len(body) + 1
    store, index = bytearray(), []
    for entry in body:
        store += b"\0" * ((-len(store)) % _align(entry.type))
        index.append(struct.pack(">iiii", entry.tag, entry.type, len(store), entry.count))
        store += entry.data
    trailer_at = len(store)
    store += struct.pack(">iiii", REGION, BIN, -16 * count, 16)
    region = struct.pack(">iiii", REGION, BIN, trailer_at, 16)
    return HEADER_MAGIC + struct.pack(">II", count, len(store)) + region + b"".join(index) + bytes(store)


def build(entries: list[Entry], size: int | None) -> bytes:
    """A signature header of ``entries`` (region first, then by tag) laid out as rpm lays it out:
    data in tag order, each aligned to its type, the region's trailer last. With ``size``, the
    reserved space is sized so that the whole header is exactly ``size`` bytes (as rpmsign does,
    which lets the package be signed in place)."""
    if size is None:
        return _layout(entries, None)
    if not any(e.tag == RESERVEDSPACE for e in entries):
        raise NotSignable("no reserved space")
    fill = 1
    for _ in range(8):  # alignment after the reserved space may shift by a few bytes: converge
        out = _layout(entries, fill)
        if len(out) == size:
            return out
        fill += size - len(out)
        if fill < 1:
            break
    raise NotSignable("the reserved space cannot absorb the new signature exactly")


def with_signature(package: Package, signature: bytes) -> list[Entry]:
    kept = [e for e in package.entries if e.tag not in OLD_SIGNATURES]
    return sorted([*kept, Entry(RSAHEADER, BIN, len(signature), signature)], key=lambda e: (e.tag != REGION, e.tag))


def rewrite(path: Path, signature_for: Callable[[bytes], bytes]) -> None:
    """Sign the rpm at ``path`` in place: ``signature_for(main header)`` gives the OpenPGP
    signature packet. Raises NotSignable (nothing written) for a layout this module refuses."""
    with open(path, "rb") as f:
        head = _read_headers(f)
        package = parse(head)
    entries = with_signature(package, signature_for(package.header))
    old_size = package.signature_end - LEAD
    try:
        new = build(entries, old_size)
    except NotSignable:
        new = None
    if new is not None:  # same size: the signature header is overwritten where it stands
        with open(path, "r+b") as f:
            f.seek(LEAD)
            f.write(new)
        return
    new = build([e for e in entries if e.tag != RESERVEDSPACE], None)
    partial = path.with_name(f".{path.name}.signing")
    with open(path, "rb") as source, open(partial, "wb") as out:
        out.write(head[:LEAD] + new + b"\0" * ((-len(new)) % 8))
        source.seek(package.signature_end + (-package.signature_end) % 8)
        while chunk := source.read(1 << 20):
            out.write(chunk)
    os.replace(partial, path)


# --- OpenPGP (RFC 4880) ---------------------------------------------------------------------------


def _mpi(value: int) -> bytes:
    return struct.pack(">H", value.bit_length()) + value.to_bytes((value.bit_length() + 7) // 8, "big")


def _subpacket(kind: int, body: bytes) -> bytes:
    assert len(body) + 1 < 192
    return bytes([len(body) + 1, kind]) + body


def signature_packet(data: bytes, fingerprint: bytes, created: int, sign_digest: Callable[[bytes], int]) -> bytes:
    """A v4 binary-document signature over ``data`` by the RSA key ``fingerprint`` (20 bytes),
    SHA-256, with the creation time and issuer subpackets gpg writes. ``sign_digest`` turns the
    SHA-256 digest into the RSA signature (PKCS#1 v1.5) as an integer."""
    hashed = _subpacket(33, b"\x04" + fingerprint) + _subpacket(2, struct.pack(">I", created))
    head = bytes([4, 0x00, 1, 8]) + struct.pack(">H", len(hashed)) + hashed
    digest = hashlib.sha256(data + head + b"\x04\xff" + struct.pack(">I", len(head))).digest()
    unhashed = _subpacket(16, fingerprint[-8:])
    body = head + struct.pack(">H", len(unhashed)) + unhashed + digest[:2] + _mpi(sign_digest(digest))
    return bytes([0x89]) + struct.pack(">H", len(body)) + body


@dataclass(frozen=True)
class RsaSecret:
    fingerprint: bytes
    n: int
    e: int
    d: int
    p: int
    q: int


def _packets(data: bytes):
    """(tag, body) of each packet in a binary OpenPGP message."""
    at = 0
    while at < len(data):
        first = data[at]
        if not first & 0x80:
            raise ValueError("not an OpenPGP packet")
        if first & 0x40:  # new format
            tag, at = first & 0x3F, at + 1
            o = data[at]
            if o < 192:
                length, at = o, at + 1
            elif o < 224:
                length, at = ((o - 192) << 8) + data[at + 1] + 192, at + 2
            elif o == 255:
                length, at = struct.unpack_from(">I", data, at + 1)[0], at + 5
            else:
                raise ValueError("partial-length packets are not expected in a key")
        else:
            tag, kind = (first >> 2) & 0x0F, first & 3
            size = {0: 1, 1: 2, 2: 4}.get(kind)
            if size is None:
                raise ValueError("indeterminate-length packets are not expected in a key")
            length = int.from_bytes(data[at + 1:at + 1 + size], "big")
            at += 1 + size
        yield tag, data[at:at + length]
        at += length


def _read_mpi(body: bytes, at: int) -> tuple[int, int]:
    bits = struct.unpack_from(">H", body, at)[0]
    end = at + 2 + (bits + 7) // 8
    if end > len(body):
        raise ValueError("a key number runs past its packet")
    return int.from_bytes(body[at + 2:end], "big"), end


def unprotected_rsa_key(exported: bytes, fingerprint: str) -> RsaSecret | None:
    """The RSA secret key ``fingerprint`` out of ``gpg --export-secret-keys`` output, when it is
    stored unprotected (a service key without a passphrase); None when it is protected, on a
    token, or not RSA: those sign through rpmsign and the agent."""
    for tag, body in _packets(exported):
        if tag not in (5, 7) or len(body) < 6 or body[0] != 4:
            continue
        if body[5] not in (1, 3):  # RSA (sign-capable)
            continue
        n, at = _read_mpi(body, 6)
        e, at = _read_mpi(body, at)
        public = body[:at]
        found = hashlib.sha1(b"\x99" + struct.pack(">H", len(public)) + public).digest()
        if found.hex().upper() != fingerprint.upper():
            continue
        if at >= len(body) or body[at] != 0:  # S2K usage 0: the numbers follow in the clear
            return None
        d, at = _read_mpi(body, at + 1)
        p, at = _read_mpi(body, at)
        q, at = _read_mpi(body, at)
        if p * q != n:
            return None
        return RsaSecret(found, n, e, d, p, q)
    return None
