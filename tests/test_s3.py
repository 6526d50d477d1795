"""Publishing to S3-compatible object storage: a real SeaweedFS on loopback, real dnf and apt
reading the bucket over its HTTP endpoint, as sites would read it behind a CDN."""

from __future__ import annotations

import subprocess
import uuid
from datetime import datetime

from clients import Apt, Dnf
from servers import seaweedfs  # noqa: F401  (the session's object store)

from controller.reconcile import Options, reconcile

NOW = datetime.fromisoformat("2026-11-24T12:00:00+00:00")


def test_the_example_on_object_storage_installs_with_dnf_and_apt(example_repo, seaweedfs, tmp_path):  # noqa: F811
    prefix = f"example-{uuid.uuid4().hex[:8]}"
    base = seaweedfs.url("public", prefix)

    def run(state: str):
        return reconcile(Options(str(example_repo), "HEAD", NOW, f"s3://public/{prefix}", tmp_path / state,
                                 base_url=base, private=f"s3://private/{prefix}"))

    first = run("state")
    assert {a.channel.value for a in first.plan.actions} == {"unverified", "staged-rollout", "production"}
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
    fetched = subprocess.run(["apt-get", *apt.options(), "install", "-y", "--download-only", "arc-ce"],
                             capture_output=True, text=True)
    assert fetched.returncode == 0, fetched.stderr
    assert list((apt.home / "cache/archives").glob("arc-ce_6.19.0-1_all.deb"))

    fresh = run("fresh-state")  # a new runner with an empty disk: the bucket already matches
    assert not fresh.changed and fresh.fetched == [] and not fresh.plan.plan.describe()
