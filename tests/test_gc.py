"""Retention and garbage collection, on a directory and on a real SeaweedFS: the generations kept
stay whole (a client paused on one finishes), older ones go, and packages of rejected and
withdrawn releases leave the pool after the retention time (withdrawn ones into an archive)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest
import yaml
from clients import Apt, Dnf
from conftest import ARC, TOP, arc_packages, arc_release, report_done, verification
from servers import Gate, publish_place, seaweedfs  # noqa: F401  (the session's object store)
from test_reconcile import run as reconcile_at
from test_reconcile import site  # noqa: F401  (a publish directory served over HTTP)
from test_snapshots import RPM as SNAPSHOT_RPM
from test_snapshots import SNAPSHOTS, in_production

from controller.apply.gc import kept_generations
from controller.core.model import Retention, State
from controller.publish.generations import Generation, History
from controller.publish.pool import SIGNED
from controller.publish.target import open_target
from controller.reconcile import Options, reconcile

FILES = sorted(p.name for p in (TOP / ARC / "packages").iterdir())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Place:
    """Where a test publishes: a directory served over HTTP, or a prefix of the session's bucket,
    with a gate in front that clients read through."""

    def __init__(self, spec: str, private: str | None, upstream: str, tmp_path):
        self.spec, self.private, self.tmp_path = spec, private, tmp_path
        self.target = open_target(spec)
        self.gate = Gate(upstream)

    def run(self, story, when: str, state: str = "state", rev: str = "HEAD", **extra):
        return reconcile(Options(str(story.path), rev, at(when), self.spec, self.tmp_path / state,
                                 base_url=self.gate.url, private=self.private, **extra))

    def keys(self, prefix: str) -> set[str]:
        return set(self.target.list(prefix))

    def read(self, key: str) -> str:
        return self.target.read(key).decode()


@pytest.fixture(params=["directory", "seaweedfs"])
def place(request, tmp_path):
    with publish_place(request, tmp_path, "gc") as (publish, private, url):
        found = Place(publish, private, url, tmp_path)
        with found.gate:
            yield found


def keep(story, **retention) -> None:
    config = yaml.safe_load((story.path / "repos-config/repositories.yaml").read_text())
    config["retention"] = retention
    story.commit("maria", "2026-11-01T09:00:00Z", {"repos-config/repositories.yaml": config}, "retention")


def generation(place: Place, channel: str = "unverified") -> str:
    """The yum generation the channel's metalink names: <channel>/umd5-el9/<id>/."""
    metalink = place.read(f"{channel}/umd5-el9/metalink.xml")
    return re.search(rf"/({channel}/umd5-el9/[0-9a-f]{{20}}/)repodata/repomd.xml<", metalink).group(1)


def by_hash(place: Place, channel: str = "unverified") -> set[str]:
    """The by-hash indexes the suite's Release names."""
    suite = f"dists/umd5-bookworm-{channel}"
    sums = re.findall(r"^ ([0-9a-f]{64}) +\d+ (\S+)/[^/]+$", place.read(f"{suite}/Release"), re.MULTILINE)
    return {f"{suite}/{folder}/by-hash/SHA256/{digest}" for digest, folder in sums}


def pool(place: Place) -> set[str]:
    """The packages in the pool (an rpm: its signed copy, and the record naming it)."""
    return {key.rsplit("/", 1)[1].split(SIGNED)[0] for key in place.keys("pool/") if key.count("/") == 3}


def test_old_generations_go_kept_ones_stay_and_a_rejected_release_leaves_the_pool(story, place):
    keep(story, generations=2, days=1)
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    place.run(story, "2026-11-02T10:00:00Z")
    first, first_indexes = generation(place), by_hash(place)
    story.commit("ines", "2026-11-03T09:00:00Z", {f"{ARC}/verification.yaml": verification("rejected")})
    rejected = place.run(story, "2026-11-03T10:00:00Z")
    assert rejected.plan.assessment.statuses["arc-ce/6.19.0"].state == State.REJECTED
    second, second_indexes = generation(place), by_hash(place)
    # Within the retention time everything of the superseded generation stays.
    assert pool(place) == set(FILES) and place.keys(first) and first_indexes <= place.keys("dists/")

    # A day later, with no new commit: the run is not skipped, and the rejected release's packages
    # go; the generation that named them is still kept (one of the two newest), metadata and all.
    later = place.run(story, "2026-11-04T10:30:00Z")
    assert later.plan is not None and any("3 pool file(s) that no kept generation names" in n for n in later.notes)
    assert pool(place) == set() and place.keys(first) and first_indexes <= place.keys("dists/")
    # Collected, the release keeps its state: a runner with an empty disk fetches nothing again.
    fresh = place.run(story, "2026-11-04T10:40:00Z", state="fresh")
    assert fresh.plan.assessment.statuses["arc-ce/6.19.0"].state == State.REJECTED
    assert not fresh.plan.fetches and pool(place) == set()

    # A third generation (apt's Valid-Until renewed): the first is neither among the two newest nor
    # recent, so it goes; the second stays whole.
    renewed = place.run(story, "2026-11-08T12:00:00Z")
    assert {a.reason for a in renewed.plan.actions} == {"apt Valid-Until renewal"}
    assert not place.keys(first) and not (first_indexes - second_indexes) & place.keys("dists/")
    assert place.keys(second) and second_indexes <= place.keys("dists/")
    assert place.keys(generation(place)) and by_hash(place) <= place.keys("dists/")
    history = yaml.safe_load(place.read("unverified/generations.json"))
    assert len(history["generations"]) == 2 and history["packages"] == {}

    # Reconciled at the commit before the rejection, the release is alive again: fetched again.
    older = story.git.git("rev-list", "-1", "--before=2026-11-03T08:00:00Z", "HEAD").strip()
    replayed = place.run(story, "2026-11-08T12:30:00Z", rev=older)
    assert replayed.plan.assessment.statuses["arc-ce/6.19.0"].state == State.UNVERIFIED
    assert sorted(replayed.fetched) == FILES and pool(place) == set(FILES)


