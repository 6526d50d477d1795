"""Required commit signatures, checked with real gpg keys and real signed commits."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml
from conftest import NOW, manifest, package, verification

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


def require_signatures(story, keys: dict[str, tuple[str, bytes]], **settings) -> None:
    """The manager turns signatures on (2026-10-01), listing each person's key: {key: (fpr, public)}."""
    roles = yaml.safe_load((story.path / "repos-config/roles.yaml").read_text())
    roles.update(require_signed_commits=True, **settings)
    files = {}
    for person, (fingerprint, public) in keys.items():
        roles["people"][person]["keys"] = [fingerprint]
        files[f"repos-config/keys/{person}.asc"] = public
    story.commit("maria", "2026-10-01T08:00:00Z", {"repos-config/roles.yaml": roles, **files}, "require signatures")


@pytest.fixture
def signing_story(story, tmp_path):
    env, fingerprint, public = make_key(tmp_path / "gnupg", "andrea.ferri@argus.example.org")
    require_signatures(story, {"andrea": (fingerprint, public)})
    return story, env, fingerprint


ANDREA = ("Andrea Ferri", "andrea.ferri@argus.example.org")


def signed_commit(story, env, when, files, who=ANDREA):
    for path, doc in files.items():
        story.git.write(path, doc if isinstance(doc, bytes) else yaml.safe_dump(doc, sort_keys=False))
    story.git.git("add", "-A")
    name, email = who
    story.git.git("-c", f"user.signingkey={email}", "commit", "-q", "-S", "-m", "signed",
                  env={**env, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                       "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
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


def revoked_public_key(home, tmp_path, fingerprint):
    """The key's public half carrying its revocation, as the owner would publish it once the key was
    compromised (made in a copy of the keyring, so the original can still sign, as a thief's would)."""
    copy = tmp_path / "revoking"
    shutil.copytree(home, copy)
    env = {**os.environ, "GNUPGHOME": str(copy)}
    certificate = (copy / "openpgp-revocs.d" / f"{fingerprint}.rev").read_text().replace(":-----BEGIN", "-----BEGIN")
    subprocess.run(["gpg", "--batch", "--import"], input=certificate.encode(), env=env, check=True,
                   capture_output=True)
    return subprocess.run(["gpg", "--batch", "--armor", "--export", fingerprint], env=env, check=True,
                          capture_output=True).stdout


@pytest.fixture
def revoking_story(story, tmp_path):
    """Signatures required from 2026-10-01; andrea and the manager maria each hold a key."""
    env, andrea, public = make_key(tmp_path / "gnupg", "andrea.ferri@argus.example.org")
    maria_env, maria, maria_public = make_key(tmp_path / "maria", "maria.duarte@umd.example.org")
    require_signatures(story, {"andrea": (andrea, public), "maria": (maria, maria_public)})
    revoked = revoked_public_key(tmp_path / "gnupg", tmp_path, andrea)
    return story, env, maria_env, revoked


def test_a_signature_by_a_revoked_key_is_not_counted(revoking_story):
    story, env, maria_env, revoked = revoking_story
    signed_commit(story, maria_env, "2026-10-15T08:00:00Z", {"repos-config/keys/andrea.asc": revoked},
                  ("Maria Duarte", "maria.duarte@umd.example.org"))
    signed_commit(story, env, "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    problems = [p for p in app.validate(str(story.path), "HEAD", NOW).problems if p.file == f"{R}/release.yaml"]
    assert [p.rule for p in problems] == ["roles"] and "with a signed commit by a valid key" in problems[0].message
    assert "argus/1.8.0" not in app.status(str(story.path), "HEAD", NOW).statuses


def test_a_signature_made_before_the_revocation_landed_keeps_counting(revoking_story):
    story, env, maria_env, revoked = revoking_story
    signed_commit(story, env, "2026-10-10T09:00:00Z", {f"{R}/release.yaml": manifest()})
    signed_commit(story, maria_env, "2026-10-15T08:00:00Z", {"repos-config/keys/andrea.asc": revoked},
                  ("Maria Duarte", "maria.duarte@umd.example.org"))
    assert app.validate(str(story.path), "HEAD", NOW).problems == []
    assert "argus/1.8.0" in app.status(str(story.path), "HEAD", NOW).statuses


def test_switching_signatures_on_keeps_the_history_before_it(story, tmp_path):
    story.commit("andrea", "2026-09-10T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("ines", "2026-09-11T09:00:00Z", {f"{R}/verification.yaml": verification()})
    _, fingerprint, public = make_key(tmp_path / "gnupg", "andrea.ferri@argus.example.org")
    require_signatures(story, {"andrea": (fingerprint, public)})
    later = manifest(version="1.8.1")
    later["packages"] = [package(version="1.8.1")]
    story.commit("andrea", "2026-11-02T09:00:00Z", {"releases/argus/1.8.1/release.yaml": later})
    statuses = app.status(str(story.path), "HEAD", NOW).statuses
    assert "argus/1.8.0" in statuses and "argus/1.8.1" not in statuses
    problems = app.validate(str(story.path), "HEAD", NOW).problems
    assert [p.file for p in problems if p.rule == "roles"] == ["releases/argus/1.8.1/release.yaml"]


def test_signatures_are_required_from_the_instant_repos_config_names(story, tmp_path):
    _, fingerprint, public = make_key(tmp_path / "gnupg", "andrea.ferri@argus.example.org")
    require_signatures(story, {"andrea": (fingerprint, public)}, signed_commits_from="2026-11-01T00:00:00Z")
    story.commit("andrea", "2026-10-20T09:00:00Z", {f"{R}/release.yaml": manifest()})
    later = manifest(version="1.8.1")
    later["packages"] = [package(version="1.8.1")]
    story.commit("andrea", "2026-11-02T09:00:00Z", {"releases/argus/1.8.1/release.yaml": later})
    statuses = app.status(str(story.path), "HEAD", NOW).statuses
    assert "argus/1.8.0" in statuses and "argus/1.8.1" not in statuses
