"""Publishing to S3-compatible object storage: a real SeaweedFS on loopback, real dnf and apt
reading the bucket over its HTTP endpoint, as sites would read it behind a CDN."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

from clients import Apt, Dnf, published_file
from servers import seaweedfs  # noqa: F401  (the session's object store)
from test_notify import smtp  # noqa: F401  (the SMTP server fixture)

from controller.reconcile import Options, reconcile

TOP = Path(__file__).resolve().parent.parent

NOW = datetime.fromisoformat("2026-11-24T12:00:00+00:00")


def test_the_example_on_object_storage_installs_with_dnf_and_apt(example_repo, seaweedfs, tmp_path, smtp):  # noqa: F811
    inbox, _, settings = smtp
    prefix = f"example-{uuid.uuid4().hex[:8]}"
    base = seaweedfs.url("public", prefix)

    def run(state: str):
        return reconcile(Options(str(example_repo), "HEAD", NOW, f"s3://public/{prefix}", tmp_path / state,
                                 base_url=base, private=f"s3://private/{prefix}", smtp=settings))

    first = run("state")
    assert {a.channel.value for a in first.plan.actions} == {"unverified", "staged-rollout", "production"}
    sent = inbox.subjects()
    assert first.notified and len(sent) == len(first.notified)
    dnf = Dnf(tmp_path / "dnf", base)
    installed = dnf.run("install", "argus-pap")
    assert installed.returncode == 0, installed.stderr
    config = (dnf.home / "repos/production.repo").read_text()
    assert "metalink=" in config and "repo_gpgcheck=1" in config
    apt = Apt(tmp_path / "apt", base)
    update = apt.update()
    assert "Signed-By:" in (apt.home / "sources/staged-rollout.sources").read_text()
    assert update.returncode == 0 and "W:" not in update.stderr, update.stderr
    assert apt.candidates("arc-ce") == {"staged-rollout": "6.19.0-1"}
    installed = apt.install("arc-ce")
    assert installed.returncode == 0, installed.stderr
    assert "ii  arc-ce" in subprocess.run(["dpkg", f"--admindir={apt.home}/root/var/lib/dpkg", "-l", "arc-ce"],
                                          capture_output=True, text=True).stdout

    fresh = run("fresh-state")  # a new runner with an empty disk: the bucket already matches
    assert not fresh.changed and fresh.fetched == [] and not fresh.plan.plan.describe()
    assert fresh.notified == [] and inbox.subjects() == sent  # and the ledger in the bucket: nothing twice


def test_the_s3_demo_publishes_to_seaweedfs_and_a_second_run_does_nothing(example_repo, tmp_path):
    folder = tmp_path / "demo"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROLLOUTCTL_"))}

    def demo() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(TOP / "scripts/demo_s3.py"), str(folder), "--repo",
                               str(example_repo), "--now", "2026-11-24T12:00:00Z"], capture_output=True, text=True,
                              env=environment)

    first = demo()
    store = json.loads((folder / "store.json").read_text())
    try:
        assert first.returncode == 0, first.stderr
        url = f"{store['environment']['AWS_ENDPOINT_URL']}/public/demo"
        assert f"{url}/production/umd5-el9.repo" in first.stdout
        config = published_file(url, "production/umd5-el9.repo").decode()  # read anonymously, as dnf will
        assert "repo_gpgcheck=1" in config and url in config
        second = demo()  # the same store, found again
        assert second.returncode == 0 and "nothing to do" in second.stderr + second.stdout, second.stderr
    finally:
        os.kill(store["pid"], 15)
