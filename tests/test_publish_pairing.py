"""A publish target and its private area belong together: two controllers with state directories
and private areas of their own never both publish to one target, and never mail anything twice;
a private area other than the target's own is refused with what to pass instead."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime

import pytest
from test_notify import rev_at, smtp  # noqa: F401  (the SMTP server fixture)

from controller.errors import BadInput, Transient
from controller.reconcile import Options, reconcile

READY = "[glite] argus 1.7.3 is ready for staged rollout"
WHEN = "2026-10-06T11:00:00Z"


def test_two_controllers_with_private_areas_of_their_own_publish_once_and_mail_once(example_repo, tmp_path,
                                                                                    smtp):  # noqa: F811
    inbox, _, settings = smtp
    publish = tmp_path / "public"

    def run(runner: str, area: str, **extra):
        return reconcile(Options(str(example_repo), rev_at(example_repo, WHEN), datetime.fromisoformat(WHEN),
                                 publish, tmp_path / f"state-{runner}", private=tmp_path / f"private-{area}",
                                 smtp=settings, **extra))

    refused: list[str] = []

    def other_controllers(channel, publication):
        if not refused:  # while the first one publishes, others start: one with a state directory of its
            # own (it finds the lease taken: exit 4), one with a private area of its own too (refused at once)
            with pytest.raises(Transient, match="another reconcile is publishing") as waiting:
                run("b", "a")
            with pytest.raises(BadInput, match="belongs to another private area") as other:
                run("c", "c")
            refused.extend([str(waiting.value), str(other.value)])

    first = run("a", "a", before_switch=other_controllers)
    assert refused and first.changed and first.notified
    assert inbox.subjects() == [READY]
    with pytest.raises(BadInput, match="belongs to another private area") as mismatched:
        run("c", "c", wait=5)  # once the first is done too: its own private area would sign and mail again
    assert "--private-dir" in mismatched.value.hint
    assert not (tmp_path / "private-c/state/notifications.json").exists()
    again = run("b", "a")  # a second runner, its own disk, the target's own private area: nothing to do
    assert not again.changed and again.notified == []
    assert inbox.subjects() == [READY]


def test_the_cli_refuses_a_mismatched_private_area_with_exit_2(example_repo, tmp_path):
    def rolloutctl(area: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "controller", "--repo", str(example_repo), "reconcile",
                               "--at", rev_at(example_repo, WHEN), "--now", WHEN, "--publish-dir",
                               str(tmp_path / "public"), "--private-dir", str(tmp_path / area)],
                              capture_output=True, text=True,
                              env={k: v for k, v in os.environ.items() if not k.startswith("ROLLOUTCTL_")})

    assert rolloutctl("private").returncode == 0
    refused = rolloutctl("elsewhere")
    assert refused.returncode == 2, refused.stderr
    assert "belongs to another private area" in refused.stderr and "hint:" in refused.stderr
    assert "Traceback" not in refused.stderr
