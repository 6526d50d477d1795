"""A channel switch stopped after every single write, on a directory and on a real SeaweedFS:
after each stop, real dnf (repo_gpgcheck=1) and real apt (signed-by) read every channel whole and
signed, as it was before the switch or as it is after it, never a mix and never an error."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from clients import CHANNELS, Apt, Dnf
from conftest import TOP, arc_release
from servers import publish_place, seaweedfs  # noqa: F401  (the session's object store)

from controller.publish.lease import KEY as LEASE
from controller.publish.target import Stored, Target, open_target
from controller.reconcile import Options, reconcile

CA = "releases/ca-policy-egi/1.131"
RPMS = {"arc-ce": "arc-ce-6.19.0-1.el9", "ca-policy-egi": "ca-policy-egi-1.131-1.el9"}
DEBS = {"arc-ce": "6.19.0-1", "ca-policy-egi": "1.131-1"}
# The places whose writes make up a channel switch (the site and status.json come after it).
SWITCH = ("pool/", "dists/", *(f"{channel}/" for channel in CHANNELS))


class Stopped(BaseException):
    """The publisher dies: raised past every handler, as a kill would end the process."""


class Stopping:
    """A publish target that lets ``after`` writes through and then stops the run at the next one;
    every write is logged (write-once batches one object at a time, since a store may take them in
    any order). Reads pass through. ``after=None`` lets the whole run through, to count its writes."""

    def __init__(self, inner: Target, after: int | None = None):
        self.inner, self.after = inner, after
        self.description = inner.description
        self.written: list[tuple[str, bool]] = []  # (key, whether it is a write-once object)

    def _count(self, key: str, once: bool = False) -> None:
        if self.after is not None and len(self.written) >= self.after:
            raise Stopped(key)
        self.written.append((key, once))

    def list(self, prefix: str) -> dict[str, Stored]:
        return self.inner.list(prefix)

    def read(self, key: str) -> bytes | None:
        return self.inner.read(key)

    def download(self, key: str, path: Path) -> None:
        self.inner.download(key, path)

    def local_path(self, key: str) -> str | None:
        return self.inner.local_path(key)

    def flush(self) -> None:
        self.inner.flush()

    def write(self, key: str, data: bytes, modified: float | None = None) -> None:
        self._count(key)
        self.inner.write(key, data, modified)

    def write_once(self, items: dict[str, bytes]) -> None:
        for key, data in items.items():
            self._count(key, once=True)
            self.inner.write_once({key: data})

    def upload(self, key: str, path: Path) -> None:
        self._count(key, once=True)
        self.inner.upload(key, path)

    def create(self, key: str, data: bytes) -> bool:
        self._count(key)
        return self.inner.create(key, data)

    def copy(self, source: str, key: str) -> None:
        self._count(key)
        self.inner.copy(source, key)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._count(key)
            self.inner.delete([key])


def snapshot(target: Target) -> dict[str, tuple[bytes, float]]:
    return {key: (target.read(key), stored.modified) for key, stored in target.list("").items()}


def restore(target: Target, saved: dict[str, tuple[bytes, float]]) -> None:
    """Put a target back as it was saved: what a stopped run added goes, what it replaced comes back."""
    now = target.list("")
    target.delete((set(now) - set(saved)) | {LEASE})  # a stopped run holds the lease (a listing may skip it)
    for key, (data, modified) in saved.items():
        if key not in now or now[key].size != len(data) or target.read(key) != data:
            target.write(key, data, modified)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(params=["directory", "seaweedfs"])
def place(request, tmp_path):
    """(publish spec, private spec, the URL clients read it at, whether to stop after every write)."""
    with publish_place(request, tmp_path, "stops") as (publish, private, url):
        yield publish, private or str(tmp_path / "private"), url, request.param == "directory"


class Readers:
    """Real dnf and apt reading Unverified at the same time. dnf keeps its keyring (and checks each
    repomd.xml it fetches anew); apt starts afresh each time, since it rightly refuses a Release
    older than one it saw."""

    def __init__(self, url: str, home: Path):
        self.url, self.home = url, home
        self.dnf = Dnf(home / "dnf", url)
        self.reads = 0

    def _dnf(self) -> subprocess.CompletedProcess:
        return self.dnf.run("repoquery", "--available", "--repo", "umd5-el9-unverified", "--qf",
                            "%{name}-%{version}-%{release}")

    def seen(self) -> tuple[frozenset[str], frozenset[str]]:
        """The components whose rpm dnf lists and whose deb apt offers; any client error fails."""
        self.reads += 1
        apt = Apt(self.home / f"apt-{self.reads}", self.url)
        with ThreadPoolExecutor(2) as clients:
            listed, update = clients.map(lambda read: read(), (self._dnf, apt.update))
        assert listed.returncode == 0, listed.stderr
        assert update.returncode == 0 and "W:" not in update.stderr and "E:" not in update.stderr, update.stderr
        rpms = frozenset(name for name, rpm in RPMS.items() if rpm in listed.stdout.split())
        return rpms, frozenset(name for name in DEBS if apt.candidates(name) == {"unverified": DEBS[name]})


def test_a_switch_stopped_after_any_write_leaves_every_channel_whole_and_signed(story, place, tmp_path):
    publish, private, url, every_write = place
    target, area = open_target(publish), open_target(private)
    state, saved_state = tmp_path / "state", tmp_path / "state-before"

    def run(after: int | None = None) -> Stopping:
        wrapped = Stopping(target, after)
        reconcile(Options(str(story.path), "HEAD", at("2026-11-02T10:00:00Z"), publish, state, base_url=url,
                          private=private, target=wrapped))
        return wrapped

    story.commit("lars", "2026-11-02T08:00:00Z", arc_release())
    run()
    readers = Readers(url, tmp_path)
    old = readers.seen()
    assert old == ({"arc-ce"}, {"arc-ce"})
    # A second release into Unverified: new pool files, and the one channel switches to name them.
    for path in [TOP / CA / "release.yaml", *(TOP / CA / "packages").iterdir()]:
        story.git.write(str(path.relative_to(TOP)), path.read_bytes())
    story.git.commit("ca-policy-egi 1.131", "David Groep", "david.groep@igtf.example.org", "2026-11-02T09:00:00Z")
    before, before_private = snapshot(target), snapshot(area)
    shutil.copytree(state, saved_state)
    switch = run().written
    new = readers.seen()
    assert new == (set(RPMS), set(DEBS))
    stops = [n for n, (key, once) in enumerate(switch, 1) if key.startswith(SWITCH) and (
        # on object storage, a sample: not between two write-once objects, which nothing names yet
        every_write or not once or n == len(switch) or not switch[n][1])]
    assert any(key.startswith("pool/") for key, _ in switch) and len(stops) >= 10
    for after in stops:
        restore(target, before)
        restore(area, before_private)
        shutil.rmtree(state)
        shutil.copytree(saved_state, state)
        with pytest.raises(Stopped):
            run(after)
        found = readers.seen()
        assert found[0] in (old[0], new[0]) and found[1] in (old[1], new[1]), (after, switch[after - 1], found)
    print(f"{target.description}: {len(stops)} stop points of {len(switch)} writes, every one read whole")
