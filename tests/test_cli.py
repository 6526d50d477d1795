"""The command line as users run it: a real process, real exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import manifest, verification

R = "releases/argus/1.8.0"


def rolloutctl(repo, *args):
    done = subprocess.run([sys.executable, "-m", "controller", "--repo", str(repo), *args],
                          capture_output=True, text=True)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_clean_repository_exits_0(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    done = rolloutctl(story.path, "validate")
    assert done.returncode == 0 and "no problems" in done.stderr


def test_findings_exit_1_with_file_line_and_hint(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": "component: argus\nversion: '1.8.0'\n"
                                                    "category: sometimes\n"})
    done = rolloutctl(story.path, "validate")
    assert done.returncode == 1
    assert f"{R}/release.yaml:3 /category: category is 'sometimes'; it must be one of" in done.stdout


def test_github_format_prints_workflow_annotations(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest(version="9.9")})
    done = rolloutctl(story.path, "validate", "--format", "github")
    assert done.returncode == 1
    annotation = next(line for line in done.stdout.splitlines() if "paths-agree" in line)
    assert annotation.startswith(f"::error file={R}/release.yaml,line=2,title=paths-agree::version is '9.9'")


def test_json_format_lists_every_problem(story):
    doc = manifest(extra_field=1)
    doc["packages"][0]["sha256"] = "0" * 63
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    report = json.loads(rolloutctl(story.path, "validate", "--format", "json").stdout)
    pointers = {p["pointer"] for p in report["problems"]}
    assert {"/extra_field", "/packages/0/sha256"} <= pointers


def test_bad_usage_and_bad_input_exit_2(story, tmp_path):
    assert rolloutctl(story.path, "validate", "--now", "yesterday").returncode == 2
    assert rolloutctl(story.path, "frobnicate").returncode == 2
    not_a_repo = rolloutctl(tmp_path / "nowhere", "validate")
    assert not_a_repo.returncode == 2 and "not a git repository" in not_a_repo.stderr
    missing_rev = rolloutctl(story.path, "validate", "--base", "no-such-branch")
    assert missing_rev.returncode == 2 and "revision 'no-such-branch' not found" in missing_rev.stderr
    unknown = rolloutctl(story.path, "status", "argus/0.0.1")
    assert unknown.returncode == 2 and "no release 'argus/0.0.1'" in unknown.stderr


def test_a_repository_without_commits_says_to_commit_first(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path / "new")], check=True)
    done = rolloutctl(tmp_path / "new", "validate")
    assert done.returncode == 2 and "has no commits yet" in done.stderr and "git commit" in done.stderr


def test_base_checks_only_what_the_pull_request_changes(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {"releases/argus/1.7.9/release.yaml": manifest(version="1.7.8")})
    story.git.git("branch", "-f", "main-before")
    story.git.git("checkout", "-q", "-b", "pr")
    story.commit("ines", "2026-11-03T09:00:00Z", {f"{R}/release.yaml": manifest()}, "a provider file by the TU")
    whole = json.loads(rolloutctl(story.path, "validate", "--format", "json").stdout)
    pr = json.loads(rolloutctl(story.path, "validate", "--base", "main-before", "--format", "json").stdout)
    assert {p["file"] for p in whole["problems"]} == {"releases/argus/1.7.9/release.yaml", f"{R}/release.yaml"}
    assert [(p["file"], p["rule"]) for p in pr["problems"]] == [(f"{R}/release.yaml", "roles")]


def test_status_json_explains_state_actor_and_timers(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{R}/verification.yaml": verification()})
    out = json.loads(rolloutctl(story.path, "status", "--now", "2026-11-03T12:00:00Z", "--format", "json").stdout)
    [release] = out["releases"]
    # Its packages are downloads: until reconcile fetches them it waits for ingestion.
    assert release["state"] == "certified" and "repository managers" in release["next_actor"]
    timers = {t["name"]: t for t in release["timers"]}
    assert timers["step 1: ingestion"]["overdue"] is True


def test_status_check_fails_when_a_step_is_overdue_and_passes_when_all_is_well(story):
    quiet = rolloutctl(story.path, "status", "--check", "--now", "2026-11-03T12:00:00Z")
    assert quiet.returncode == 0 and "check: all well" in quiet.stderr
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    late = rolloutctl(story.path, "status", "--check", "--now", "2026-11-03T12:00:00Z")
    assert late.returncode == 1 and "argus/1.8.0: step 1: ingestion is overdue" in late.stderr
    document = json.loads(rolloutctl(story.path, "status", "--check", "--format", "json", "--now",
                                     "2026-11-03T12:00:00Z").stdout)
    assert document["check"] == ["argus/1.8.0: step 1: ingestion is overdue"] and document["version"] == 1


def test_plan_and_reconcile_speak_json_and_quiet_leaves_one_line(story, tmp_path):
    from test_reconcile import arc_release

    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    where = ["--now", "2026-11-02T10:00:00Z", "--publish-dir", str(tmp_path / "public"), "--state-dir",
             str(tmp_path / "state")]
    plan = json.loads(rolloutctl(story.path, "plan", *where, "--format", "json").stdout)
    assert plan["command"] == "plan" and {f["release"] for f in plan["fetches"]} == {"arc-ce/6.19.0"}
    added = {c["channel"]: c["added"] for c in plan["channels"]}
    assert added["unverified"]["umd5-el9"] == ["arc-ce-6.19.0-1.el9.noarch.rpm"] and added["production"] == {}
    assert plan["state_changes"] == [{"release": "arc-ce/6.19.0", "from": None, "to": "unverified"}]
    done = rolloutctl(story.path, "reconcile", *where, "--format", "json")
    outcome = json.loads(done.stdout)
    assert done.returncode == 0 and outcome["changed"] is True and outcome["failures"] == []
    assert sorted(f["filename"] for f in outcome["fetched"]) == sorted(f["filename"] for f in plan["fetches"])
    assert {c["channel"]: c["added"] for c in outcome["channels"]} == added
    again = rolloutctl(story.path, "reconcile", *where, "--quiet")
    assert again.returncode == 0 and again.stdout.count("\n") == 1 and again.stderr == ""
    assert again.stdout.startswith("reconcile: nothing can have changed since the last run")


def test_reconcile_tells_a_ci_log_what_it_did_in_one_summary_line(story, tmp_path):
    from test_reconcile import arc_release

    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    done = rolloutctl(story.path, "reconcile", "--now", "2026-11-02T10:00:00Z", "--publish-dir",
                      str(tmp_path / "public"), "--quiet")
    [line] = done.stdout.splitlines()
    assert line.startswith("reconcile: fetched 2 package(s) (") and "published unverified" in line
    assert "1 state change(s); 0 message(s) sent" in line
