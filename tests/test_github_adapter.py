"""The GitHub adapter end to end through PyGithub against the fake server on loopback."""

from __future__ import annotations

import pytest
from fake_github import FakeGitHub

from controller.errors import BadInput
from controller.sources.github import GitHub


@pytest.fixture
def fake():
    with FakeGitHub() as server:
        yield server


def client(fake, **kw) -> GitHub:
    return GitHub(fake.full, "secret-token", base_url=fake.url, backoff=0.01, write_interval=0, **kw)


def test_pull_request_files_are_read_across_pages(fake):
    files = [f"releases/argus/1.{i}.0/release.yaml" for i in range(130)]
    fake.add_pull(7, "aferri", "a" * 40, files, [("b" * 40, "aferri", "andrea.ferri@argus.example.org")])
    pr = client(fake).pull_request(7)
    assert pr.author == "aferri" and pr.files == tuple(files)
    assert pr.commits == (("b" * 40, "aferri", "andrea.ferri@argus.example.org"),)
    pages = [p for m, p in fake.log if p.endswith("/pulls/7/files")]
    assert len(pages) == 2  # 100 + 30


def test_annotations_go_in_batches_of_fifty(fake):
    annotations = [{"path": "releases/a/1/release.yaml", "start_line": i + 1, "end_line": i + 1,
                    "annotation_level": "failure", "message": f"problem {i}"} for i in range(120)]
    run_id = client(fake).report_check("c" * 40, "rolloutctl validate", "120 problems", "see annotations",
                                       annotations)
    run = fake.check_runs[run_id]
    assert len(run["annotations"]) == 120 and run["conclusion"] == "failure" and run["status"] == "completed"
    writes = [m for m, p in fake.log if "/check-runs" in p]
    assert writes == ["POST", "PATCH", "PATCH", "PATCH"]  # 50, 50, 20, then the conclusion


def test_the_summary_comment_is_updated_not_duplicated(fake):
    fake.add_pull(3, "aferri", "a" * 40, [], [])
    gh = client(fake)
    first = gh.upsert_comment(3, "<!-- rolloutctl -->", "<!-- rolloutctl -->\n2 problems")
    second = gh.upsert_comment(3, "<!-- rolloutctl -->", "<!-- rolloutctl -->\nno problems")
    assert first == second and [c["body"] for c in fake.comments.values()] == ["<!-- rolloutctl -->\nno problems"]


def test_a_rate_limited_request_is_retried(fake):
    fake.add_pull(4, "aferri", "a" * 40, ["x"], [])
    fake.throttle_next = 2
    assert client(fake).pull_request(4).files == ("x",)
    assert fake.throttle_next == 0


def test_only_the_latest_review_of_each_reviewer_counts(fake):
    fake.add_pull(5, "rolloutctl-bot", "a" * 40, [], [])
    fake.approve(5, "alopez")
    fake.pulls[5]["reviews"].append({"id": 1, "login": "cfernandez", "state": "APPROVED"})
    fake.pulls[5]["reviews"].append({"id": 2, "login": "cfernandez", "state": "CHANGES_REQUESTED"})
    approvals = client(fake).approvals(5)
    assert [a.login for a in approvals] == ["alopez"] and "pullrequestreview" in approvals[0].url


def test_a_pull_request_is_opened_from_a_new_branch(fake):
    gh = client(fake)
    number = gh.open_pull("rollout/argus-1.8.0", "Staged rollout of argus 1.8.0", "body")
    assert gh.find_pull("rollout/argus-1.8.0") == number and "heads/rollout/argus-1.8.0" in fake.refs


def test_a_bad_token_is_a_clear_error(fake):
    fake.add_pull(6, "aferri", "a" * 40, [], [])
    with pytest.raises(BadInput, match="GitHub refused"):
        GitHub(fake.full, "wrong", base_url=fake.url, backoff=0.01, write_interval=0).pull_request(6)


def test_a_github_app_installation_authenticates(fake, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "app.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))
    fake.add_pull(8, "aferri", "a" * 40, ["x"], [])
    env = {"ROLLOUTCTL_GITHUB_APP_ID": "42", "ROLLOUTCTL_GITHUB_APP_KEY": str(pem),
           "ROLLOUTCTL_GITHUB_INSTALLATION_ID": "7"}
    gh = GitHub(fake.full, base_url=fake.url, backoff=0.01, write_interval=0, env=env)
    assert gh.pull_request(8).files == ("x",) and fake.installations == [7]


def test_no_credentials_is_a_clear_error(fake):
    with pytest.raises(BadInput, match="no GitHub credentials"):
        GitHub(fake.full, base_url=fake.url, env={})
