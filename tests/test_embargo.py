"""Embargoed security releases: before their date nothing about them reaches any public byte (the
published tree or bucket, the listings a web server would make of it, the commands' output, mail
to anyone but the security group and the committed early adopters); their packages wait in the
private pool, and on the date they are moved in, with no second download from the provider."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from conftest import TOP, commit_embargoed_unicore
from servers import FileServer, seaweedfs  # noqa: F401  (the session's object store)

from controller.publish.target import Target, open_target
from controller.reconcile import Options, reconcile
from controller.sources.fetch import FetchPolicy

UNICORE = "releases/unicore-server/9.2.1"
RPM = "unicore-server-9.2.1-1.el9.noarch.rpm"
RPM_BYTES = (TOP / UNICORE / "packages" / RPM).read_bytes()
SHA = hashlib.sha256(RPM_BYTES).hexdigest()
BEFORE, AFTER = "2026-11-16T12:00:00Z", "2026-11-20T12:30:00Z"  # the embargo ends 2026-11-20T12:00Z


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Place:
    """Where a reconcile publishes: the public target and the private area, local or on S3."""

    publish: Path | str
    private: Path | str
    state: Path

    def public(self) -> Target:
        return open_target(self.publish)

    def private_area(self) -> Target:
        return open_target(self.private)


@pytest.fixture(params=["local", "s3"])
def place(request, tmp_path) -> Place:
    if request.param == "local":
        return Place(tmp_path / "public", tmp_path / ".public-private", tmp_path / "state")
    store = request.getfixturevalue("seaweedfs")
    prefix = f"embargo-{uuid.uuid4().hex[:8]}"
    place = Place(f"s3://public/{prefix}", f"s3://private/{prefix}", tmp_path / "state")
    place.store = store
    return place


@pytest.fixture
def provider(tmp_path):
    """The provider's download server, counting the requests for the embargoed package."""
    root = tmp_path / "provider"
    root.mkdir()
    shutil.copyfile(TOP / UNICORE / "packages" / RPM, root / RPM)
    with FileServer(root) as server:
        yield server


def rpm_requests(provider) -> int:
    return sum(1 for path, _ in provider.requests if path.endswith(RPM))


def run(story, place: Place, now: str, **extra):
    return reconcile(Options(str(story.path), "HEAD", at(now), place.publish, place.state, private=place.private,
                             fetch_policy=FetchPolicy(timeout=5, attempts=2, backoff=0.01), **extra))


def test_embargoed_packages_wait_in_the_private_pool_and_move_in_without_a_second_fetch(story, place, provider):
    commit_embargoed_unicore(story, "2026-11-16", url=provider.url)
    before = run(story, place, BEFORE)
    assert before.plan.assessment.statuses["unicore-server/9.2.1"].state.value == "production"
    assert rpm_requests(provider) == 1
    assert not any(SHA in key for key in place.public().list(""))
    assert f"pool/{SHA[:2]}/{SHA}/{RPM}" in place.private_area().list("pool/")

    after = run(story, place, AFTER)
    assert rpm_requests(provider) == 1  # moved from the private pool, not fetched again
    assert [m.filename for m in after.plan.plan.moves] == [RPM]
    assert place.public().read(f"pool/{SHA[:2]}/{SHA}/{RPM}") == RPM_BYTES
    assert place.private_area().list("pool/") == {}
    assert RPM in place.public().read("production/manifest.json").decode()
