""".deb packages as dpkg-deb writes them today (gzip, xz, zstd, plain members), and one that is
not a package but a decompression bomb."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from builders import build_deb, deb_bomb
from clients import Apt
from conftest import TOP
from servers import FileServer

from controller.core.model import State
from controller.errors import BadInput
from controller.publish import debfile
from controller.reconcile import Options, reconcile

ARC = "releases/arc-ce/6.19.0"


@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd", "none"])
def test_dpkg_deb_packages_are_read_whatever_their_compression(tmp_path, compression):
    path = build_deb(tmp_path, "arc-ce", "1:6.20.0-2", compression)
    assert debfile.deb_identity(path.read_bytes(), path.name) == ("arc-ce", "1:6.20.0-2", "all")
    fields = dict(debfile.control_fields(path.read_bytes(), path.name))
    assert fields["Description"] == "arc-ce for the tests\n A package built by the test suite."


def test_a_control_member_that_expands_to_512_mb_is_refused_as_a_bomb():
    bomb = deb_bomb()
    assert len(bomb) < 1 << 20  # half a gigabyte once expanded
    with pytest.raises(BadInput) as refused:
        debfile.deb_identity(bomb, "bomb_1.0_all.deb")
    assert "bomb_1.0_all.deb: control.tar.gz expands past" in refused.value.message
    assert "decompression bomb" in refused.value.message


def test_a_damaged_deb_is_refused_with_the_file_named(tmp_path):
    path = build_deb(tmp_path, "arc-ce", "6.20.0-1", "zstd")
    data = path.read_bytes()
    with pytest.raises(BadInput, match=r"arc-ce_6.20.0-1_all.deb: control.tar.zst is cut short"):
        debfile.control_fields(data[:200], path.name)
    start = data.index(b"control.tar.zst") + 60
    with pytest.raises(BadInput, match=r"arc-ce_6.20.0-1_all.deb: control.tar.zst is damaged"):
        debfile.control_fields(data[:start] + b"\0" * 8 + data[start + 8:], path.name)
    with pytest.raises(BadInput, match="not an ar archive"):
        debfile.control_fields(b"PK\x03\x04 a zip file", "x.deb")


@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd", "none"])
def test_the_control_fields_are_read_without_reading_the_data_member(tmp_path, compression):
    path = build_deb(tmp_path, "arc-ce", "1:6.20.0-2", compression)
    whole = debfile.control_fields(path.read_bytes(), path.name)
    assert debfile.control_fields_at(path, path.name) == whole
    # Whatever follows the control member is never read: garbage there changes nothing.
    data = path.read_bytes()
    at = data.index(b"data.tar")
    path.write_bytes(data[:at] + b"\xff" * (len(data) - at))
    assert debfile.control_fields_at(path, path.name) == whole
    assert debfile.identity(whole) == ("arc-ce", "1:6.20.0-2", "all")


def test_a_deb_cut_inside_its_control_member_is_refused_when_read_from_disk(tmp_path):
    path = build_deb(tmp_path, "arc-ce", "6.20.0-1", "zstd")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(BadInput, match=r"arc-ce_6.20.0-1_all.deb: control.tar.zst is cut short"):
        debfile.control_fields_at(path, path.name)
    path.write_bytes(b"!<arch>\n" + b"debian-binary   " + b"x" * 44)
    with pytest.raises(BadInput, match="arc-ce_6.20.0-1_all.deb"):
        debfile.control_fields_at(path, path.name)


def _arc_with_deb(data: bytes) -> dict:
    """The example's arc-ce release with ``data`` in place of its deb, the manifest to match."""
    original = TOP / ARC / "packages/arc-ce_6.19.0-1_all.deb"
    manifest = (TOP / ARC / "release.yaml").read_text()
    manifest = manifest.replace(hashlib.sha256(original.read_bytes()).hexdigest(), hashlib.sha256(data).hexdigest())
    manifest = manifest.replace(f"size: {original.stat().st_size}\n", f"size: {len(data)}\n")
    rpm = f"{ARC}/packages/arc-ce-6.19.0-1.el9.noarch.rpm"
    return {f"{ARC}/release.yaml": manifest, rpm: (TOP / rpm).read_bytes(), f"{ARC}/packages/{original.name}": data}


def _reconcile(story, tmp_path, base_url=None):
    return reconcile(Options(str(story.path), "HEAD", datetime(2026, 11, 2, 10, tzinfo=UTC), tmp_path / "public",
                             tmp_path / "state", base_url=base_url))


def test_a_zstd_deb_is_published_and_apt_reads_it(story, tmp_path):
    story.commit("lars", "2026-11-02T09:00:00Z",
                 _arc_with_deb(build_deb(tmp_path, "arc-ce", "6.19.0-1", "zstd").read_bytes()))
    (tmp_path / "public").mkdir()
    with FileServer(tmp_path / "public") as server:
        assert _reconcile(story, tmp_path, server.url).failures == {}
        apt = Apt(tmp_path / "apt", tmp_path / "public")
        assert apt.update().returncode == 0
        assert apt.candidates("arc-ce") == {"unverified": "6.19.0-1"}


def test_a_bomb_in_a_release_fails_its_ingestion_and_stays_out_of_the_pool(story, tmp_path):
    bomb = deb_bomb(64 << 20)
    story.commit("lars", "2026-11-02T09:00:00Z", _arc_with_deb(bomb))
    outcome = _reconcile(story, tmp_path)
    assert "control.tar.gz expands past" in outcome.failures["arc-ce/6.19.0"]
    assert outcome.plan.assessment.statuses["arc-ce/6.19.0"].state == State.INGEST_FAILED
    bomb_sha = hashlib.sha256(bomb).hexdigest()
    assert not (tmp_path / "public/pool" / bomb_sha[:2] / bomb_sha).exists()
