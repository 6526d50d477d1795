"""The worked example, replayed into git from its story, stands where its story says."""

from __future__ import annotations

from datetime import UTC, datetime

from controller import app
from controller.core.model import State

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_the_example_validates_clean(example_repo):
    assert app.validate(str(example_repo), "HEAD", NOW).problems == []


def test_each_example_release_is_in_its_expected_state(example_repo):
    states = {key: s.state for key, s in app.status(str(example_repo), "HEAD", NOW).statuses.items()}
    assert states == {
        "argus/1.7.3": State.PRODUCTION,
        "argus/1.7.4": State.ROLLING_OUT,
        "arc-ce/6.19.0": State.VERIFIED,
        "unicore-server/9.2.1": State.PRODUCTION,
        "nagios-plugins-egi/2.3.0": State.UNVERIFIED,
        "ca-policy-egi/1.131": State.REJECTED,
    }


def test_overdue_steps_are_reported_not_ignored(example_repo):
    statuses = app.status(str(example_repo), "HEAD", NOW).statuses
    acceptance = next(t for t in statuses["arc-ce/6.19.0"].timers if t.name == "acceptance window")
    assert acceptance.finished is None and acceptance.is_overdue(NOW)
    assert statuses["argus/1.7.4"].next_actor == "early adopters IFCA-LCG2"


def test_before_the_grace_period_ends_the_release_waits_in_approved(example_repo):
    during_grace = datetime(2026, 10, 12, 12, tzinfo=UTC)
    status = app.status(str(example_repo), "HEAD", during_grace).statuses["argus/1.7.3"]
    assert status.state == State.APPROVED and status.channel == "staged-rollout"


def test_at_an_earlier_time_later_releases_do_not_exist_yet(example_repo):
    october = datetime(2026, 10, 20, 12, tzinfo=UTC)
    states = {key: s.state for key, s in app.status(str(example_repo), "HEAD", october).statuses.items()}
    assert states == {"argus/1.7.3": State.PRODUCTION}
