""".xz files assembled from pieces compressed on their own: one stream of several blocks.

An .xz stream is a header, blocks that each compress independently, an index of the blocks'
sizes and a footer. A piece compressed once is kept as its block; a file is its pieces' blocks
with a new index, so a change to one piece compresses that piece only. The result is one
stream, not concatenated streams: apt's reader stops at the end of the first stream.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from dataclasses import dataclass

_MAGIC = b"\xfd7zXZ\x00"
_FLAGS = b"\x00\x04"  # the check: CRC64, as lzma.compress writes by default
_FOOTER_MAGIC = b"YZ"


@dataclass(frozen=True)
class Block:
    """A compressed piece as an .xz block: its bytes (padded to 4), its size without the padding
    and the size of the text it holds."""

    data: bytes
    unpadded: int
    size: int


def compress_block(text: bytes) -> Block:
    """``text`` as one block (lzma compresses a whole input single-threaded into one); an empty
    text is no block."""
    if not text:
        return Block(b"", 0, 0)
    stream = lzma.compress(text, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64)
    if stream[:6] != _MAGIC or stream[6:8] != _FLAGS:
        raise ValueError("unexpected .xz stream header from lzma")
    backward = struct.unpack("<I", stream[-8:-4])[0]
    index_size = (backward + 1) * 4
    index = stream[-12 - index_size:-12]
    records, _ = _records(index)
    if len(records) != 1:
        raise ValueError(f"lzma wrote {len(records)} blocks where one was expected")
    unpadded, size = records[0]
    return Block(stream[12:-12 - index_size], unpadded, size)


def encode_block(block: Block) -> bytes:
    return struct.pack("<QQ", block.unpadded, block.size) + block.data


def decode_block(raw: bytes) -> Block:
    unpadded, size = struct.unpack("<QQ", raw[:16])
    data = raw[16:]
    if len(data) != (unpadded + 3) // 4 * 4:
        raise ValueError("a kept .xz block of the wrong size")
    return Block(data, unpadded, size)


def assemble(blocks: list[Block]) -> bytes:
    """One .xz stream holding ``blocks`` in order (empty pieces leave no block)."""
    blocks = [b for b in blocks if b.size]
    index = bytearray(b"\x00" + _varint(len(blocks)))
    for block in blocks:
        index += _varint(block.unpadded) + _varint(block.size)
    index += b"\x00" * (-len(index) % 4)
    index += struct.pack("<I", zlib.crc32(index))
    header = _MAGIC + _FLAGS + struct.pack("<I", zlib.crc32(_FLAGS))
    tail = struct.pack("<I", len(index) // 4 - 1) + _FLAGS
    footer = struct.pack("<I", zlib.crc32(tail)) + tail + _FOOTER_MAGIC
    return b"".join([header, *(b.data for b in blocks), bytes(index), footer])


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _records(index: bytes) -> tuple[list[tuple[int, int]], int]:
    if index[:1] != b"\x00":
        raise ValueError("unexpected .xz index from lzma")
    count, at = _read_varint(index, 1)
    records = []
    for _ in range(count):
        unpadded, at = _read_varint(index, at)
        size, at = _read_varint(index, at)
        records.append((unpadded, size))
    return records, at
