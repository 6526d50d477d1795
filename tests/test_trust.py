"""Who may change what, as of when: real git histories, commit by commit, with the actors named.

Each change counts only when its author held the role in the configuration as it stood before the
change landed; an unauthorized, malformed or late change is reported and ignored, so the first
authorized version of each file stands and nothing already in Production is demoted or altered.
"""

from __future__ import annotations

import yaml
from conftest import ARC, NOW, TOP, arc_packages, arc_release, manifest, report_done, verification

from controller import app
from controller.core.model import State

R = "releases/argus/1.8.0"
KEY = "arc-ce/6.19.0"
IFCA = "adopters/IFCA-LCG2.yaml"


def state(story, key: str) -> State | None:
    status = app.status(str(story.path), "HEAD", NOW).statuses.get(key)
    return status.state if status else None


def findings(story, rule: str, base: str | None = None) -> list:
    return [p for p in app.validate(str(story.path), "HEAD", NOW, base).problems if p.rule == rule]


def arc_in_production(story) -> None:
    """arc-ce 6.19.0: certified, verified, rolled out at CESGA, approved; the grace period ends
    long before NOW."""
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release(), "arc-ce 6.19.0")
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    story.commit("cesga", "2026-11-02T11:00:00Z",
                 {f"{ARC}/reports/CESGA.yaml": report_done("CESGA", "6.19.0", arc_packages())})
    story.commit("maria", "2026-11-03T09:00:00Z", {f"{ARC}/decision.yaml": {"outcome": "success", "summary": "ok"}})
    assert state(story, KEY) == State.PRODUCTION


def roles_with(change) -> str:
    roles = yaml.safe_load((TOP / "repos-config/roles.yaml").read_text())
    change(roles)
    return yaml.safe_dump(roles, sort_keys=False)


def lars_joins_the_technology_unit_and_verifies(story, granted_by: str) -> None:
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.commit(granted_by, "2026-11-02T10:00:00Z", {"repos-config/roles.yaml": roles_with(
        lambda roles: roles["teams"]["technology-unit"].append("lars"))}, "lars joins the technology unit")
    story.commit("lars", "2026-11-02T11:00:00Z", {f"{ARC}/verification.yaml": verification()})


def test_a_provider_who_adds_himself_to_the_technology_unit_cannot_verify(story):
    lars_joins_the_technology_unit_and_verifies(story, granted_by="lars")
    assert state(story, KEY) == State.UNVERIFIED
    problems = {p.file: p.message for p in findings(story, "roles")}
    assert "only a repository manager may change it" in problems["repos-config/roles.yaml"]
    assert "only the technology unit may change it" in problems[f"{ARC}/verification.yaml"]


def test_a_role_granted_by_a_repository_manager_counts_from_the_next_change(story):
    lars_joins_the_technology_unit_and_verifies(story, granted_by="maria")
    assert state(story, KEY) == State.VERIFIED
    assert findings(story, "roles") == []


def test_an_outsider_who_adds_himself_to_a_site_cannot_accept_for_it(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{R}/verification.yaml": verification()})
    site = yaml.safe_load((TOP / IFCA).read_text())
    site["administrators"].append({"name": "Mallory", "email": "mallory@elsewhere.example.org"})
    story.commit("mallory", "2026-11-02T11:00:00Z", {IFCA: yaml.safe_dump(site)}, "help IFCA")
    story.commit("mallory", "2026-11-02T12:00:00Z",
                 {f"{R}/reports/IFCA-LCG2.yaml": {"site": "IFCA-LCG2", "status": "rolling-out"}})
    problems = findings(story, "roles")
    assert [p.file for p in problems] == [IFCA, f"{R}/reports/IFCA-LCG2.yaml"]
    assert "only an administrator of site IFCA-LCG2 may change it" in problems[0].message
    result = app.validate(str(story.path), "HEAD", NOW)
    assert result.problems and all(p.rule == "roles" for p in result.problems)
    world, _ = app.read_world(str(story.path), "HEAD")
    assert [a.emails for a in world.adopters["IFCA-LCG2"].admins] == [("alvaro.lopez@ifca.example.org",)]
    assert world.releases["argus/1.8.0"].reports == ()


def test_a_merge_that_writes_what_neither_parent_had_is_the_merge_authors(story):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.git.git("checkout", "-q", "-b", "verification")
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification("rejected")})
    story.git.git("checkout", "-q", "main")
    # The merge commit says "verified" where the technology unit's branch said "rejected".
    story.git.git("merge", "-q", "--no-ff", "--no-commit", "verification")
    story.git.write(f"{ARC}/verification.yaml", yaml.safe_dump(verification("verified"), sort_keys=False))
    story.commit("maria", "2026-11-02T11:00:00Z", message="Merge pull request #3")
    assert state(story, KEY) == State.UNVERIFIED
    [problem] = findings(story, "roles")
    assert problem.file == f"{ARC}/verification.yaml" and "Maria Duarte" in problem.message