def test_a_client_paused_on_a_kept_generation_finishes_after_a_switch_and_a_collection(story, place):
    keep(story, generations=2, days=1)
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    place.run(story, "2026-11-02T10:00:00Z")
    first = generation(place)
    place.run(story, "2026-11-07T12:00:00Z")  # apt's Valid-Until renewed: a second generation
    kept = generation(place)
    dnf, apt = Dnf(place.tmp_path / "dnf", place.gate.url), Apt(place.tmp_path / "apt", place.gate.url)
    # Each client reads the signed root of Unverified, then waits before fetching what it names.
    place.gate.hold(r"/unverified/umd5-el9/[0-9a-f]{20}/repodata/repomd\.xml$|"
                    r"/dists/umd5-bookworm-unverified/main/binary-[^/]+/by-hash/")
    results = {}
    clients = [threading.Thread(target=lambda: results.update(dnf=dnf.run("makecache"))),
               threading.Thread(target=lambda: results.update(apt=apt.update()))]
    for client in clients:
        client.start()
    assert place.gate.wait_for_held() and place.gate.wait_for_held()

    story.commit("ines", "2026-11-08T09:00:00Z", {f"{ARC}/verification.yaml": verification("rejected")})
    switched = place.run(story, "2026-11-08T13:00:00Z")  # the first generation is now past retention
    assert generation(place) != kept and not place.keys(first)
    assert any(note.startswith("deleted ") for note in switched.notes)
    place.gate.release()
    for client in clients:
        client.join(120)

    assert results["dnf"].returncode == 0, results["dnf"].stderr
    assert results["apt"].returncode == 0 and "W:" not in results["apt"].stderr, results["apt"].stderr
    assert any(kept in path for path in place.gate.paths)  # it read the generation it was paused on
    # Its packages stay with the kept generation: both clients download them from what they read.
    assert apt.candidates("arc-ce") == {"unverified": "6.19.0-1"}
    fetched = subprocess.run(["apt-get", *apt.options(), "install", "-y", "--download-only", "arc-ce"],
                             capture_output=True, text=True)
    assert fetched.returncode == 0, fetched.stderr
    installed = dnf.run_from_cache("install", "arc-ce")
    assert installed.returncode == 0, installed.stderr


def test_gc_dry_run_lists_what_would_go_and_withdrawn_packages_are_archived(story, tmp_path):
    keep(story, generations=1, days=1, withdrawn_archive="attic")
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    story.commit("cesga", "2026-11-02T12:00:00Z", {f"{ARC}/reports/CESGA.yaml": {"site": "CESGA",
                                                                                  "status": "rolling-out"}})
    story.commit("cesga", "2026-11-03T09:00:00Z", {f"{ARC}/reports/CESGA.yaml": report_done(
        "CESGA", "6.19.0", arc_packages())})
    story.commit("maria", "2026-11-03T12:00:00Z", {f"{ARC}/decision.yaml": {"outcome": "success", "summary": "ok"}})
    publish, state = tmp_path / "public", tmp_path / "state"
    for when in ("2026-11-02T11:00:00Z", "2026-11-12T12:00:00Z"):
        reconcile(Options(str(story.path), "HEAD", at(when), publish, state))
    story.commit("maria", "2026-11-13T09:00:00Z", {f"{ARC}/withdrawal.yaml": {"reason": "broken CRL handling"}})
    outcome = reconcile(Options(str(story.path), "HEAD", at("2026-11-13T10:00:00Z"), publish, state))
    assert outcome.plan.assessment.statuses["arc-ce/6.19.0"].state == State.WITHDRAWN
    assert pool_files(publish) == FILES  # the withdrawn generation is within its retention time
    command = [sys.executable, "-m", "controller", "--repo", str(story.path), "gc", "--publish-dir", str(publish),
               "--state-dir", str(state), "--now", "2026-11-15T10:00:00Z"]
    before = sorted(p for p in publish.rglob("*"))
    dry = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, cwd=TOP)
    assert dry.returncode == 0, dry.stderr
    assert sorted(p for p in publish.rglob("*")) == before
    for name in FILES:
        assert re.search(rf"^would archive pool/\w\w/\w+/{re.escape(name)} as attic/arc-ce/6.19.0/{re.escape(name)}$",
                         dry.stdout, re.MULTILINE), dry.stdout
        assert re.search(rf"^would delete pool/\w\w/\w+/{re.escape(name)}$", dry.stdout, re.MULTILINE)
    assert dry.stdout.splitlines()[-1].startswith("would delete ")

    done = subprocess.run(command, capture_output=True, text=True, cwd=TOP)
    assert done.returncode == 0 and "2 withdrawn package(s) archived" in done.stdout, done.stderr
    assert pool_files(publish) == []
    assert sorted(p.name for p in (publish / "attic/arc-ce/6.19.0").iterdir()) == FILES
    again = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, cwd=TOP)
    assert again.stdout == "would delete 0 metadata object(s) and 0 pool file(s) that no kept generation names " \
        "(0.0 MB)\n"


