"""Real packages built for the tests with rpmbuild and dpkg-deb, and hostile ones made by hand."""

from __future__ import annotations

import io
import subprocess
import tarfile
import zlib
from pathlib import Path


def build_deb(out: Path, name: str, version: str, compression: str = "xz", arch: str = "all",
              depends: str = "") -> Path:
    """A .deb made by dpkg-deb with its members compressed as ``compression`` (gzip, xz, zstd, none)."""
    root = out / f"build-{name}-{version}-{compression}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr/share" / name).mkdir(parents=True)
    (root / "usr/share" / name / "VERSION").write_text(f"{name} {version}\n")
    (root / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: Test <test@example.invalid>\n"
        + (f"Depends: {depends}\n" if depends else "")
        + f"Description: {name} for the tests\n A package built by the test suite.\n")
    target = out / f"{name}_{version}_{arch}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(root), str(target)],
                   check=True, capture_output=True)
    return target


def build_rpm(out: Path, name: str, version: str, release: str = "1.el9", epoch: int = 0,
              requires: str = "") -> Path:
    """A noarch rpm made by rpmbuild."""
    top = out / f"rpmbuild-{name}-{version}"
    (top / "SPECS").mkdir(parents=True)
    spec = top / "SPECS" / f"{name}.spec"
    spec.write_text(
        (f"Epoch: {epoch}\n" if epoch else "")
        + (f"Requires: {requires}\n" if requires else "")
        + f"Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: {name} for the tests\n"
        "License: Apache-2.0\nBuildArch: noarch\n%description\nA package built by the test suite.\n"
        f"%install\nmkdir -p %{{buildroot}}/usr/share/{name}\n"
        f"echo '{name} {version}-{release}' > %{{buildroot}}/usr/share/{name}/VERSION\n"
        f"%files\n/usr/share/{name}/VERSION\n")
    subprocess.run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", str(spec)],
                   check=True, capture_output=True)
    built = top / "RPMS/noarch" / f"{name}-{version}-{release}.noarch.rpm"
    target = out / built.name
    built.rename(target)
    return target


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, body in members:
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(body):<10}`\n".encode()
        out += body + (b"\n" if len(body) % 2 else b"")
    return bytes(out)


def deb_bomb(expanded: int = 512 << 20) -> bytes:
    """A .deb whose control.tar.gz expands to ``expanded`` bytes: a control file of that size."""
    header = tarfile.TarInfo("./control")
    header.size = expanded
    packer = zlib.compressobj(9, wbits=31)
    packed = [packer.compress(header.tobuf(format=tarfile.GNU_FORMAT))]
    zeros = bytes(1 << 20)
    for _ in range(expanded >> 20):
        packed.append(packer.compress(zeros))
    packed.append(packer.flush())
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        tar.addfile(tarfile.TarInfo("./usr"))
    return _ar([("debian-binary", b"2.0\n"), ("control.tar.gz", b"".join(packed)), ("data.tar.gz", data.getvalue())])