def test_a_clean_merge_is_the_branch_authors(story):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.git.git("checkout", "-q", "-b", "verification")
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    story.git.git("checkout", "-q", "main")
    story.git.git("merge", "-q", "--no-ff", "--no-commit", "verification")
    story.commit("maria", "2026-11-02T11:00:00Z", message="Merge pull request #3")
    assert state(story, KEY) == State.VERIFIED


def test_a_rewritten_manifest_does_not_change_what_production_serves(story):
    arc_in_production(story)
    served = app.read_world(str(story.path), "HEAD")[0].releases[KEY].release.packages
    rewritten = (TOP / ARC / "release.yaml").read_text().replace("path: packages/arc-ce-6.19.0-1.el9.noarch.rpm",
                                                                 "url: https://evil.example.org/arc-ce-6.19.0-1.el9."
                                                                 "noarch.rpm")
    assert "evil" in rewritten
    story.commit("lars", "2026-11-10T09:00:00Z", {f"{ARC}/release.yaml": rewritten})
    world, _ = app.read_world(str(story.path), "HEAD")
    assert world.releases[KEY].release.packages == served
    assert state(story, KEY) == State.PRODUCTION
    [problem] = findings(story, "release-immutable")
    assert "changed after it was merged" in problem.message and "new version" in problem.hint


def test_an_outsiders_edit_of_a_verification_demotes_nothing(story):
    arc_in_production(story)
    story.commit("mallory", "2026-11-10T09:00:00Z",
                 {f"{ARC}/verification.yaml": "# reviewed\n" + yaml.safe_dump(verification())})
    assert state(story, KEY) == State.PRODUCTION
    assert {p.rule for p in findings(story, "roles") + findings(story, "final")} == {"roles", "final"}


def test_a_directory_put_where_the_verification_was_demotes_nothing(story):
    arc_in_production(story)
    story.commit("mallory", "2026-11-10T09:00:00Z", {f"{ARC}/verification.yaml": None})
    story.commit("mallory", "2026-11-10T09:30:00Z", {f"{ARC}/verification.yaml/x.yaml": "result: rejected\n"})
    assert state(story, KEY) == State.PRODUCTION
    assert any(p.file == f"{ARC}/verification.yaml" and "deleted" in p.message for p in findings(story, "final"))


def test_a_late_edit_by_the_role_holder_is_ignored_too(story):
    arc_in_production(story)
    story.commit("ines", "2026-11-10T09:00:00Z", {f"{ARC}/verification.yaml": verification("rejected")})
    assert state(story, KEY) == State.PRODUCTION
    [problem] = findings(story, "final")
    assert "a merged step is final" in problem.message


def test_a_step_that_came_too_early_can_be_committed_again(story):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.commit("cesga", "2026-11-02T10:00:00Z", {f"{ARC}/reports/CESGA.yaml": {"site": "CESGA",
                                                                                   "status": "rolling-out"}})
    [problem] = findings(story, "order")
    assert problem.file == f"{ARC}/reports/CESGA.yaml" and "needs a verified release" in problem.message
    story.commit("ines", "2026-11-02T11:00:00Z", {f"{ARC}/verification.yaml": verification()})
    story.commit("cesga", "2026-11-02T12:00:00Z", {f"{ARC}/reports/CESGA.yaml": {"site": "CESGA",
                                                                                   "status": "rolling-out",
                                                                                   "comments": "accepted"}})
    assert state(story, KEY) == State.ROLLING_OUT and findings(story, "order") == []