def pool_files(publish) -> list[str]:
    return sorted({p.name.split(SIGNED)[0] for p in (publish / "pool").glob("*/*/*") if p.is_file()})


def _generation(day: int) -> Generation:
    return Generation(datetime(2026, 11, day, tzinfo=UTC), (f"objects of day {day}",), ())


@pytest.mark.parametrize(("retention", "now_day", "kept_days"), [
    (Retention(3, 2), 20, [8, 9, 10]),  # long quiet: the three newest
    (Retention(2, 2), 10, [8, 9, 10]),  # the third newest was superseded a day ago: kept too
    (Retention(1, 0), 11, [10]),  # only the current one
    (Retention(1, 2), 11, [9, 10]),  # superseded on the 10th: within two days; on the 9th: not
    (Retention(10, 0), 30, [1, 5, 8, 9, 10]),  # fewer than asked for: all
])
def test_kept_generations_are_the_newest_and_the_recently_superseded(retention, now_day, kept_days):
    history = History(datetime(2026, 11, 1, tzinfo=UTC), True, [_generation(d) for d in (1, 5, 8, 9, 10)])
    kept = kept_generations(history, datetime(2026, 11, now_day, tzinfo=UTC), retention)
    assert [g.at.day for g in kept] == kept_days


def test_a_dated_snapshot_keeps_the_packages_it_serves_after_their_release_is_withdrawn(story, site):  # noqa: F811
    in_production(story, site)
    story.commit("maria", "2026-11-13T08:00:00Z", {SNAPSHOTS: {"snapshots": [
        {"channel": "production", "date": "2026-11-12", "reason": "sites reproduce November's installation"}]}})
    story.commit("maria", "2026-11-13T09:00:00Z", {f"{ARC}/withdrawal.yaml": {"reason": "broken CRL handling"}})
    reconcile_at(story, site, "2026-11-13T10:00:00Z")
    reconcile_at(story, site, "2026-11-20T10:00:00Z")  # long after the retention time: the live channels let go
    assert {p.name for p in (site.publish / "pool").rglob("*.rpm")} == {f"{SNAPSHOT_RPM}.noarch.rpm"}
    snapshot = site.publish / "production-2026-11-12"
    (site.dnf.home / "repos" / "snapshot.repo").write_bytes((snapshot / "umd5-el9.repo").read_bytes())
    installed = site.dnf.run("install", "arc-ce")
    assert installed.returncode == 0, installed.stderr


def test_a_listing_by_prefix_names_every_key_that_starts_so_and_no_other(request, tmp_path):
    """Both targets answer alike, the directory without walking folders that cannot match (the
    collection lists the dated snapshots, "production-", beside a large pool)."""
    keys = ["production/umd5-el9/metalink.xml", "production-2026-11-01/manifest.json",
            "production-2026-11-01/umd5-el9/repodata/repomd.xml", "productions.txt", "pool/ab/abc/x.rpm",
            "dists/umd5-bookworm-production/InRelease", "production-/odd"]
    for kind in ("directory", "seaweedfs"):
        request.param = kind
        (tmp_path / kind).mkdir()
        with publish_place(request, tmp_path / kind, "listing") as (publish, _private, _url):
            target = open_target(publish)
            target.write_once({key: b"x" for key in keys})
            for prefix in ("production-", "production", "production/", "pool/ab/", "dists/umd5", "", "nothing"):
                assert set(target.list(prefix)) == {k for k in keys if k.startswith(prefix)}, (kind, prefix)
