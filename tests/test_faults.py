"""Clean edges: every command, run as a user runs it, under the faults of a real machine (a reader
that goes away, a directory it may not write, variables set to nothing, a GitHub it cannot reach)
ends with its documented exit code and a line saying what to do, never a traceback; and gpg leaves
no agent behind, so the state directory can be removed between runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest
from conftest import configured_story, verification
from test_reconcile import ARC, arc_release

NOW = "2026-11-02T10:00:00Z"
UNWRITABLE = "/sys/kernel"  # a directory that exists and that even root may not write into (sysfs)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """The example's configuration and adopters with one verified release whose packages are committed."""
    story = configured_story(tmp_path_factory.mktemp("faults") / "repo")
    story.commit("lars", "2026-11-02T08:00:00Z", arc_release())
    story.commit("ines", "2026-11-02T09:00:00Z", {f"{ARC}/verification.yaml": verification()})
    return story.path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rolloutctl(repo, *args, env: dict | None = None, broken_pipe: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "controller", "--repo", str(repo), *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ROLLOUTCTL_"))}
    environment.update(env or {})
    if not broken_pipe:
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
    else:  # as `rolloutctl ... | head -0`: the reader is gone before the first byte
        reader, writer = os.pipe()
        os.close(reader)
        done = subprocess.run(command, stdout=writer, stderr=subprocess.PIPE, text=True, env=environment)
        os.close(writer)
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    return done


def test_the_state_directory_can_be_removed_between_runs_and_gpg_leaves_no_agent(story, tmp_path):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    state = tmp_path / "state"
    for publish in (tmp_path / "public-1", tmp_path / "public-2"):
        done = rolloutctl(story.path, "reconcile", "--now", NOW, "--publish-dir", str(publish), "--state-dir",
                          str(state))
        assert done.returncode == 0, done.stderr
        home = state / "throwaway-gnupg"
        agent = subprocess.run(["gpg-connect-agent", "--homedir", str(home), "--no-autostart", "GETINFO pid", "/bye"],
                               capture_output=True, text=True)
        assert not agent.stdout.startswith("D "), f"a gpg-agent still serves {home}"
        shutil.rmtree(state)


def test_an_agent_the_operator_runs_is_left_running(story, tmp_path):
    home = tmp_path / "keys"
    home.mkdir(mode=0o700)
    subprocess.run(["gpg", "--batch", "--homedir", str(home), "--passphrase", "", "--quick-gen-key",
                    "UMD signing <sign@umd.example.org>", "ed25519", "sign", "1y"], check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--batch", "--homedir", str(home), "--with-colons", "--list-keys"],
                             capture_output=True, text=True, check=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    config = (story.path / "repos-config/repositories.yaml").read_text() + f"signing_key: {fingerprint}\n"
    story.commit("maria", "2026-11-01T09:00:00Z", {"repos-config/repositories.yaml": config})
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())

    def agent_pid() -> str:
        return subprocess.run(["gpg-connect-agent", "--homedir", str(home), "--no-autostart", "GETINFO pid", "/bye"],
                              capture_output=True, text=True).stdout.split("\n")[0]

    try:
        assert agent_pid().startswith("D ")  # the operator's agent, started by the key generation above
        running = agent_pid()
        done = rolloutctl(story.path, "reconcile", "--now", NOW, "--publish-dir", str(tmp_path / "public"),
                          "--gnupg-home", str(home))
        assert done.returncode == 0, done.stderr
        assert agent_pid() == running
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)


