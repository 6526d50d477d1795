"""Every policy rule both ways, on real git repositories written commit by commit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from conftest import ARC, NOW, arc_packages, arc_release, manifest, package, report_done, verification

from controller import app
from controller.core.assess import Ingest, assess
from controller.core.desired import compute_desired
from controller.core.model import State
from controller.core.public import status_document
from controller.core.timeline import landing
from controller.core.views import release_views

R = "releases/argus/1.8.0"


def accepted(site):
    return {f"{R}/reports/{site}.yaml": {"site": site, "status": "rolling-out"}}


def reported(site, release):
    return {f"{R}/reports/{site}.yaml": report_done(site, "1.8.0", release["packages"])}


def findings(story, rule=None, base=None):
    result = app.validate(str(story.path), "HEAD", NOW, base)
    return [p for p in result.problems if rule is None or p.rule == rule]


def test_a_clean_release_passes(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    assert findings(story) == []


def test_version_that_does_not_match_its_directory_is_refused(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest(version="1.8.1")})
    [problem] = findings(story, "paths-agree")
    assert problem.file == f"{R}/release.yaml" and problem.pointer == "/version"
    assert "'1.8.1' but the directory says '1.8.0'" in problem.message


@pytest.mark.parametrize("path", ["../../x.rpm", "/etc/x.rpm", "packages/../../../x.rpm", "./packages/x.rpm"])
def test_path_tricks_in_package_paths_are_refused(story, path):
    doc = manifest()
    doc["packages"][0].pop("url")
    doc["packages"][0]["path"] = path
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    problems = findings(story, "package-source")
    assert any(p.pointer == "/packages/0/path" and "leaves the release directory" in p.message for p in problems)


def test_absolute_path_as_package_name_is_refused_by_the_schema(story):
    doc = manifest()
    doc["packages"][0]["name"] = "/usr/bin/evil"
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    [problem] = findings(story, "schema")
    assert problem.pointer == "/packages/0/name" and "not well formed" in problem.message


def test_file_urls_outside_the_allowed_roots_are_refused(story):
    doc = manifest()
    doc["packages"][0]["url"] = "file:///etc/argus-pap-1.8.0-1.el9.noarch.rpm"
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    [problem] = findings(story, "package-source")
    assert "file_roots" in problem.hint


def test_file_name_must_agree_with_package_fields(story):
    doc = manifest()
    doc["packages"][0]["url"] = "https://example.org/argus-pap-1.9.0-1.el9.noarch.rpm"
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    [problem] = findings(story, "package-source")
    assert "'argus-pap-1.8.0-1.el9.noarch.rpm'" in problem.message


def test_checksum_of_the_wrong_length_names_the_field_and_line(story):
    doc = manifest()
    doc["packages"][0]["sha256"] = "abc123"
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    [problem] = findings(story, "schema")
    assert problem.pointer == "/packages/0/sha256" and problem.line is not None
    assert "64 lower-case hexadecimal" in problem.hint


def test_unknown_field_and_wrong_type_are_both_reported(story):
    doc = manifest(summmary="typo")
    doc["packages"][0]["size"] = "big"
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    messages = {p.message for p in findings(story, "schema")}
    assert "unknown field 'summmary'" in messages
    assert any("size must be a whole number" in m for m in messages)


def test_malformed_yaml_is_reported_with_its_line(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": "component: argus\nversion: [1.8\n"})
    [problem] = findings(story, "yaml")
    assert problem.file == f"{R}/release.yaml" and problem.line == 3 and "not valid YAML" in problem.message


def test_yaml_alias_bomb_is_refused(story):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefg":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]\n"
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": bomb})
    [problem] = findings(story, "yaml")
    assert "alias bomb" in problem.hint


def test_baseline_major_version_is_enforced(story):
    doc = manifest(version="2.0.0", category="major")
    story.commit("andrea", "2026-11-02T09:00:00Z", {"releases/argus/2.0.0/release.yaml": doc})
    [problem] = findings(story, "baseline")
    assert "carries argus 1.x" in problem.message


def test_emergency_needs_a_justification(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest(category="emergency")})
    [problem] = findings(story, "emergency-justification")
    assert "written justification" in problem.message


def test_cve_without_security_section_is_refused(story):
    doc = manifest(changelog="Fix CVE-2026-1234 in the PAP.")
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    [problem] = findings(story, "security-advisory")
    assert "CVE-2026-1234" in problem.message
    fixed = manifest(version="1.8.1", changelog="Fix CVE-2026-1234 in the PAP.",
                     security={"advisory": "https://example.org/adv", "severity": "high", "cves": ["CVE-2026-1234"]})
    fixed["packages"] = [package(version="1.8.1")]
    story.commit("andrea", "2026-11-03T09:00:00Z", {"releases/argus/1.8.1/release.yaml": fixed})
    assert [p.file for p in findings(story, "security-advisory")] == [f"{R}/release.yaml"]


def test_one_package_build_claimed_by_two_releases_is_refused(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    doc = manifest(version="1.8.1")
    doc["packages"] = [package(version="1.8.0")]
    story.commit("andrea", "2026-11-03T09:00:00Z", {"releases/argus/1.8.1/release.yaml": doc})
    [problem] = findings(story, "unique-package")
    assert problem.file == "releases/argus/1.8.1/release.yaml" and "claimed by release argus/1.8.0" in problem.message


def test_release_yaml_edited_after_merge_is_refused(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    assert not findings(story, "release-immutable")
    story.commit("andrea", "2026-11-03T09:00:00Z", {f"{R}/release.yaml": manifest(summary="changed")})
    [problem] = findings(story, "release-immutable")
    assert "changed after it was merged" in problem.message and "new version" in problem.hint


def test_verification_committed_by_a_provider_is_refused(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("andrea", "2026-11-03T09:00:00Z", {f"{R}/verification.yaml": verification()})
    [problem] = findings(story, "roles")
    assert problem.file == f"{R}/verification.yaml" and "only the technology unit may change it" in problem.message


def test_verification_by_the_technology_unit_passes(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("ines", "2026-11-03T09:00:00Z", {f"{R}/verification.yaml": verification()})
    assert findings(story) == []


def test_release_from_outside_the_provider_team_is_refused(story):
    story.commit("lars", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    [problem] = findings(story, "roles")
    assert "only the provider team of argus may change it" in problem.message


def test_verification_before_the_release_exists_is_refused(story):
    story.commit("ines", "2026-11-01T09:00:00Z", {f"{R}/verification.yaml": verification()})
    [problem] = findings(story, "order")
    assert "no valid release.yaml" in problem.message


def test_report_for_a_site_that_does_not_exist_is_refused(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("ifca", "2026-11-03T09:00:00Z", accepted("NOWHERE"))
    problems = findings(story, "registered-site")
    assert problems and "not a registered early adopter" in problems[0].message


def test_report_for_another_site_is_refused(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{R}/verification.yaml": verification()})
    story.commit("ifca", "2026-11-03T09:00:00Z", accepted("CESGA"))
    [problem] = findings(story, "roles")
    assert "administrator of site CESGA" in problem.message


def test_decision_before_every_accepting_site_reported_is_refused(story):
    doc = manifest()
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{R}/verification.yaml": verification()})
    story.commit("ifca", "2026-11-02T11:00:00Z", accepted("IFCA-LCG2"))
    story.commit("maria", "2026-11-03T09:00:00Z", {f"{R}/decision.yaml": {"outcome": "success", "summary": "ok"}})
    [problem] = findings(story, "order")
    assert problem.file == f"{R}/decision.yaml" and "rolling-out" in problem.message
    assert "wait for the reports of IFCA-LCG2" in problem.hint


def test_decision_after_every_report_passes(story):
    doc = manifest()
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{R}/verification.yaml": verification()})
    story.commit("ifca", "2026-11-02T11:00:00Z", accepted("IFCA-LCG2"))
    story.commit("ifca", "2026-11-03T08:00:00Z", reported("IFCA-LCG2", doc))
    story.commit("maria", "2026-11-03T09:00:00Z", {f"{R}/decision.yaml": {"outcome": "success", "summary": "ok"}})
    assert findings(story) == []


def test_report_before_verification_is_refused(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("ifca", "2026-11-02T11:00:00Z", accepted("IFCA-LCG2"))
    [problem] = findings(story, "order")
    assert problem.file == f"{R}/reports/IFCA-LCG2.yaml" and "needs a verified release" in problem.message


def test_report_must_name_the_tested_checksums(story):
    doc = manifest()
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{R}/verification.yaml": verification()})
    wrong = report_done("IFCA-LCG2", "1.8.0", [dict(doc["packages"][0], sha256="b" * 64)])
    story.commit("ifca", "2026-11-03T09:00:00Z", {f"{R}/reports/IFCA-LCG2.yaml": wrong})
    [problem] = findings(story, "report-tested")
    assert problem.pointer == "/tested/packages/0/sha256"
    story.commit("ifca", "2026-11-03T10:00:00Z", reported("IFCA-LCG2", doc))
    assert not findings(story, "report-tested")


def test_provider_site_does_not_count_as_independent(story):
    doc = manifest(provider={"name": "ARGUS at IFCA", "contact": "alvaro.lopez@ifca.example.org"})
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    story.commit("ifca", "2026-11-03T09:00:00Z", accepted("IFCA-LCG2"))
    [problem] = findings(story, "independent-ea")
    assert "does not count as an independent early adopter" in problem.message


def test_cadence_gives_the_date_the_next_release_is_allowed(story):
    first = manifest(category="revision", version="1.8.0")
    story.commit("andrea", "2026-10-01T09:00:00Z", {f"{R}/release.yaml": first})
    story.commit("ines", "2026-10-01T10:00:00Z", {f"{R}/verification.yaml": verification()})
    story.commit("maria", "2026-10-01T11:00:00Z", {f"{R}/decision.yaml": {"outcome": "success", "summary": "ok",
                                                                          "skip_staged_rollout": True}})
    assert not findings(story, "cadence")  # the skip itself is refused for a revision, see below
    # Production needs a real rollout: IFCA reports, the manager approves, grace passes.
    story.commit("maria", "2026-10-01T11:30:00Z", {f"{R}/decision.yaml": None})
    story.commit("ifca", "2026-10-01T12:00:00Z", reported("IFCA-LCG2", first))
    story.commit("maria", "2026-10-02T09:00:00Z", {f"{R}/decision.yaml": {"outcome": "success", "summary": "ok"}})
    second = manifest(category="revision", version="1.8.1")
    story.commit("andrea", "2026-10-12T09:00:00Z", {"releases/argus/1.8.1/release.yaml": second})
    [problem] = findings(story, "cadence")
    assert problem.file == "releases/argus/1.8.1/release.yaml"
    assert "reached production on 2026-10-09" in problem.message and "allowed from 2026-10-23" in problem.hint


def test_skipping_staged_rollout_is_only_for_emergencies(story):
    story.commit("andrea", "2026-10-01T09:00:00Z", {f"{R}/release.yaml": manifest(category="revision")})
    story.commit("ines", "2026-10-01T10:00:00Z", {f"{R}/verification.yaml": verification()})
    story.commit("maria", "2026-10-01T11:00:00Z", {f"{R}/decision.yaml": {"outcome": "success", "summary": "ok",
                                                                          "skip_staged_rollout": True}})
    problems = findings(story, "emergency-justification")
    assert problems and problems[0].file == f"{R}/decision.yaml"


def test_unrecognized_file_is_reported(story):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/notes.txt": "hello"})
    [problem] = findings(story, "layout")
    assert "not recognized" in problem.message


def test_edits_inside_the_pull_request_that_creates_a_release_are_not_changes_after_merge(story):
    story.git.git("checkout", "-q", "-b", "provider")
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest(summary="first try")})
    story.commit("andrea", "2026-11-02T10:00:00Z", {f"{R}/release.yaml": manifest()})
    story.git.git("checkout", "-q", "main")
    story.git.git("merge", "-q", "--no-ff", "-m", "Merge pull request #9", "provider",
                  env={"GIT_AUTHOR_NAME": "Maria Duarte", "GIT_AUTHOR_EMAIL": "maria.duarte@umd.example.org",
                       "GIT_COMMITTER_NAME": "Maria Duarte", "GIT_COMMITTER_EMAIL": "maria.duarte@umd.example.org"})
    assert not findings(story, "release-immutable")
    story.commit("andrea", "2026-11-03T09:00:00Z", {f"{R}/release.yaml": manifest(summary="after merge")})
    assert findings(story, "release-immutable")


@pytest.mark.parametrize("approver,counted", [("cfernandez", True), ("kkoumantaros", False), (None, False)])
def test_an_acceptance_by_the_controller_counts_only_for_an_admin_of_that_site(story, approver, counted):
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": manifest()})
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{R}/verification.yaml": verification()})
    message = "CESGA accepts" + (f"\n\nApproved-by: {approver}\nReview: https://github.example/r" if approver else "")
    story.commit("controller", "2026-11-02T11:00:00Z", accepted("CESGA"), message)
    assert bool(findings(story, "roles")) is not counted


# --- rules that gate: they act on the lifecycle, not only report -------------------------------


def assessed(story, now):
    """Every release assessed at ``now`` with its packages taken as fetched when it was merged."""
    world, problems = app.read_world(str(story.path), "HEAD")
    fetched = {key: Ingest(True, landing(world.snapshot, files.release.path).landed.committer.time)
               for key, files in world.releases.items() if files.release is not None}
    return world, assess(world, now, fetched, problems=problems)


def revision_through_rollout(story, version: str, day: int) -> None:
    """A revision of argus certified, verified and reported on October ``day``, approved the day after."""
    doc = manifest(category="revision", version=version)
    base = f"releases/argus/{version}"
    story.commit("andrea", f"2026-10-{day:02d}T09:00:00Z", {f"{base}/release.yaml": doc})
    story.commit("ines", f"2026-10-{day:02d}T10:00:00Z", {f"{base}/verification.yaml": verification()})
    story.commit("ifca", f"2026-10-{day:02d}T12:00:00Z",
                 {f"{base}/reports/IFCA-LCG2.yaml": report_done("IFCA-LCG2", version, doc["packages"])})
    story.commit("maria", f"2026-10-{day + 1:02d}T09:00:00Z",
                 {f"{base}/decision.yaml": {"outcome": "success", "summary": "ok"}})


def test_an_early_revision_is_held_before_production_until_its_date(story):
    revision_through_rollout(story, "1.8.0", 1)  # reaches Production on 2026-10-09
    revision_through_rollout(story, "1.8.1", 12)  # its grace period ends on 2026-10-20
    _, early = assessed(story, datetime(2026, 10, 21, tzinfo=UTC))
    held = early.statuses["argus/1.8.1"]
    assert held.state == State.APPROVED and held.channel == "staged-rollout"
    assert held.held_until == datetime(2026, 10, 23, 9, tzinfo=UTC) and "held until 2026-10-23" in held.waiting_for
    assert early.next_change <= held.held_until
    _, later = assessed(story, datetime(2026, 10, 24, tzinfo=UTC))
    assert later.statuses["argus/1.8.1"].state == State.PRODUCTION
    assert later.statuses["argus/1.8.1"].production_at == held.held_until
    assert later.statuses["argus/1.8.0"].state == State.PRODUCTION


def test_a_release_of_another_major_is_published_to_no_channel(story):
    doc = manifest(version="2.0.0", category="major")
    story.commit("andrea", "2026-11-02T09:00:00Z", {"releases/argus/2.0.0/release.yaml": doc})
    story.commit("ines", "2026-11-02T10:00:00Z", {"releases/argus/2.0.0/verification.yaml": verification()})
    world, assessment = assessed(story, NOW)
    status = assessment.statuses["argus/2.0.0"]
    assert status.channel is None and "carries argus 1.x" in status.gated and "no channel" in status.waiting_for
    desired = compute_desired(world, assessment, NOW)
    assert all(not repo.entries for content in desired.values() for repo in content.repos)


def test_a_report_with_other_checksums_does_not_count(story):
    story.commit("lars", "2026-11-02T09:00:00Z", arc_release())
    story.commit("ines", "2026-11-02T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    story.commit("cesga", "2026-11-02T11:00:00Z", {f"{ARC}/reports/CESGA.yaml": {"site": "CESGA",
                                                                                   "status": "rolling-out"}})
    wrong = [dict(p, sha256="b" * 64) for p in arc_packages()]
    story.commit("cesga", "2026-11-03T11:00:00Z", {f"{ARC}/reports/CESGA.yaml": report_done("CESGA", "6.19.0", wrong)})
    assert app.status(str(story.path), "HEAD", NOW).statuses["arc-ce/6.19.0"].state == State.ROLLING_OUT
    assert {p.pointer for p in findings(story, "report-tested")} == {"/tested/packages/0/sha256",
                                                                      "/tested/packages/1/sha256"}


def test_validate_base_finds_committed_packages_that_are_not_what_the_manifest_says(story):
    story.git.git("checkout", "-q", "-b", "pr")
    files = arc_release()
    manifest_text = files.pop(f"{ARC}/release.yaml").decode().replace("6.19.0", "6.19.1")
    target = "releases/arc-ce/6.19.1"
    packages = {f"{target}/packages/{name.replace('6.19.0', '6.19.1')}": data for name, data in
                ((path.rsplit("/", 1)[1], data) for path, data in files.items())}
    rpm = next(path for path in packages if path.endswith(".rpm"))
    story.commit("lars", "2026-11-02T09:00:00Z", {f"{target}/release.yaml": manifest_text, **packages})
    problems = findings(story, "package-file", base="main")
    assert {p.pointer for p in problems} == {"/packages/0", "/packages/1"}
    assert all("header says arc-ce" in p.message and "6.19.0" in p.message for p in problems)
    story.commit("lars", "2026-11-02T10:00:00Z", {rpm: packages[rpm][:-1]})  # a truncated upload
    assert any("size is 6220 bytes, the manifest says 6221" in p.message for p in findings(story, "package-file",
                                                                                          base="main"))


def test_credentials_in_a_package_url_are_refused_and_never_shown(story):
    doc = manifest()
    doc["packages"][0]["url"] = "https://mirror:s3cret@argus.example.org/repo/argus-pap-1.8.0-1.el9.noarch.rpm"
    doc["release_notes"] = "https://reader:t0ken@example.org/notes"
    story.commit("andrea", "2026-11-02T09:00:00Z", {f"{R}/release.yaml": doc})
    [problem] = findings(story, "package-source")
    assert "carries credentials" in problem.message and problem.pointer == "/packages/0/url"
    everything = repr(app.validate(str(story.path), "HEAD", NOW).problems)
    assert "s3cret" not in everything
    world, assessment = assessed(story, NOW)
    failed = dict(assessment.statuses)
    failed["argus/1.8.0"] = replace(failed["argus/1.8.0"], waiting_for="a fetch (last failure: https://mirror:s3cret@"
                                    "argus.example.org/repo/x.rpm: 401)")
    public = repr(status_document(world, replace(assessment, statuses=failed), NOW))
    public += repr(release_views(world, assessment, NOW))
    assert "s3cret" not in public and "t0ken" not in public and "https://***@example.org/notes" in public
