"""Clients never catch a switch: while reconcile moves a release between channels again and
again, real apt-get update and dnf makecache reading the target in a loop never fail, on a served
directory and on a real SeaweedFS. (bench/switch_loop.py runs the same with fifty switches.)"""

from __future__ import annotations

import pytest
from servers import publish_place, seaweedfs  # noqa: F401  (the session's object store)
from switching import switch_while_reading, two_commits

SWITCHES = 10


@pytest.fixture(params=["directory", "seaweedfs"])
def place(request, tmp_path):
    """(publish spec, private spec or None, the URL clients read it at)."""
    with publish_place(request, tmp_path, "switching") as place:
        yield place


def test_clients_reading_in_a_loop_never_fail_while_channels_switch(place, tmp_path):
    publish, private, url = place
    revs = two_commits(tmp_path / "repo")
    counts = switch_while_reading(tmp_path / "repo", revs, publish, private, url, tmp_path, SWITCHES)
    assert counts.switches == SWITCHES and min(counts.runs.values()) >= 1, counts
    assert counts.failures == {"apt": [], "dnf": []}, counts.line(publish)
