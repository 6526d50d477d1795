"""Channels switching under readers: reconcile moves a release between Unverified and Staged
Rollout again and again while real apt-get update and dnf makecache run in a loop against the
served target; every client run that fails is counted, with what it said. Used by the test suite
(a few switches) and by bench/switch_loop.py (fifty and more)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from clients import Apt, Dnf
from conftest import ARC, arc_release, configured_story, verification

from controller.reconcile import Options, reconcile

START = datetime.fromisoformat("2026-11-03T10:00:00+00:00")


@dataclass
class Counts:
    switches: int = 0
    runs: dict[str, int] = field(default_factory=lambda: {"apt": 0, "dnf": 0})
    failures: dict[str, list[str]] = field(default_factory=lambda: {"apt": [], "dnf": []})

    def line(self, where: str) -> str:
        return (f"{where}: {self.switches} switches, apt-get update {len(self.failures['apt'])} failed of "
                f"{self.runs['apt']}, dnf makecache {len(self.failures['dnf'])} failed of {self.runs['dnf']}")


def two_commits(path: Path) -> tuple[str, str]:
    """A repository and two commits: arc-ce in Unverified, then verified (in Staged Rollout)."""
    story = configured_story(path)
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    unverified = story.git.git("rev-parse", "HEAD")
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    return unverified, story.git.git("rev-parse", "HEAD")


def switch_while_reading(repo: Path, revs: tuple[str, str], publish: str, private: str | None, url: str,
                         work: Path, switches: int) -> Counts:
    """Reconcile ``switches`` times, alternating the two commits (time moving on by ten minutes a
    run, as a scheduled job's would), while one apt and one dnf client read in a loop."""
    counts = Counts()
    state = work / "state"

    def run(i: int) -> None:
        reconcile(Options(str(repo), revs[i % 2], START + timedelta(minutes=10 * i), publish, state, base_url=url,
                          private=private))

    run(0)  # the channels exist before the clients start
    done = threading.Event()
    apt, dnf = Apt(work / "apt", url), Dnf(work / "dnf", url)

    def loop(name: str, read) -> None:
        while not done.is_set():
            finished = read()
            counts.runs[name] += 1
            said = finished.stdout + finished.stderr
            if finished.returncode != 0 or "W:" in finished.stderr or "E:" in finished.stderr or "Err:" in said:
                counts.failures[name].append(said[-2000:])

    readers = [threading.Thread(target=loop, args=("apt", apt.update)),
               threading.Thread(target=loop, args=("dnf", lambda: dnf.run("makecache")))]
    for reader in readers:
        reader.start()
    try:
        for i in range(1, switches + 1):
            run(i)
            counts.switches += 1
    finally:
        done.set()
        for reader in readers:
            reader.join()
    return counts