EVERY_COMMAND = {
    "validate": ["validate", "--format", "json"],
    "status": ["status", "--now", NOW],
    "plan": ["plan", "--now", NOW, "--publish-dir", "{tmp}/public", "--state-dir", "{tmp}/state"],
    "reconcile": ["reconcile", "--now", NOW, "--publish-dir", "{tmp}/public", "--state-dir", "{tmp}/state"],
    "metrics": ["metrics", "--now", NOW],
    "report-template": ["report-template", "arc-ce/6.19.0", "--site", "CESGA"],
    "codeowners": ["codeowners"],
    "github check": ["github", "check", "--pr", "1"],
    "github sync": ["github", "sync", "--now", NOW],
}
# Every variable rolloutctl reads, set to nothing, as a CI system passes one that is not defined.
EMPTY = {name: "" for name in ("GNUPGHOME", "CI", "GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL",
                               "ROLLOUTCTL_GITHUB_APP_ID", "ROLLOUTCTL_GITHUB_APP_KEY",
                               "ROLLOUTCTL_GITHUB_INSTALLATION_ID", "ROLLOUTCTL_SMTP_PORT", "ROLLOUTCTL_SMTP_STARTTLS",
                               "ROLLOUTCTL_SMTP_USER", "ROLLOUTCTL_SMTP_PASSWORD", "ROLLOUTCTL_SMTP_FROM")}
UNREACHABLE_GITHUB = {"GITHUB_TOKEN": "secret", "GITHUB_REPOSITORY": "umd/releases"}

CASES = [
    # a reader that goes away (`rolloutctl ... | head`): 141, as for any program killed by SIGPIPE, in silence
    *[(name, "broken pipe", {}, 141, "") for name in EVERY_COMMAND if not name.startswith("github")],
    # a directory it may not write: 3 and what to check; commands that only read do not mind
    ("reconcile", "unwritable publish directory", {"--publish-dir": UNWRITABLE + "/public"}, 3, "cannot write"),
    ("reconcile", "unwritable state directory", {"--state-dir": UNWRITABLE + "/state"}, 3, "cannot write"),
    ("plan", "unwritable publish directory", {"--publish-dir": UNWRITABLE + "/public"}, 0, ""),
    ("status", "unwritable publish directory", {"--publish-dir": UNWRITABLE + "/public"}, 0, ""),
    ("metrics", "unwritable output", {"--svg": UNWRITABLE + "/durations.svg"}, 3, "cannot write"),
    ("codeowners", "unwritable output", {"--output": UNWRITABLE + "/CODEOWNERS"}, 3, "cannot write"),
    ("codeowners", "output in a missing directory", {"--output": "/nonexistent/no/CODEOWNERS"}, 2, "does not exist"),
    # every variable empty: the defaults, or, where one is needed, 2 and which to set
    *[(name, "empty variables", EMPTY, 0, "") for name in EVERY_COMMAND if not name.startswith("github")],
    ("reconcile", "empty mail variables", {**EMPTY, "ROLLOUTCTL_SMTP_HOST": "127.0.0.1"}, 0, "outbox"),
    ("github check", "empty variables", EMPTY, 2, "pass --github-repo owner/name"),
    ("github sync", "empty variables", {**EMPTY, "GITHUB_REPOSITORY": "umd/releases"}, 2, "set GITHUB_TOKEN"),
    # a GitHub it cannot reach: 4, try again
    ("github check", "unreachable GitHub", UNREACHABLE_GITHUB, 4, "cannot reach GitHub"),
    ("github sync", "unreachable GitHub", UNREACHABLE_GITHUB, 4, "cannot reach GitHub"),
]


@pytest.mark.parametrize("name, fault, change, code, says", CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_every_command_meets_each_fault_with_its_exit_code_and_no_traceback(repo, tmp_path, name, fault, change,
                                                                            code, says):
    args = [a.replace("{tmp}", str(tmp_path)) for a in EVERY_COMMAND[name]]
    env = {}
    for key, value in change.items():
        if key.startswith("--"):  # a flag: replace its value, or add it
            args = args[:args.index(key) + 1] + [value] + args[args.index(key) + 2:] if key in args \
                else args + [key, value]
        else:
            env[key] = value
    if fault == "unreachable GitHub":
        env["GITHUB_API_URL"] = f"http://127.0.0.1:{closed_port()}"
    if fault == "empty mail variables":
        env["ROLLOUTCTL_SMTP_HOST"] = "127.0.0.1"  # the default port 25, where nothing listens here
    done = rolloutctl(repo, *args, env=env, broken_pipe=fault == "broken pipe")
    assert done.returncode == code, done.stderr
    assert says in done.stderr
    if code not in (0, 141):
        assert "hint:" in done.stderr  # and what to do about it
