"""Fixtures: real git repositories written commit by commit with the authors and dates the
trust rules and timers read."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "scripts"))

from example_repo import GitWriter, build_example  # noqa: E402

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

PEOPLE = {
    "maria": ("Maria Duarte", "maria.duarte@umd.example.org"),
    "ines": ("Ines Carvalho", "ines.carvalho@umd.example.org"),
    "andrea": ("Andrea Ferri", "andrea.ferri@argus.example.org"),
    "lars": ("Lars Nygaard", "lars.nygaard@arc.example.org"),
    "jonas": ("Jonas Weber", "jonas.weber@unicore.example.org"),
    "ifca": ("Alvaro Lopez", "alvaro.lopez@ifca.example.org"),
    "cesga": ("Carlos Fernandez", "carlos.fernandez@cesga.example.org"),
    "grnet": ("Kostas Koumantaros", "kostas.koumantaros@grnet.example.org"),
    "mallory": ("Mallory", "mallory@elsewhere.example.org"),
    "controller": ("rolloutctl", "rolloutctl@umd.example.org"),
}


class Story:
    """A release repository under test: write files, commit them as someone, at some time."""

    def __init__(self, path: Path):
        self.git = GitWriter(path)
        self.path = path

    def commit(self, who: str, when: str, files: dict[str, object] | None = None, message: str = "change") -> str:
        for relpath, content in (files or {}).items():
            if content is None:
                self.git.remove(relpath)
            elif isinstance(content, (dict, list)):
                self.git.write(relpath, yaml.safe_dump(content, sort_keys=False))
            else:
                self.git.write(relpath, content)
        name, email = PEOPLE[who]
        return self.git.commit(message, name, email, when)


def package(name="argus-pap", version="1.8.0", release="1.el9", url=None, data=None):
    filename = f"{name}-{version}-{release}.noarch.rpm"
    entry = {"name": name, "version": version, "release": release, "arch": "noarch", "platform": "el9"}
    if data is not None:
        entry["path"] = f"packages/{filename}"
        entry.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    else:
        entry["url"] = url or f"https://argus.example.org/repo/{filename}"
        entry.update(sha256="a" * 64, size=1024)
    return entry


def manifest(component="argus", version="1.8.0", category="minor", **extra):
    doc = {
        "component": component, "version": version, "category": category,
        "stack": {"argus": "glite", "arc-ce": "arc", "unicore-server": "unicore"}[component],
        "distribution": "5", "summary": f"{component} {version}",
        "provider": {"name": "Product team", "contact": "team@example.org"},
        "release_notes": "https://example.org/notes", "changelog": "Fixes.",
        "certification": [{"url": "https://example.org/cert"}],
        "documentation": [{"url": "https://example.org/docs"}],
        "packages": [package(version=version)] if component == "argus" else [],
    }
    doc.update(extra)
    return doc


def verification(result="verified"):
    checks = dict.fromkeys(["release_notes", "changelog", "certification", "documentation", "bug_links",
                            "installability"], "pass")
    doc = {"result": result, "checks": checks}
    if result == "rejected":
        doc["notes"] = "Certification report missing."
    return doc


def report_done(site, version, packages, result="success"):
    return {"site": site, "status": "done", "result": result,
            "tested": {"version": version, "packages": [{"name": p["name"], "sha256": p["sha256"]} for p in packages]},
            "environment": {"hosts": ["node.example.org"], "load": "production"}, "effort_hours": 2}


ARC = "releases/arc-ce/6.19.0"


def arc_release() -> dict:
    """The example's arc-ce release: its manifest and its committed rpm and deb."""
    files = {f"{ARC}/release.yaml": (TOP / ARC / "release.yaml").read_bytes()}
    for item in (TOP / ARC / "packages").iterdir():
        files[f"{ARC}/packages/{item.name}"] = item.read_bytes()
    return files


def arc_packages() -> list[dict]:
    return [{"name": "arc-ce", "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            for p in sorted((TOP / ARC / "packages").iterdir())]


def commit_embargoed_unicore(story: Story, day: str, embargo_until: str = "2026-11-20T12:00:00Z",
                             url: str | None = None) -> None:
    """The example's emergency security release, with an embargo, certified, verified and sent to
    Production by the managers on ``day`` (YYYY-MM-DD). With ``url``, its rpm is fetched from
    there (the provider's server) instead of committed."""
    unicore = "releases/unicore-server/9.2.1"
    release = (TOP / unicore / "release.yaml").read_text().replace(
        "  cves: [CVE-2026-41822]", f"  cves: [CVE-2026-41822]\n  embargo_until: \"{embargo_until}\"")
    files = {f"{unicore}/release.yaml": release}
    if url is None:
        files.update({f"{unicore}/packages/{p.name}": p.read_bytes() for p in (TOP / unicore / "packages").iterdir()})
    else:
        files[f"{unicore}/release.yaml"] = release.replace("path: packages/", f"url: {url.rstrip('/')}/")
    story.commit("jonas", f"{day}T07:30:00Z", files)
    story.commit("ines", f"{day}T09:00:00Z", {f"{unicore}/verification.yaml": verification()})
    decision = (TOP / unicore / "decision.yaml").read_text()
    story.commit("maria", f"{day}T10:00:00Z", {f"{unicore}/decision.yaml": decision})


def configured_story(path: Path) -> Story:
    """A repository holding the example's configuration and adopters, as their owners merged them."""
    s = Story(path)
    s.commit("maria", "2026-09-01T08:00:00Z", {
        f"repos-config/{p.name}": p.read_bytes() for p in (TOP / "repos-config").glob("*.yaml")
    }, "configuration")
    for site, who in (("IFCA-LCG2", "ifca"), ("CESGA", "cesga"), ("GRNET", "grnet")):
        s.commit(who, "2026-09-02T08:00:00Z", {f"adopters/{site}.yaml": (TOP / f"adopters/{site}.yaml").read_bytes()},
                 f"register {site}")
    return s


@pytest.fixture
def story(tmp_path) -> Story:
    return configured_story(tmp_path / "repo")


@pytest.fixture(scope="session")
def example_repo(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("example") / "repo"
    build_example(target)
    return target


@pytest.fixture(scope="session", autouse=True)
def stop_leftover_gpg_agents(tmp_path_factory):
    """dnf imports each repository's key into a keyring of its own and leaves a gpg-agent running
    for it; after a session of real clients hundreds would stay behind. Stop those whose home is
    under this session's temporary directory."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"gpg-agent") and any(base.encode() in arg for arg in argv):
            with contextlib.suppress(OSError):
                os.kill(int(proc.name), signal.SIGTERM)
