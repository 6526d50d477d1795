"""Real rpm and deb packages for the benchmarks, and the release manifests and configuration that
name them: built once per size and kept in a cache, so a benchmark times publishing, not building.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "scripts"))

import yaml  # noqa: E402
from example_repo import GitWriter  # noqa: E402

PER_RELEASE = 10
NOW = "2026-11-24T12:00:00+00:00"


# --- building packages -----------------------------------------------------------------------


def build_rpms(target: Path, count: int) -> None:
    """Real rpms from rpmbuild: one spec per 1,000 subpackages keeps it to minutes."""
    target.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())
    for batch in range(0, count, 1000):
        size = min(1000, count - batch)
        lines = [f"Name: bench-batch{batch}", "Version: 1.0", "Release: 1.el9", "Summary: benchmark",
                 "License: MIT", "BuildArch: noarch", "%description", "benchmark batch", "%install"]
        lines += [f"mkdir -p %{{buildroot}}/usr/share/bench/{batch + i} && echo {batch + i} > "
                  f"%{{buildroot}}/usr/share/bench/{batch + i}/data" for i in range(size)]
        for i in range(size):
            n = batch + i
            lines += [f"%package -n bench-{n}", f"Summary: benchmark package {n}", f"%description -n bench-{n}",
                      f"benchmark package {n}", f"%files -n bench-{n}", f"/usr/share/bench/{n}/data"]
        spec = work / f"batch{batch}.spec"
        spec.write_text("\n".join(lines) + "\n")
        subprocess.run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {work}", "--define", "_build_id_links none",
                        str(spec)], check=True, capture_output=True)
    for rpm in (work / "RPMS" / "noarch").glob("bench-[0-9]*.rpm"):
        shutil.move(rpm, target / rpm.name)
    shutil.rmtree(work)


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in members:
        out.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode())
        out.write(data + (b"\n" if len(data) % 2 else b""))
    return out.getvalue()


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1767225600, 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def build_debs(target: Path, count: int) -> None:
    """Real .deb files (ar: debian-binary, control.tar.gz, data.tar.gz), written directly."""
    target.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        control = (f"Package: bench-{n}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: Bench <b@example.org>\n"
                   f"Description: benchmark package {n}\n").encode()
        deb = _ar([("debian-binary", b"2.0\n"), ("control.tar.gz", _tar({"./control": control})),
                   ("data.tar.gz", _tar({f"./usr/share/bench/{n}/data": f"{n}\n".encode()}))])
        (target / f"bench-{n}_1.0-1_all.deb").write_bytes(deb)


def write_config(writer: GitWriter, roots: list[Path]) -> None:
    files = {p.name: yaml.safe_load(p.read_text()) for p in (TOP / "repos-config").glob("*.yaml")}
    files["distribution.yaml"]["components"]["bench"] = {"stack": "glite"}
    files["distribution.yaml"]["majors"][0]["baselines"]["bench"] = 1
    files["roles.yaml"]["providers"]["argus-pt"]["components"].append("bench")
    files["repositories.yaml"]["file_roots"] = [str(r) for r in roots]
    for name, doc in files.items():
        writer.write(f"repos-config/{name}", yaml.safe_dump(doc, sort_keys=False))
    writer.commit("config", "Maria Duarte", "maria.duarte@umd.example.org", "2026-01-01T00:00:00Z")


def release_doc(index: int, packages: list[tuple[Path, dict]]) -> dict:
    return {"component": "bench", "version": f"1.0.{index}", "category": "emergency", "stack": "glite",
            "distribution": "5", "summary": f"bench {index}",
            "provider": {"name": "bench", "contact": "andrea.ferri@argus.example.org"},
            "release_notes": "https://example.org/n", "changelog": "bench",
            "certification": [{"url": "https://example.org/c"}], "documentation": [{"url": "https://example.org/d"}],
            "emergency": {"justification": "benchmark releases, exempt from cadence limits"},
            "packages": [{**fields, "url": f"file://{path}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                          "size": path.stat().st_size} for path, fields in packages]}


def rpm_fields(path: Path) -> dict:
    name = path.name.removesuffix(".noarch.rpm").rsplit("-", 2)[0]
    return {"name": name, "version": "1.0", "release": "1.el9", "arch": "noarch", "platform": "el9"}


def deb_fields(path: Path) -> dict:
    return {"name": path.name.split("_")[0], "version": "1.0-1", "arch": "all", "platform": "bookworm"}