def test_a_pull_request_is_judged_against_the_roles_of_its_base(story):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.git.git("checkout", "-q", "-b", "pr")
    story.commit("lars", "2026-11-02T10:00:00Z", {"repos-config/roles.yaml": roles_with(
        lambda roles: roles["teams"]["technology-unit"].append("lars")),
        f"{ARC}/verification.yaml": yaml.safe_dump(verification())})
    problems = findings(story, "roles", base="main")
    assert sorted(p.file for p in problems) == [f"{ARC}/verification.yaml", "repos-config/roles.yaml"]


def test_commits_dated_in_the_future_are_reported(story):
    story.commit("lars", "2027-03-01T09:00:00Z", arc_release())
    problems = findings(story, "future-date")
    assert problems and all("2027-03-01" in p.message for p in problems)
    assert state(story, KEY) is None  # it counts from its date, not before


# --- adopting a history: the trust anchor ------------------------------------------------------


def anchored_roles(story, commit: str) -> str:
    roles = yaml.safe_load((story.path / "repos-config/roles.yaml").read_text())
    roles["trust_anchor"] = {"commit": commit, "reason": "written before roles applied"}
    return yaml.safe_dump(roles, sort_keys=False)


def history_written_without_roles(story) -> str:
    """A release and its verification, both written by someone who holds no role."""
    story.commit("mallory", "2026-11-02T09:00:00Z", arc_release())
    return story.commit("mallory", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})


def test_a_history_is_adopted_from_the_anchor_a_manager_names(story):
    last = history_written_without_roles(story)
    assert state(story, KEY) is None and findings(story, "roles")
    story.commit("maria", "2026-11-03T09:00:00Z", {"repos-config/roles.yaml": anchored_roles(story, last)})
    result = app.validate(str(story.path), "HEAD", NOW)
    assert result.problems == []
    assert result.notes and "trust anchor" in result.notes[0] and last[:10] in result.notes[0]
    assert state(story, KEY) == State.VERIFIED
    story.commit("mallory", "2026-11-04T09:00:00Z", {f"{ARC}/decision.yaml": {"outcome": "success", "summary": "ok"}})
    [problem] = findings(story, "roles")
    assert problem.file == f"{ARC}/decision.yaml"  # after the anchor, every change is checked again


def test_only_a_repository_manager_moves_the_anchor(story):
    last = history_written_without_roles(story)
    story.commit("mallory", "2026-11-03T09:00:00Z", {"repos-config/roles.yaml": anchored_roles(story, last)})
    assert state(story, KEY) is None
    assert {p.file for p in findings(story, "roles")} == {"repos-config/roles.yaml", f"{ARC}/release.yaml",
                                                            f"{ARC}/verification.yaml"} | {
        f"{ARC}/packages/{name}" for name in ("arc-ce-6.19.0-1.el9.noarch.rpm", "arc-ce_6.19.0-1_all.deb")}


def test_an_anchor_that_is_not_on_the_branch_is_reported(story):
    history_written_without_roles(story)
    story.commit("maria", "2026-11-03T09:00:00Z", {"repos-config/roles.yaml": anchored_roles(story, "0" * 40)})
    [problem] = findings(story, "trust-anchor")
    assert problem.file == "repos-config/roles.yaml" and "not a commit of this branch" in problem.message
    assert state(story, KEY) is None


def test_an_anchor_on_itself_imports_the_change_it_comes_with(story):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    rewritten = (TOP / ARC / "release.yaml").read_text().replace("summary:", "summary: Corrected.", 1)
    story.commit("maria", "2026-11-03T09:00:00Z", {f"{ARC}/release.yaml": rewritten,
                                                    "repos-config/roles.yaml": anchored_roles(story, "self")})
    result = app.validate(str(story.path), "HEAD", NOW)
    assert result.problems == [] and "trust anchor" in result.notes[0]
    world, _ = app.read_world(str(story.path), "HEAD")
    assert world.releases[KEY].release.summary.startswith("Corrected.")
