"""Reading a .deb's control paragraph without dpkg: an ar archive holding control.tar.{gz,xz,zst}.
Pure over bytes; used to write apt's Packages index.
"""

from __future__ import annotations

import io
import lzma
import tarfile

from controller.errors import BadInput


def _members(data: bytes):
    if not data.startswith(b"!<arch>\n"):
        raise ValueError("not an ar archive")
    offset = 8
    while offset + 60 <= len(data):
        header = data[offset:offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        yield name, data[offset + 60: offset + 60 + size]
        offset += 60 + size + (size % 2)


def control_fields(data: bytes, filename: str) -> list[tuple[str, str]]:
    """The control file's fields, in order, with multi-line values kept as written."""
    try:
        for name, body in _members(data):
            if name.startswith("control.tar"):
                if name.endswith(".xz"):
                    body, mode = lzma.decompress(body), "r:"
                else:
                    mode = "r:gz" if name.endswith(".gz") else "r:"
                with tarfile.open(fileobj=io.BytesIO(body), mode=mode) as tar:
                    member = next(m for m in tar.getmembers() if m.name.lstrip("./") == "control")
                    return parse_paragraph(tar.extractfile(member).read().decode())
    except (ValueError, StopIteration, tarfile.TarError, lzma.LZMAError, KeyError) as exc:
        raise BadInput(f"{filename}: cannot read its control file ({exc})", "is it a Debian package?") from None
    raise BadInput(f"{filename}: no control.tar member", "is it a Debian package?")


def parse_paragraph(text: str) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line.startswith((" ", "\t")) and fields:
            key, value = fields[-1]
            fields[-1] = (key, value + "\n" + line)
        elif ":" in line:
            key, _, value = line.partition(":")
            fields.append((key.strip(), value.strip()))
    return fields


def deb_identity(data: bytes, filename: str) -> tuple[str, str, str]:
    """(package, version with any epoch, architecture) from a .deb's control file."""
    fields = dict(control_fields(data, filename))
    return fields.get("Package", ""), fields.get("Version", ""), fields.get("Architecture", "")
