"""What runs share lives in the target, not on the runner: a second controller with a state
directory of its own (a CI job on an empty disk) carries on without sending anything twice, and
no damaged or missing state object stops a run."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from conftest import verification
from test_notify import smtp  # noqa: F401  (the SMTP server fixture)
from test_reconcile import ARC, arc_release

from controller.reconcile import Options, reconcile

DAMAGES = {"empty": b"", "garbage": b"\x00{not json at all", "wrong shape": b'["a", "list"]', "missing": None}


def run(story, tmp_path, state: str, when: str, settings):
    now = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return reconcile(Options(str(story.path), "HEAD", now, tmp_path / "public", tmp_path / state, smtp=settings))


def test_a_second_runner_on_the_same_target_mails_nothing_twice(story, tmp_path, smtp):  # noqa: F811
    inbox, _, settings = smtp
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    first = run(story, tmp_path, "runner-a", "2026-11-02T11:00:00Z", settings)
    assert first.notified == ["verified:arc-ce/6.19.0"]
    second = run(story, tmp_path, "runner-b", "2026-11-02T11:05:00Z", settings)
    assert second.notified == [] and not second.changed
    assert len(inbox.messages) == 1
    key = (tmp_path / ".public-private/state/throwaway-key.asc").read_bytes()
    assert key.startswith(b"-----BEGIN PGP PRIVATE KEY BLOCK-----")  # both runners sign with it


def test_every_state_object_damaged_in_every_way_is_survived(story, tmp_path, smtp):  # noqa: F811
    inbox, _, settings = smtp
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    run(story, tmp_path, "state", "2026-11-02T11:00:00Z", settings)
    objects = [tmp_path / p for p in (
        ".public-private/state/notifications.json", ".public-private/state/ingest-failures.json",
        ".public-private/state/area.json", "public/.rolloutctl-private-area.json",
        "state/last-reconcile.json", "state/cache/documents.json", "state/journal.json",
        "public/unverified/manifest.json", "public/staged-rollout/manifest.json", "public/site/manifest.json",
        "public/unverified/generations.json", "public/staged-rollout/generations.json",
        "public/status.json", "public/.rolloutctl-lease.json")]
    minute = 0
    for path in objects:
        for damage, data in DAMAGES.items():
            minute += 1
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            outcome = run(story, tmp_path, "state", f"2026-11-02T12:{minute:02d}:00Z", settings)
            assert outcome.plan is None or outcome.plan.assessment.statuses["arc-ce/6.19.0"].state.value == \
                "verified", (path, damage)
    assert [s for s, _, _ in inbox.messages] == ["[arc] arc-ce 6.19.0 is ready for staged rollout"]
    manifest = json.loads((tmp_path / "public/staged-rollout/manifest.json").read_text())
    assert manifest["files"]["umd5-el9"] == ["arc-ce-6.19.0-1.el9.noarch.rpm"]


@pytest.mark.parametrize("damage", ["garbage"])
def test_a_damaged_ledger_is_rebuilt_with_a_note_and_sends_nothing_twice(story, tmp_path, smtp, damage):  # noqa: F811
    inbox, _, settings = smtp
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    run(story, tmp_path, "state", "2026-11-02T11:00:00Z", settings)
    (tmp_path / ".public-private/state/notifications.json").write_bytes(DAMAGES[damage])
    outcome = run(story, tmp_path, "other", "2026-11-02T12:00:00Z", settings)
    assert any("ledger" in note and "rebuilt" in note for note in outcome.notes)
    assert len(inbox.messages) == 1
