"""Signed packages: every rpm is served as a copy signed with the repository's key, stored under
its own sha256 beside a record of what the provider shipped, and dnf enforcing both gpgcheck and
repo_gpgcheck installs from every channel of the worked example."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import datetime

import pytest
from clients import Dnf
from servers import FileServer

from controller.reconcile import Options, reconcile

NOW = datetime.fromisoformat("2026-11-24T12:00:00+00:00")
CHANNELS = ("unverified", "staged-rollout", "production")


@pytest.fixture(scope="module")
def published(example_repo, tmp_path_factory):
    root = tmp_path_factory.mktemp("signed")
    (root / "public").mkdir()
    with FileServer(root / "public") as server:
        outcome = reconcile(Options(str(example_repo), "HEAD", NOW, root / "public", root / "state",
                                    base_url=server.url))
        assert not outcome.failures
        yield root, server.url


def test_dnf_enforcing_both_checks_installs_from_every_channel(published):
    root, url = published
    for channel in CHANNELS:
        config = (root / "public" / channel / "umd5-el9.repo").read_text()
        assert "\ngpgcheck=1\n" in config and "\nrepo_gpgcheck=1\n" in config
        dnf = Dnf(root / f"dnf-{channel}", url)
        names = dnf.run("repoquery", "--available", "--repo", f"umd5-el9-{channel}", "--qf", "%{name}")
        assert names.returncode == 0, names.stderr
        name = sorted(set(names.stdout.split()))[0]
        installed = dnf.run("--setopt=gpgcheck=1", "--setopt=repo_gpgcheck=1", "install", "--repo",
                            f"umd5-el9-{channel}", name)
        assert installed.returncode == 0, installed.stderr
        assert subprocess.run(["rpm", "--root", str(dnf.home / "root"), "-q", name]).returncode == 0


def test_the_pool_keeps_what_the_provider_shipped_and_serves_the_signed_copy(published, example_repo):
    root, _ = published
    provider = (example_repo / "releases/arc-ce/6.19.0/packages/arc-ce-6.19.0-1.el9.noarch.rpm").read_bytes()
    original = hashlib.sha256(provider).hexdigest()
    [record] = (root / "public/pool" / original[:2] / original).glob("*.signed.*")
    signed, size = record.name.split(".signed.")[1].split(".")
    [copy] = (root / "public/pool" / signed[:2] / signed).glob("*.rpm")
    assert signed != original and copy.stat().st_size == int(size)
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == signed
    # The copy's signature is the repository key's: rpm checks it against the published key.
    rpmdb = root / "rpmdb"
    rpmdb.mkdir()
    subprocess.run(["rpmkeys", "--dbpath", str(rpmdb), "--import", str(root / "public/staged-rollout/key.asc")],
                   check=True)
    checked = subprocess.run(["rpmkeys", "--dbpath", str(rpmdb), "--checksig", "-v", str(copy)], capture_output=True,
                             text=True)
    assert checked.returncode == 0 and "Signature, key ID" in checked.stdout and ": OK" in checked.stdout
    assert "NOKEY" not in checked.stdout + checked.stderr
    # The metadata names the signed copy: its checksum and size.
    primary = subprocess.run(["zgrep", "-h", "-A3", "arc-ce-6.19.0", *map(str, (root / "public").rglob(
        "*primary.xml.gz"))], capture_output=True, text=True).stdout
    assert signed in primary and original not in primary


def _key(home, name: str) -> str:
    subprocess.run(["gpg", "--batch", "--homedir", str(home), "--passphrase", "", "--quick-gen-key",
                    f"{name} <{name}@umd.example.org>", "rsa2048", "sign", "2y"], check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--batch", "--homedir", str(home), "--with-colons", "--list-secret-keys"],
                             capture_output=True, text=True, check=True).stdout
    return [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr")][-1]


def test_during_a_key_rollover_both_keys_are_published_and_both_signatures_install(story, tmp_path):
    from conftest import TOP
    from test_reconcile import arc_release

    home = tmp_path / "keys"
    home.mkdir(mode=0o700)
    old, new = _key(home, "umd-2026"), _key(home, "umd-2027")
    config = (story.path / "repos-config/repositories.yaml").read_text()
    story.commit("maria", "2026-11-01T09:00:00Z", {"repos-config/repositories.yaml": config + f"signing_key: {old}\n"})
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    publish = tmp_path / "public"
    publish.mkdir()
    unicore = "releases/unicore-server/9.2.1"
    try:
        with FileServer(publish) as server:
            def run(when: str):
                outcome = reconcile(Options(str(story.path), "HEAD", datetime.fromisoformat(when), publish,
                                            tmp_path / "state", base_url=server.url, gnupg_home=home))
                assert not outcome.failures, outcome.failures

            run("2026-11-02T10:00:00+00:00")
            # The rollover: the new key signs from now on, the old one stays published beside it.
            story.commit("maria", "2026-11-03T09:00:00Z", {"repos-config/repositories.yaml": config + (
                f"signing_key: {new}\nretiring_keys: [{old}]\n")})
            story.commit("jonas", "2026-11-03T10:00:00Z", {
                f"{unicore}/release.yaml": (TOP / unicore / "release.yaml").read_bytes(),
                **{f"{unicore}/packages/{p.name}": p.read_bytes() for p in (TOP / unicore / "packages").iterdir()}})
            run("2026-11-03T11:00:00+00:00")
            shown = subprocess.run(["gpg", "--show-keys", "--with-colons", str(publish / "unverified/key.asc")],
                                   capture_output=True, text=True).stdout
            assert {line.split(":")[9] for line in shown.splitlines() if line.startswith("fpr")} >= {old, new}
            dnf = Dnf(tmp_path / "dnf", server.url)
            installed = dnf.run("install", "--repo", "umd5-el9-unverified", "arc-ce", "unicore-server")
            assert installed.returncode == 0, installed.stderr
            signers = subprocess.run(["rpm", "--root", str(dnf.home / "root"), "-q", "--qf",
                                      "%{NAME} %{RSAHEADER:pgpsig}\\n", "arc-ce", "unicore-server"],
                                     capture_output=True, text=True).stdout
            assert old[-16:].lower() in signers.splitlines()[0].lower()  # signed before the rollover
            assert new[-16:].lower() in signers.splitlines()[1].lower()  # signed after it
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)
