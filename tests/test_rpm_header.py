"""The rpm header signature made in this process: laid out as rpmsign lays it out, accepted by
rpm's own check against the published key, and refused (never half-written, never admitted) for
a damaged package."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import TOP

from controller.errors import ControllerError
from controller.publish import rpmheader
from controller.publish.signing import Signer, configured_signer, stop_agent

PACKAGES = sorted((TOP / "releases").glob("*/*/packages/*.rpm"))[:4]


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    home = tmp_path_factory.mktemp("rpmkey")
    home.chmod(0o700)
    subprocess.run(["gpg", "--batch", "--homedir", str(home), "--passphrase", "", "--quick-gen-key",
                    "rpm signer <rpm@umd.example.org>", "rsa2048", "sign", "2y"], check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--batch", "--homedir", str(home), "--with-colons", "--list-secret-keys"],
                             capture_output=True, text=True, check=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    with configured_signer(home, fingerprint) as made:
        yield made
    stop_agent(home)


def _checked(signer: Signer, path: Path, tmp_path: Path) -> str:
    db = tmp_path / "rpmdb"
    if not db.exists():
        db.mkdir()
        (tmp_path / "key.asc").write_bytes(signer.public_key())
        subprocess.run(["rpmkeys", "--dbpath", str(db), "--import", str(tmp_path / "key.asc")], check=True)
    return subprocess.run(["rpmkeys", "--dbpath", str(db), "--checksig", "-v", str(path)], capture_output=True,
                          text=True).stdout


def test_the_key_is_used_here_and_the_signature_is_laid_out_as_rpmsign_does(signer, tmp_path):
    assert signer._in_process_key() is not None  # a passphrase-less RSA key: signed without rpmsign
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    for source in PACKAGES:
        shutil.copyfile(source, ours / source.name)
        shutil.copyfile(source, theirs / source.name)
    signer.sign_rpms(sorted(ours.iterdir()))
    signer._rpmsign(sorted(theirs.iterdir()))  # what rpmsign itself writes, for comparison
    for source in PACKAGES:
        mine, rpms = (ours / source.name).read_bytes(), (theirs / source.name).read_bytes()
        assert len(mine) == len(rpms) == source.stat().st_size  # signed in place, in the reserved space
        a, b = rpmheader.parse(mine), rpmheader.parse(rpms)
        assert [(e.tag, e.type, e.count) for e in a.entries] == [(e.tag, e.type, e.count) for e in b.entries]
        assert mine[a.signature_end:] == rpms[b.signature_end:]  # main header and payload untouched
        assert rpmheader.RSAHEADER in {e.tag for e in a.entries}
        shown = _checked(signer, ours / source.name, tmp_path)
        assert "Header V4 RSA/SHA256 Signature" in shown and ": OK" in shown and "NOT OK" not in shown


def test_a_layout_read_back_is_written_byte_for_byte():
    for source in PACKAGES:
        data = source.read_bytes()
        package = rpmheader.parse(data)
        assert rpmheader.build(list(package.entries), package.signature_end - rpmheader.LEAD) == \
            data[rpmheader.LEAD:package.signature_end]


def test_a_package_without_reserved_space_is_written_anew_and_verifies(signer, tmp_path):
    source = PACKAGES[0]
    data = source.read_bytes()
    package = rpmheader.parse(data)
    header = rpmheader.build([e for e in package.entries if e.tag != rpmheader.RESERVEDSPACE], None)
    rest = data[package.signature_end + (-package.signature_end) % 8:]
    path = tmp_path / source.name
    path.write_bytes(data[:rpmheader.LEAD] + header + b"\0" * ((-len(header)) % 8) + rest)
    assert rpmheader.RESERVEDSPACE not in {e.tag for e in rpmheader.parse(path.read_bytes()).entries}
    signer.sign_rpms([path])
    assert path.read_bytes().endswith(rest)
    shown = _checked(signer, path, tmp_path)
    assert "Header V4 RSA/SHA256 Signature" in shown and "NOT OK" not in shown


def test_a_damaged_header_is_refused_with_the_file_named(signer, tmp_path):
    source = PACKAGES[0]
    data = bytearray(source.read_bytes())
    package = rpmheader.parse(bytes(data))
    at = package.signature_end + (-package.signature_end) % 8 + len(package.header) - 3
    data[at] ^= 0xFF  # inside the main header's data: its SHA256 digest no longer matches
    path = tmp_path / source.name
    path.write_bytes(bytes(data))
    with pytest.raises(rpmheader.NotSignable, match="damaged"):
        rpmheader.parse(bytes(data))
    refused = signer.sign_rpms([path])
    assert list(refused) == [str(path)] and "corrupt" in refused[str(path)]
    with pytest.raises(ControllerError) as caught:
        signer.sign_rpm(path)
    assert source.name in str(caught.value) + str(caught.value.hint)


def test_a_cut_file_is_not_signable():
    data = PACKAGES[0].read_bytes()
    for cut in (50, rpmheader.LEAD + 20, len(data) // 3):
        with pytest.raises(rpmheader.NotSignable):
            rpmheader.parse(data[:cut])
