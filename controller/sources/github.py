"""GitHub as the workflow around the git record, through PyGithub. The only PyGithub user.

Reads a pull request (author, files, commits with their authors, approvals), reports validation
as a check run with line annotations (GitHub takes at most 50 per request, so they go in batches),
keeps one summary comment up to date, opens the rollout pull request of a release once, sets
labels, and lands a file on a protected branch through a pull request that it merges. Token from
GITHUB_TOKEN; rate limits and secondary limits (403/429 with Retry-After) are retried with backoff
by PyGithub's GithubRetry; lists are paged; a GitHub that cannot be reached is a Transient error.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from github import Auth, Github, GithubException, GithubRetry, InputGitAuthor
from requests.exceptions import RequestException

from controller.errors import BadInput, Transient

API = "https://api.github.com"
BATCH = 50  # annotations per request, GitHub's limit


@dataclass(frozen=True)
class PullRequest:
    number: int
    author: str
    head_sha: str
    files: tuple[str, ...]
    commits: tuple[tuple[str, str | None, str], ...]  # (sha, GitHub login or None, author e-mail)
    state: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Landing:
    number: int  # the pull request that carries the file
    merged: bool
    reason: str = ""  # why it is not merged yet: what the branch's rules still ask for


@dataclass(frozen=True)
class Approval:
    login: str
    url: str
    review_id: int


def _auth(token: str | None, env) -> Auth.Auth:
    """A token (GITHUB_TOKEN), or a GitHub App installation: ROLLOUTCTL_GITHUB_APP_ID, the path of
    its private key in ROLLOUTCTL_GITHUB_APP_KEY and ROLLOUTCTL_GITHUB_INSTALLATION_ID."""
    token = token or env.get("GITHUB_TOKEN")
    if token:
        return Auth.Token(token)
    app_id, key, installation = (env.get(f"ROLLOUTCTL_GITHUB_{name}") for name in ("APP_ID", "APP_KEY",
                                                                                    "INSTALLATION_ID"))
    if app_id and key and installation:
        try:
            private_key = Path(key).read_text()
        except OSError as exc:
            raise BadInput(f"cannot read the GitHub App key {key}: {exc.strerror}",
                           "point ROLLOUTCTL_GITHUB_APP_KEY at the app's private key (PEM)") from None
        return Auth.AppAuth(int(app_id), private_key).get_installation_auth(int(installation))
    raise BadInput("no GitHub credentials", "set GITHUB_TOKEN, or ROLLOUTCTL_GITHUB_APP_ID, "
                   "ROLLOUTCTL_GITHUB_APP_KEY and ROLLOUTCTL_GITHUB_INSTALLATION_ID for a GitHub App")


class GitHub:
    def __init__(self, repository: str, token: str | None = None, base_url: str = API, retries: int = 5,
                 backoff: float = 1.0, write_interval: float = 1.0, env: dict | None = None):
        auth = _auth(token, os.environ if env is None else env)
        # GitHub asks clients to space out writes; write_interval is that pause, in seconds.
        # A connection that cannot be made is tried twice more, not ``retries`` times: an unreachable
        # GitHub should cost seconds, and the next run tries again anyway.
        self.gh = Github(auth=auth, base_url=base_url, per_page=100,
                         retry=GithubRetry(total=retries, connect=2, backoff_factor=backoff),
                         seconds_between_requests=0, seconds_between_writes=write_interval, lazy=True)
        self.repo = self.gh.get_repo(repository)
        self.base_url = base_url

    def _call(self, what: str, action):
        try:
            return action()
        except GithubException as exc:
            if exc.status in (401, 403, 404):
                raise BadInput(f"GitHub refused to {what}: {exc.status} {exc.data}",
                               "check the token's permissions and the repository name") from None
            raise Transient(f"GitHub failed to {what}: {exc.status}", "the next run tries again") from None
        except RequestException as exc:
            raise Transient(f"cannot reach GitHub at {self.base_url} to {what}: {type(exc).__name__}",
                            "check the network (and GITHUB_API_URL); the next run tries again") from None

    def pull_request(self, number: int) -> PullRequest:
        def read():
            pr = self.repo.get_pull(number)
            commits = tuple((c.sha, c.author.login if c.author else None, c.commit.author.email)
                            for c in pr.get_commits())
            return PullRequest(number, pr.user.login, pr.head.sha, tuple(f.filename for f in pr.get_files()),
                               commits, pr.state, tuple(label.name for label in pr.labels))
        return self._call(f"read pull request #{number}", read)

    def approvals(self, number: int) -> list[Approval]:
        def read():
            latest = {}
            for review in self.repo.get_pull(number).get_reviews():  # a later review replaces an earlier
                latest[review.user.login] = review
            return [Approval(login, r.html_url, r.id) for login, r in sorted(latest.items()) if r.state == "APPROVED"]
        return self._call(f"read the reviews of #{number}", read)

    def report_check(self, head_sha: str, name: str, title: str, summary: str,
                     annotations: list[dict]) -> int:
        """A completed check run whose conclusion is failure when there are annotations."""
        def write():
            first, rest = annotations[:BATCH], annotations[BATCH:]
            run = self.repo.create_check_run(name=name, head_sha=head_sha, status="in_progress",
                                             output={"title": title, "summary": summary, "annotations": first})
            for start in range(0, len(rest), BATCH):
                run.edit(output={"title": title, "summary": summary, "annotations": rest[start:start + BATCH]})
            run.edit(status="completed", conclusion="failure" if annotations else "success",
                     output={"title": title, "summary": summary})
            return run.id
        return self._call("report the check run", write)

    def upsert_comment(self, number: int, marker: str, body: str) -> int:
        """One comment per pull request carrying ``marker``: edited in place, never posted twice."""
        def write():
            issue = self.repo.get_issue(number)
            for comment in issue.get_comments():
                if marker in comment.body:
                    if comment.body != body:
                        comment.edit(body)
                    return comment.id
            return issue.create_comment(body).id
        return self._call(f"comment on #{number}", write)

    def set_labels(self, number: int, labels: list[str]) -> None:
        self._call(f"label #{number}", lambda: self.repo.get_issue(number).set_labels(*labels))

    def find_pull(self, head: str) -> int | None:
        def read():
            return next((p.number for p in self.repo.get_pulls(state="all") if p.head.ref == head), None)
        return self._call("list pull requests", read)

    def open_pull(self, head: str, title: str, body: str, base: str = "main") -> int:
        """A pull request from a new branch holding one empty commit on top of ``base``."""
        def write():
            base_sha = self.repo.get_git_ref(f"heads/{base}").object.sha
            tree = self.repo.get_git_commit(base_sha).tree
            commit = self.repo.create_git_commit(title, tree, [self.repo.get_git_commit(base_sha)])
            self.repo.create_git_ref(f"refs/heads/{head}", commit.sha)
            return self.repo.create_pull(title=title, body=body, base=base, head=head).number
        return self._call("open a pull request", write)

    def close_pull(self, number: int) -> None:
        self._call(f"close #{number}", lambda: self.repo.get_pull(number).edit(state="closed"))

    def land_file(self, head: str, path: str, content: bytes, message: str, author: tuple[str, str],
                  when: datetime, base: str = "main", merge_method: str = "merge") -> Landing:
        """Commit ``path`` on a new branch ``head`` from ``base`` and merge it through a pull request,
        the one way a protected ``base`` takes changes. Idempotent by ``head``: a pull request left
        open by an earlier run (its merge refused) is merged now, a merged one is left alone.

        The commit's author is ``author`` (name, e-mail), at ``when``; the merge (a merge commit by
        default: a rebase keeps the author too, a squash would not) adds nothing of its own."""
        def land():
            number = self.find_pull(head)
            if number is None:
                base_sha = self.repo.get_git_ref(f"heads/{base}").object.sha
                self.repo.create_git_ref(f"refs/heads/{head}", base_sha)
                identity = InputGitAuthor(author[0], author[1], when.strftime("%Y-%m-%dT%H:%M:%SZ"))
                self.repo.create_file(path, message, content, branch=head, author=identity, committer=identity)
                title, _, body = message.partition("\n")
                number = self.repo.create_pull(title=title, body=body.strip(), base=base, head=head).number
            pull = self.repo.get_pull(number)
            if pull.merged:
                return Landing(number, True)
            if pull.state != "open":
                return Landing(number, False, "its pull request was closed without merging")
            try:
                pull.merge(merge_method=merge_method)
            except GithubException as exc:
                if exc.status not in (405, 409, 422):
                    raise
                reason = exc.data.get("message", "") if isinstance(exc.data, dict) else str(exc.data)
                return Landing(number, False, " ".join(reason.split()) or f"HTTP {exc.status}")
            with contextlib.suppress(GithubException):  # already gone: the repository deletes merged branches
                self.repo.get_git_ref(f"heads/{head}").delete()
            return Landing(number, True)
        return self._call(f"land {path} through a pull request", land)
