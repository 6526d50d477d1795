"""release new: release.yaml written from real package files and URLs, FILL-IN only where a person
must write, and validate clean once they are written."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
import yaml
from builders import build_deb, build_rpm
from conftest import TOP
from servers import FileServer

from controller import app, cli
from controller.core.model import Category
from controller.core.release_draft import guess_category

ARGUS = "releases/argus/1.7.4"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.mark.parametrize("previous, version, category", [
    ("1.7.4", "1.7.5", Category.REVISION), ("1.7.4", "1.8.0", Category.MINOR), ("1.7.4", "2.0.0", Category.MAJOR),
    ("1.131", "1.132", Category.MINOR), ("6.19.0", "6.19.0.1", Category.REVISION), (None, "1.0.0", Category.MINOR),
])
def test_the_category_is_guessed_from_the_version_change(previous, version, category):
    assert guess_category(previous, version)[0] == category


def fill(text: str) -> str:
    return (text.replace("summary: FILL-IN", "summary: ARGUS 1.7.5 fixes the PEP cache")
            .replace("release_notes: FILL-IN", "release_notes: https://argus.example.org/releases/1.7.5/")
            .replace("changelog: FILL-IN", "changelog: Fix the PEP cache.")
            .replace("{title: FILL-IN, url: FILL-IN}", "{url: \"https://argus.example.org/qa/1.7.5/\"}"))


def test_release_new_reads_every_field_from_the_packages_and_validates_once_filled(story, tmp_path, capsys):
    files = {f"{ARGUS}/release.yaml": (TOP / ARGUS / "release.yaml").read_bytes()}
    files.update({f"{ARGUS}/packages/{p.name}": p.read_bytes() for p in (TOP / ARGUS / "packages").iterdir()})
    story.commit("andrea", "2026-11-16T09:00:00Z", files)
    built = tmp_path / "built"
    built.mkdir()
    rpm = build_rpm(built, "argus-pap", "1.7.5", "1.el9", epoch=1)
    deb = build_deb(built, "argus-pap", "1.7.5-1", "zstd")
    with FileServer(built) as server:
        url = f"{server.url}/{deb.name}"
        code = cli.main(["--repo", str(story.path), "release", "new", "argus", "1.7.5",
                         "--package", str(rpm), "--package", url])
        assert code == 0
        assert [path for path, _ in server.requests] == [f"/{deb.name}"]  # fetched once
    out = capsys.readouterr().out
    assert "still to write (validate refuses every FILL-IN): /summary, /release_notes, /changelog, " \
           "/certification/0/title, /certification/0/url" in out
    written = story.path / "releases/argus/1.7.5/release.yaml"
    doc = yaml.safe_load(written.read_text())
    assert doc["category"] == "revision" and doc["stack"] == "glite" and doc["distribution"] == "5"
    assert doc["provider"] == {"name": "ARGUS product team", "contact": "andrea.ferri@argus.example.org"}
    assert doc["packages"] == [
        {"name": "argus-pap", "epoch": 1, "version": "1.7.5", "release": "1.el9", "arch": "noarch", "platform": "el9",
         "path": "packages/argus-pap-1.7.5-1.el9.noarch.rpm", "sha256": hashlib.sha256(rpm.read_bytes()).hexdigest(),
         "size": rpm.stat().st_size},
        {"name": "argus-pap", "version": "1.7.5-1", "arch": "all", "platform": "bookworm", "url": url,
         "sha256": hashlib.sha256(deb.read_bytes()).hexdigest(), "size": deb.stat().st_size}]
    assert (story.path / "releases/argus/1.7.5/packages" / rpm.name).read_bytes() == rpm.read_bytes()

    story.commit("andrea", "2026-11-20T09:00:00Z", {
        "releases/argus/1.7.5/release.yaml": fill(written.read_text()),
        f"releases/argus/1.7.5/packages/{rpm.name}": rpm.read_bytes()})
    problems = [p for p in app.validate(str(story.path), "HEAD", NOW).problems if "1.7.5" in p.file]
    assert problems == []
    assert cli.main(["--repo", str(story.path), "release", "new", "argus", "1.7.5", "--package", str(rpm)]) == 2
    assert "releases/argus/1.7.5/release.yaml exists already" in capsys.readouterr().err


def test_release_new_refuses_what_it_cannot_draft(story, tmp_path, capsys):
    rpm = build_rpm(tmp_path, "nope", "1.0", "1.el9")
    assert cli.main(["--repo", str(story.path), "release", "new", "nope", "1.0", "--package", str(rpm)]) == 2
    assert "component 'nope' is not in repos-config/distribution.yaml" in capsys.readouterr().err
    assert cli.main(["--repo", str(story.path), "release", "new", "argus", "1.9.0",
                     "--package", "https://user:secret@argus.example.org/argus-pap-1.9.0-1.el9.noarch.rpm"]) == 2
    assert "the URL carries credentials" in capsys.readouterr().err
    text = tmp_path / "notes.txt"
    text.write_text("not a package")
    assert cli.main(["--repo", str(story.path), "release", "new", "argus", "1.9.0", "--package", str(text)]) == 2
    assert "neither .rpm nor .deb" in capsys.readouterr().err
