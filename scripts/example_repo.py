"""Replay the worked example (scripts/example-story.yaml) into a real git repository.

Each step becomes one commit by the person the story names, at the story's time, so the
controller sees the authors and dates its trust rules and timers need. Also used by the tests
to write repositories commit by commit.

    python scripts/example_repo.py TARGET_DIR
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

TOP = Path(__file__).resolve().parent.parent


class GitWriter:
    """A git repository written through the git command line, as people would."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        if not (self.path / ".git").exists():
            self.git("init", "-q", "-b", "main")

    def git(self, *args: str, env: dict | None = None) -> str:
        done = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True,
                              env={**os.environ, **(env or {})})
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def write(self, relpath: str, content: bytes | str) -> None:
        target = self.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)

    def remove(self, relpath: str) -> None:
        self.git("rm", "-q", "-r", relpath)

    def commit(self, message: str, name: str, email: str, when: str) -> str:
        self.git("add", "-A")
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": when,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": when}
        self.git("-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", message, env=env)
        return self.git("rev-parse", "HEAD")


def _people() -> dict[str, tuple[str, str]]:
    """Story authors: roles.yaml people by key, site administrators by e-mail."""
    roles = yaml.safe_load((TOP / "repos-config/roles.yaml").read_text())
    people = {key: (p["name"], p["email"]) for key, p in roles["people"].items()}
    for site in (TOP / "adopters").glob("*.yaml"):
        for admin in yaml.safe_load(site.read_text())["administrators"]:
            people[admin["email"]] = (admin["name"], admin["email"])
    return people


def _copy(writer: GitWriter, relpath: str) -> None:
    source = TOP / relpath
    if source.is_dir():
        for item in sorted(source.rglob("*")):
            if item.is_file():
                writer.write(str(item.relative_to(TOP)), item.read_bytes())
    else:
        writer.write(relpath, source.read_bytes())


def build_example(target: Path) -> str:
    """Write the example's history into ``target`` (replaced if present); return the head."""
    if target.exists():
        shutil.rmtree(target)
    writer = GitWriter(target)
    people = _people()
    story = yaml.safe_load((TOP / "scripts/example-story.yaml").read_text())
    head = ""
    for step in story:
        name, email = people[step["author"]]
        for relpath in step.get("add", ()):
            _copy(writer, relpath)
        if "accept" in step:
            site = Path(step["accept"]).stem
            writer.write(step["accept"], f"site: {site}\nstatus: rolling-out\n")
        head = writer.commit(step["message"], name, email, step["at"])
    return head


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: example_repo.py TARGET_DIR")
    print(build_example(Path(sys.argv[1])))
