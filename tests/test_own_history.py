"""This repository's own history validates clean: its worked example is imported through the trust
anchor that repos-config/roles.yaml names, and every change since is authorized (docs/trust.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import TOP


def git(*args: str, cwd=TOP) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def test_a_fresh_clone_of_this_repository_validates_clean(tmp_path):
    if not (TOP / ".git").exists():
        pytest.fail(f"{TOP} is not a git checkout: these tests read this repository's own history; "
                    "run them in a clone of the repository")
    if git("rev-parse", "--is-shallow-repository") == "true":
        pytest.fail("this checkout is shallow, and the trust rules read the whole history: run "
                    "`git fetch --unshallow` (in GitHub Actions: actions/checkout with fetch-depth: 0) and test again")
    clone = tmp_path / "clone"
    git("clone", "-q", "--no-checkout", str(TOP), str(clone), cwd=tmp_path)
    git("fetch", "-q", str(TOP), "HEAD", cwd=clone)  # the commit under test, even on a detached HEAD
    head = git("rev-parse", "HEAD")
    done = subprocess.run([sys.executable, "-m", "controller", "--repo", str(clone), "validate", "--at", head],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the trust anchor named in repos-config/roles.yaml" in done.stderr
