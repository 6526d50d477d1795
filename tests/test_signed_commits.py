"""Required commit signatures, checked with real gpg keys and real signed commits."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml
from conftest import NOW, manifest

from controller import app

R = "releases/argus/1.8.0"


def make_key(home, email):
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", email, "ed25519", "sign", "never"],
                   env=env, check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys", email], env=env, check=True,
                             capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    public = subprocess.run(["gpg", "--batch", "--armor", "--export", email], env=env, check=True,
                            capture_output=True).stdout
    return env, fingerprint, public


@pytest.fixture
def signing_story(story, tmp_path):
    env, fingerprint, public = make_key(tmp_path / "gnupg", "andrea.ferri@argus.example.org")
    roles = yaml.safe_load((story.path / "repos-config/roles.yaml").read_text())
    roles["require_signed_commits"] = True
    roles["people"]["andrea"]["keys"] = [fingerprint]
    story.commit("maria", "2026-10-01T08:00:00Z", {"repos-config/roles.yaml": roles,
                                                    "repos-config/keys/andrea.asc": public}, "require signatures")
    return story, env, fingerprint


def signed_commit(story, env, when, files):
    for path, doc in files.items():
        story.git.write(path, yaml.safe_dump(doc, sort_keys=False))
    story.git.git("add", "-A")
    story.git.git("-c", "user.signingkey=andrea.ferri@argus.example.org", "commit", "-q", "-S", "-m", "signed",
                  env={**env, "GIT_AUTHOR_NAME": "Andrea Ferri", "GIT_AUTHOR_EMAIL": "andrea.ferri@argus.example.org",
                       "GIT_COMMITTER_NAME": "Andrea Ferri", "GIT_COMMITTER_EMAIL": "andrea.ferri@argus.example.org",
                       "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when})


def test_a_signed_commit_by_the_key_holder_counts(signing_story):
    story, env, _ = signing_story
    signed_commit(story, env, "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    problems = app.validate(str(story.path), "HEAD", NOW).problems
    assert [p for p in problems if p.rule == "roles" and p.file == f"{R}/release.yaml"] == []


def test_an_unsigned_commit_is_not_counted_when_signatures_are_required(signing_story):
    story, _, _ = signing_story
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    problems = [p for p in app.validate(str(story.path), "HEAD", NOW).problems if p.file == f"{R}/release.yaml"]
    assert [p.rule for p in problems] == ["roles"] and "with a signed commit" in problems[0].message
    assert "argus/1.8.0" not in app.status(str(story.path), "HEAD", NOW).statuses


def test_a_signature_by_an_unlisted_key_is_not_counted(signing_story, tmp_path):
    story, _, _ = signing_story
    other_env, _, _ = make_key(tmp_path / "other", "andrea.ferri@argus.example.org")
    signed_commit(story, other_env, "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    problems = [p for p in app.validate(str(story.path), "HEAD", NOW).problems if p.file == f"{R}/release.yaml"]
    assert [p.rule for p in problems] == ["roles"]
