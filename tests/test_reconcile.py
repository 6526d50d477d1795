"""reconcile end to end: real git history, real createrepo_c and gpg, a real HTTP server, and
real dnf and apt reading what was published, at every step of a release's life."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clients import Apt, Dnf, repodata
from conftest import ARC, TOP, arc_packages, arc_release, report_done, verification
from servers import FileServer

from controller import app
from controller.core.model import Channel, State
from controller.errors import Transient
from controller.notify.mail import SmtpSettings
from controller.publish.lease import leased
from controller.publish.local import LocalTarget
from controller.reconcile import Options, make_plan, reconcile
from controller.sources.fetch import FetchPolicy

RPM = "arc-ce-6.19.0-1.el9"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pooled(publish: Path, sha256: str) -> str | None:
    """The pool file holding these bytes, relative to the publish directory."""
    found = list((publish / "pool" / sha256[:2] / sha256).glob("*"))
    return str(found[0].relative_to(publish)) if found else None


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def site(tmp_path):
    """A publish directory served over HTTP, with dnf and apt pointed at its three channels."""
    publish = tmp_path / "public"
    publish.mkdir()
    with FileServer(publish) as server:
        yield type("Site", (), {"publish": publish, "state": tmp_path / "state", "server": server,
                                "store": tmp_path / ".public-private/state",
                                "dnf": Dnf(tmp_path / "dnf", publish), "apt": Apt(tmp_path / "apt", publish)})


def run(story, site, now: str, rev: str = "HEAD", **extra):
    options = Options(str(story.path), rev, at(now), site.publish, site.state, base_url=site.server.url,
                      fetch_policy=FetchPolicy(timeout=5, attempts=2, backoff=0.01), **extra)
    return reconcile(options)


def commit_fetched_release(story, url: str) -> None:
    """The arc-ce release with its rpm fetched from ``url`` (its deb still committed)."""
    manifest = (TOP / ARC / "release.yaml").read_text().replace(
        f"path: packages/{RPM}.noarch.rpm", f"url: {url}/{RPM}.noarch.rpm")
    deb = "arc-ce_6.19.0-1_all.deb"
    story.commit("lars", "2026-11-02T09:00:00Z", {f"{ARC}/release.yaml": manifest,
                                                  f"{ARC}/packages/{deb}": (TOP / ARC / "packages" / deb).read_bytes()})


def seen(site) -> tuple[dict[str, set[str]], dict[str, str]]:
    update = site.apt.update()
    assert update.returncode == 0 and "W:" not in update.stderr, update.stderr
    return site.dnf.available(), site.apt.candidates("arc-ce")


def only_in(channel: str | None):
    rpm = {c: ({RPM} if c == channel else set()) for c in ("unverified", "staged-rollout", "production")}
    deb = {channel: "6.19.0-1"} if channel else {}
    return rpm, deb


def test_a_release_walks_every_state_and_clients_see_it_in_the_right_channel(story, site):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release(), "arc-ce 6.19.0")
    run(story, site, "2026-11-02T10:00:00Z")
    assert seen(site) == only_in("unverified")

    story.commit("ines", "2026-11-03T09:00:00Z", {f"{ARC}/verification.yaml": verification()})
    run(story, site, "2026-11-03T10:00:00Z")
    assert seen(site) == only_in("staged-rollout")

    accepted = {"site": "CESGA", "status": "rolling-out"}
    story.commit("cesga", "2026-11-03T12:00:00Z", {f"{ARC}/reports/CESGA.yaml": accepted})
    report = report_done("CESGA", "6.19.0", arc_packages())
    story.commit("cesga", "2026-11-04T09:00:00Z", {f"{ARC}/reports/CESGA.yaml": report})
    story.commit("maria", "2026-11-04T12:00:00Z", {f"{ARC}/decision.yaml": {"outcome": "success", "summary": "ok"}})
    outcome = run(story, site, "2026-11-04T13:00:00Z")
    assert outcome.plan.assessment.statuses["arc-ce/6.19.0"].state == State.APPROVED
    assert seen(site) == only_in("staged-rollout")

    outcome = run(story, site, "2026-11-12T12:00:00Z")  # five working days later, no new commit
    assert outcome.plan.assessment.statuses["arc-ce/6.19.0"].state == State.PRODUCTION
    assert seen(site) == only_in("production")
    installed = site.dnf.run("install", "arc-ce")
    assert installed.returncode == 0, installed.stderr
    assert (site.dnf.home / "root/usr/share/arc-ce/VERSION").read_text() == "arc-ce 6.19.0-1.el9\n"

    story.commit("maria", "2026-11-13T09:00:00Z", {f"{ARC}/withdrawal.yaml": {"reason": "broken CRL handling"}})
    outcome = run(story, site, "2026-11-13T10:00:00Z")
    assert outcome.plan.assessment.statuses["arc-ce/6.19.0"].state == State.WITHDRAWN
    assert seen(site) == only_in(None)
    # Withdrawn packages stay in the pool while a generation within the retention time names them.
    assert all(pooled(site.publish, p["sha256"]) for p in arc_packages())


def test_promotion_copies_no_package_bytes(story, site):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    run(story, site, "2026-11-02T10:00:00Z")
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    run(story, site, "2026-11-02T11:00:00Z")
    assert seen(site) == only_in("staged-rollout")
    # The rpm is served as its copy signed with the repository's key, stored once, by its own sha256.
    provider = sha((TOP / ARC / "packages" / f"{RPM}.noarch.rpm").read_bytes())
    [record] = (site.publish / "pool" / provider[:2] / provider).glob(f"{RPM}.noarch.rpm.signed.*")
    signed = record.name.split(".signed.")[1].split(".")[0]
    rpm = (site.publish / pooled(site.publish, signed)).read_bytes()
    copies = [p for p in site.publish.rglob("*") if p.is_file() and p.stat().st_size == len(rpm)
              and p.read_bytes() == rpm]
    assert [str(p.relative_to(site.publish)) for p in copies] == [pooled(site.publish, signed)]


def test_a_second_reconcile_changes_no_byte(story, site):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    first = run(story, site, "2026-11-02T10:00:00Z")
    assert first.changed

    def tree():
        return {str(p.relative_to(site.publish)): (p.read_bytes() if p.is_file() else os.readlink(p), p.stat().st_mtime)
                for p in sorted(site.publish.rglob("*")) if p.is_file() or p.is_symlink()}

    before = tree()
    second = run(story, site, "2026-11-02T10:05:00Z")
    assert not second.changed and second.fetched == []
    assert tree() == before


def test_a_checksum_mismatch_keeps_the_release_out_of_every_channel(story, site, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    data = (TOP / ARC / "packages" / f"{RPM}.noarch.rpm").read_bytes()
    (mirror / f"{RPM}.noarch.rpm").write_bytes(data[:-1] + b"X")  # same size, other bytes
    manifest = (TOP / ARC / "release.yaml").read_text()
    with FileServer(mirror) as provider:
        manifest = manifest.replace(f"path: packages/{RPM}.noarch.rpm", f"url: {provider.url}/{RPM}.noarch.rpm")
        story.commit("lars", "2026-11-02T09:00:00Z", {f"{ARC}/release.yaml": manifest,
                                                      f"{ARC}/packages/arc-ce_6.19.0-1_all.deb":
                                                      (TOP / ARC / "packages/arc-ce_6.19.0-1_all.deb").read_bytes()})
        outcome = run(story, site, "2026-11-02T10:00:00Z")
    assert "sha256 is" in outcome.failures["arc-ce/6.19.0"]
    status = app.status(str(story.path), "HEAD", at("2026-11-02T10:00:00Z"), site.publish,
                        json.loads((site.store / "ingest-failures.json").read_text()))
    assert status.statuses["arc-ce/6.19.0"].state == State.INGEST_FAILED
    assert "sha256 is" in status.statuses["arc-ce/6.19.0"].waiting_for
    assert all(not entries for c in Channel for entries in
               json.loads((site.publish / c.value / "manifest.json").read_text())["files"].values())
    assert not pooled(site.publish, sha(data[:-1] + b"X"))


def test_a_fetch_that_fails_then_succeeds(story, site, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / f"{RPM}.noarch.rpm").write_bytes((TOP / ARC / "packages" / f"{RPM}.noarch.rpm").read_bytes())
    with FileServer(mirror) as provider:
        commit_fetched_release(story, provider.url)
        provider.fail_next = 2  # as many as one run attempts
        failed = run(story, site, "2026-11-02T10:00:00Z")
        assert "503" in failed.failures["arc-ce/6.19.0"]
        provider.truncate_next = 1  # the next answer is cut off half way: resumed with Range
        recovered = run(story, site, "2026-11-02T11:00:00Z")
    assert recovered.failures == {} and f"{RPM}.noarch.rpm" in recovered.fetched
    assert any(rng and rng.startswith("bytes=") for _, rng in provider.requests)
    assert recovered.plan.assessment.statuses["arc-ce/6.19.0"].state == State.UNVERIFIED
    assert not (site.store / "ingest-failures.json").exists() or \
        json.loads((site.store / "ingest-failures.json").read_text()) == {}


def test_a_run_killed_before_the_switch_leaves_the_old_generation_served(story, site):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    run(story, site, "2026-11-02T10:00:00Z")
    roots = {p: p.read_bytes() for p in site.publish.rglob("*") if p.name in ("metalink.xml", "InRelease")}
    story.commit("ines", "2026-11-03T09:00:00Z", {f"{ARC}/verification.yaml": verification()})

    def killed(channel, publication):
        raise KeyboardInterrupt  # the process dies here: the publication built, nothing written

    with pytest.raises(KeyboardInterrupt):
        run(story, site, "2026-11-03T10:00:00Z", before_switch=killed)
    assert {p: p.read_bytes() for p in roots} == roots
    assert seen(site)[0]["unverified"] == {RPM}  # clients still get the old, complete generation
    converged = run(story, site, "2026-11-03T10:00:00Z")
    assert converged.plan.actions
    assert seen(site) == only_in("staged-rollout")


def test_two_reconciles_at_once_the_second_waits_or_says_so(story, site, tmp_path):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    target = LocalTarget(site.publish)
    # Another controller, with a state directory of its own, holds the target's lease.
    with leased(target, 0), pytest.raises(Transient, match="another reconcile is publishing"):
        run(story, site, "2026-11-02T10:00:00Z")
    assert not (site.publish / "unverified").exists()
    acquired = threading.Event()

    def hold():
        with leased(target, 0):
            acquired.set()
            time.sleep(1)

    thread = threading.Thread(target=hold)
    thread.start()
    acquired.wait(5)
    outcome = run(story, site, "2026-11-02T10:00:00Z", wait=10)
    thread.join()
    assert outcome.plan.actions
    assert not (site.publish / ".rolloutctl-lease.json").exists()  # released


def test_reconcile_at_an_older_commit_reproduces_that_days_channels(story, site):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    older = story.git.git("rev-parse", "HEAD")
    story.commit("ines", "2026-11-03T09:00:00Z", {f"{ARC}/verification.yaml": verification()})
    run(story, site, "2026-11-03T10:00:00Z")
    assert seen(site) == only_in("staged-rollout")
    run(story, site, "2026-11-02T10:00:00Z", rev=older)
    # A client that saw the newer metadata rightly refuses an older Release (apt's rollback
    # protection); a new client sees that day's channels.
    site.apt = Apt(site.apt.home.parent / "apt-new", site.publish)
    assert seen(site) == only_in("unverified")


def test_a_tampered_repomd_is_refused_by_dnf(story, site):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    run(story, site, "2026-11-02T10:00:00Z")
    repomd = repodata(site.publish, "unverified") / "repomd.xml"
    text = repomd.read_text()
    repomd.write_text(text.replace("<revision>", "<revision>1"))
    done = site.dnf.run("repoquery", "--available")
    assert done.returncode != 0 and "repomd.xml" in done.stderr and "unverified" in done.stderr, done.stderr
    # Also with the metalink's checksum made to match: the signature still refuses it.
    metalink = site.publish / "unverified/umd5-el9/metalink.xml"
    metalink.write_text(re.sub(r'(<hash type="sha256">)\w+', lambda m: m.group(1) + sha(repomd.read_bytes()),
                               metalink.read_text()).replace(f"<size>{len(text)}<", f"<size>{len(text) + 1}<"))
    done = site.dnf.run("repoquery", "--available")
    assert done.returncode != 0 and ("GPG" in done.stderr or "signature" in done.stderr.lower()), done.stderr


def test_the_cli_reconciles_then_says_nothing_to_do(story, site):
    import subprocess
    import sys
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    command = [sys.executable, "-m", "controller", "--repo", str(story.path), "reconcile", "--now",
               "2026-11-02T10:00:00Z", "--publish-dir", str(site.publish), "--state-dir", str(site.state)]
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 0 and "publish unverified" in first.stdout, first.stderr
    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == 0 and second.stdout.startswith("nothing to do")
    plan = subprocess.run(command[:5] + ["plan"] + command[6:], capture_output=True, text=True)
    assert plan.returncode == 0 and "nothing to do" in plan.stdout


def test_a_commit_that_changes_nothing_the_model_reads_is_skipped(story, site):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    assert run(story, site, "2026-11-02T10:00:00Z").plan is not None
    story.commit("lars", "2026-11-02T10:30:00Z", {"NOTES.md": "Read by no reconcile.\n"})
    assert run(story, site, "2026-11-02T11:00:00Z").plan is None
    story.commit("lars", "2026-11-02T11:30:00Z", {"NOTES.md": "Still read by none.\n"})
    story.commit("lars", "2026-11-02T11:40:00Z", {"adopters/extra-note.txt": "under adopters/\n"})
    assert run(story, site, "2026-11-02T12:00:00Z").plan is not None


def test_apt_valid_until_is_renewed_only_near_expiry(story, site):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    run(story, site, "2026-11-02T10:00:00Z")
    assert not run(story, site, "2026-11-05T10:00:00Z").changed
    renewed = run(story, site, "2026-11-07T12:00:00Z").plan.actions
    assert renewed and {a.reason for a in renewed} == {"apt Valid-Until renewal"}
    release = (site.publish / "dists/umd5-bookworm-unverified/Release").read_text()
    assert "Valid-Until: Sat, 14 Nov 2026" in release


def test_published_metadata_carries_an_advisory_per_release(story, site):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    run(story, site, "2026-11-02T10:00:00Z")
    updateinfo = next(repodata(site.publish, "unverified").glob("*-updateinfo.xml.gz"))
    import gzip
    text = gzip.decompress(updateinfo.read_bytes()).decode()
    assert 'type="enhancement"' in text and "<id>UMD5-arc-ce-6.19.0</id>" in text
    assert f"{RPM}.noarch.rpm" in text
    release = (site.publish / "dists/umd5-bookworm-unverified/Release").read_text()
    assert "MD5Sum" not in release and "SHA256:" in release and "Acquire-By-Hash: yes" in release
    assert "Suite: unverified\nCodename: umd5-bookworm-unverified\n" in release
    assert Path(site.publish / "dists/umd5-bookworm-unverified/InRelease").read_text().startswith(
        "-----BEGIN PGP SIGNED MESSAGE-----")


def test_apt_enforces_valid_until_and_reconcile_keeps_it_fresh(story, site, tmp_path):
    """At the real clock, with apt's date checks on: fresh metadata is accepted, and metadata
    signed ten days ago has expired and is refused."""
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    real_now = datetime.now(UTC).replace(microsecond=0)
    strict = Apt(tmp_path / "strict", site.publish, check_dates=True)
    run(story, site, (real_now - timedelta(days=10)).isoformat())
    refused = strict.update()
    assert "expired" in refused.stderr
    run(story, site, real_now.isoformat())  # within the renewal margin: re-signed
    accepted = strict.update()
    assert accepted.returncode == 0 and "expired" not in accepted.stderr, accepted.stderr
    assert strict.candidates("arc-ce") == {"unverified": "6.19.0-1"}


def test_file_urls_inside_the_configured_roots_are_fetched(story, site, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rpm = TOP / ARC / "packages" / f"{RPM}.noarch.rpm"
    (mirror / rpm.name).write_bytes(rpm.read_bytes())
    config = (story.path / "repos-config/repositories.yaml").read_text() + f"file_roots: [{mirror}]\n"
    story.commit("maria", "2026-11-01T09:00:00Z", {"repos-config/repositories.yaml": config})
    manifest = (TOP / ARC / "release.yaml").read_text().replace(f"path: packages/{RPM}.noarch.rpm",
                                                                f"url: file://{mirror}/{RPM}.noarch.rpm")
    story.commit("lars", "2026-11-02T09:00:00Z", {f"{ARC}/release.yaml": manifest,
                                                  f"{ARC}/packages/arc-ce_6.19.0-1_all.deb":
                                                  (TOP / ARC / "packages/arc-ce_6.19.0-1_all.deb").read_bytes()})
    outcome = run(story, site, "2026-11-02T10:00:00Z")
    assert outcome.failures == {} and f"{RPM}.noarch.rpm" in outcome.fetched


def test_a_new_base_url_rewrites_the_client_configurations(story, site):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    run(story, site, "2026-11-02T10:00:00Z")
    config = (story.path / "repos-config/repositories.yaml").read_text().replace(
        "http://localhost:8080", "https://repo.umd.example.org")
    story.commit("maria", "2026-11-02T11:00:00Z", {"repos-config/repositories.yaml": config})
    options = Options(str(story.path), "HEAD", at("2026-11-02T12:00:00Z"), site.publish, site.state)
    outcome = reconcile(options)
    assert {a.reason for a in outcome.plan.actions} == {"base URL or signing key changed"}
    assert "metalink=https://repo.umd.example.org/unverified/umd5-el9/metalink.xml" in \
        (site.publish / "unverified/umd5-el9.repo").read_text()


def test_a_newer_version_reaching_production_obsoletes_the_older_one(story, site):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    run(story, site, "2026-11-02T11:00:00Z")
    assert seen(site) == only_in("staged-rollout")
    # 6.19.1: an emergency that skips staged rollout (real 6.19.1 packages, tests/data/packages/).
    newer_dir = "releases/arc-ce/6.19.1"
    fixtures = TOP / "tests/data/packages"
    newer = (TOP / ARC / "release.yaml").read_text().replace("6.19.0", "6.19.1").replace(
        "category: minor", "category: emergency\nemergency:\n  justification: Actively exploited flaw, cannot wait.\n"
        "  skip_staged_rollout: true")
    for old in (TOP / ARC / "packages").iterdir():
        data = (fixtures / old.name.replace("6.19.0", "6.19.1")).read_bytes()
        newer = newer.replace(hashlib.sha256(old.read_bytes()).hexdigest(), hashlib.sha256(data).hexdigest())
        newer = newer.replace(f"size: {old.stat().st_size}\n", f"size: {len(data)}\n")
    files = {f"{newer_dir}/release.yaml": newer}
    files.update({f"{newer_dir}/packages/{p.name}": p.read_bytes() for p in fixtures.iterdir()})
    story.commit("lars", "2026-11-03T09:00:00Z", files)
    story.commit("ines", "2026-11-03T10:00:00Z", {f"{newer_dir}/verification.yaml": verification()})
    story.commit("maria", "2026-11-03T11:00:00Z", {f"{newer_dir}/decision.yaml": {
        "outcome": "success", "summary": "emergency", "skip_staged_rollout": True}})
    outcome = run(story, site, "2026-11-03T12:00:00Z")
    states = {k: s.state for k, s in outcome.plan.assessment.statuses.items()}
    assert states == {"arc-ce/6.19.0": State.OBSOLETED, "arc-ce/6.19.1": State.PRODUCTION}
    staged = json.loads((site.publish / "staged-rollout/manifest.json").read_text())["files"]
    assert staged == {"umd5-el9": [], "umd5-bookworm": []}


def test_a_download_larger_than_the_manifest_says_is_cut_off(story, site, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    data = (TOP / ARC / "packages" / f"{RPM}.noarch.rpm").read_bytes()
    (mirror / f"{RPM}.noarch.rpm").write_bytes(data + b"\0" * 4096)
    with FileServer(mirror) as provider:
        commit_fetched_release(story, provider.url)
        outcome = run(story, site, "2026-11-02T10:00:00Z")
    assert f"more than the {len(data)} bytes" in outcome.failures["arc-ce/6.19.0"]
    assert not pooled(site.publish, sha(data)) and not list(site.publish.rglob("*.part"))
    assert all(p.stat().st_size <= len(data) for p in (site.state / "incoming").glob("*.part"))


def test_the_key_named_in_repos_config_signs(story, site, tmp_path):
    home = tmp_path / "keys"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    import subprocess
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "UMD signing <sign@umd.example.org>",
                    "ed25519", "sign", "1y"], env=env, check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys"], env=env, capture_output=True,
                             text=True, check=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    config = (story.path / "repos-config/repositories.yaml").read_text() + f"signing_key: {fingerprint}\n"
    story.commit("maria", "2026-11-01T09:00:00Z", {"repos-config/repositories.yaml": config})
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    run(story, site, "2026-11-02T10:00:00Z", gnupg_home=home)
    verify = subprocess.run(["gpg", "--batch", "--status-fd", "1", "--verify",
                             str(repodata(site.publish, "unverified") / "repomd.xml.asc"),
                             str(repodata(site.publish, "unverified") / "repomd.xml")],
                            env=env, capture_output=True, text=True)
    assert f"VALIDSIG {fingerprint}" in verify.stdout
    assert seen(site)[0]["unverified"] == {RPM}
    assert not (site.state / "throwaway-gnupg").exists()


def test_a_package_whose_header_is_not_what_the_manifest_says_is_refused(story, site):
    # The bytes of arc-ce 6.19.1 under the name, checksum and size of a 6.19.0 entry.
    data = (TOP / "tests/data/packages" / "arc-ce-6.19.1-1.el9.noarch.rpm").read_bytes()
    old = (TOP / ARC / "packages" / f"{RPM}.noarch.rpm")
    manifest = (TOP / ARC / "release.yaml").read_text().replace(
        hashlib.sha256(old.read_bytes()).hexdigest(), hashlib.sha256(data).hexdigest()).replace(
        f"size: {old.stat().st_size}\n", f"size: {len(data)}\n")
    files = {**arc_release(), f"{ARC}/release.yaml": manifest, f"{ARC}/packages/{RPM}.noarch.rpm": data}
    story.commit("lars", "2026-11-02T09:00:00Z", files)
    outcome = run(story, site, "2026-11-02T10:00:00Z")
    reason = outcome.failures["arc-ce/6.19.0"]
    assert "its header says arc-ce 0 6.19.1 1.el9 noarch, the manifest says arc-ce 0 6.19.0 1.el9 noarch" in reason
    assert not pooled(site.publish, sha(data))


def test_an_rpm_whose_payload_is_damaged_fails_its_release_not_the_run(story, site):
    # A provider's broken build: the header reads fine (the manifest's checksum is of these very
    # bytes), but the payload no longer matches its digest. rpm's check after signing refuses it.
    old = TOP / ARC / "packages" / f"{RPM}.noarch.rpm"
    data = bytearray(old.read_bytes())
    data[-10] ^= 0xFF
    data = bytes(data)
    manifest = (TOP / ARC / "release.yaml").read_text().replace(
        hashlib.sha256(old.read_bytes()).hexdigest(), hashlib.sha256(data).hexdigest())
    files = {**arc_release(), f"{ARC}/release.yaml": manifest, f"{ARC}/packages/{RPM}.noarch.rpm": data}
    story.commit("lars", "2026-11-02T09:00:00Z", files)
    outcome = run(story, site, "2026-11-02T10:00:00Z")  # the run ends; the release alone is refused
    reason = outcome.failures["arc-ce/6.19.0"]
    assert f"{RPM}.noarch.rpm" in reason and "NOT OK" in reason and "new build" in reason, reason
    assert str(site.state) not in reason
    assert not pooled(site.publish, sha(data))
    assert not list((site.state).rglob(f"{sha(data)}.part"))  # no signed leftover waits in staging


def test_plan_names_every_action_and_writes_nothing(story, tmp_path):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    publish, state = tmp_path / "public", tmp_path / "state"
    planned = make_plan(Options(str(story.path), "HEAD", at("2026-11-02T10:00:00Z"), publish, state,
                                smtp=SmtpSettings("127.0.0.1", 9)))
    lines = planned.plan.describe()
    assert f"fetch {RPM}.noarch.rpm for arc-ce/6.19.0 from packages/{RPM}.noarch.rpm" in lines
    assert {"write status.json", "write beta.json"} <= set(lines)
    assert any(line.startswith("publish unverified: first publication") for line in lines)
    assert any(line.startswith("publish the site:") for line in lines)
    assert not publish.exists() and not state.exists()  # not even the parse cache
