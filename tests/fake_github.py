"""A small fake of GitHub's REST API on loopback: only the endpoints the adapter uses, answering as
GitHub does (status codes, Link pagination, rate-limit headers, url fields that point back at it).
It cannot stand in for GitHub anywhere else; it exists because tests have no network.

Given a real git repository (``git_dir``), its branches are that repository's: files committed
through the contents API and merges of pull requests are real commits there. A protected branch
(``protect``) refuses direct updates and accepts merges of pull requests that meet its rules, or
that a bypass actor makes, as a ruleset whose bypass is granted for pull requests only."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import tempfile
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeGitHub:
    def __init__(self, owner: str = "umd", name: str = "releases", git_dir=None):
        self.full = f"{owner}/{name}"
        self.git = Git(git_dir) if git_dir is not None else None
        self.tokens = {"secret-token": "rolloutctl-bot"}  # token -> the login it acts as
        self.protected: dict[str, dict] = {}  # branch -> its rules (see protect)
        self.clock: str | None = None  # the date of merge commits (ISO 8601); None: now
        self.pulls: dict[int, dict] = {}
        self.comments: dict[int, dict] = {}
        self.check_runs: dict[int, dict] = {}
        self.labels: dict[int, list[str]] = {}
        self.refs: dict[str, str] = {"heads/main": "0" * 40}
        self.log: list[tuple[str, str]] = []  # (method, path) of every request
        self.throttle_next = 0  # answer this many requests with 429 and Retry-After
        self.installations: list[int] = []  # installations that asked for a token
        self.next_id = 1000
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body=None, headers: dict | None = None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-RateLimit-Limit", "5000")
                self.send_header("X-RateLimit-Remaining", "4999")
                self.send_header("X-RateLimit-Reset", "4102444800")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}") if length else {}

            def _route(self, method: str):
                url = urlparse(self.path)
                with fake.lock:
                    fake.log.append((method, url.path))
                    if fake.throttle_next:
                        fake.throttle_next -= 1
                        self._send(429, {"message": "You have exceeded a secondary rate limit"},
                                   {"Retry-After": "0"})
                        return
                    if method == "POST" and (m := re.fullmatch(r"/app/installations/(\d+)/access_tokens", url.path)):
                        # A GitHub App trades its signed JWT for an installation token.
                        ok = (self.headers.get("Authorization") or "").startswith("Bearer ey")
                        self._send(201 if ok else 401, {"token": "secret-token", "expires_at": "2099-01-01T00:00:00Z"}
                                   if ok else {"message": "A JSON web token could not be decoded"})
                        fake.installations.append(int(m.group(1)))
                        return
                    actor = fake.tokens.get((self.headers.get("Authorization") or "").removeprefix("token "))
                    if actor is None:
                        self._send(401, {"message": "Bad credentials"})
                        return
                    try:
                        status, body, headers = fake.handle(method, url.path, parse_qs(url.query), self._body(),
                                                            actor)
                    except KeyError:
                        status, body, headers = 404, {"message": "Not Found"}, {}
                self._send(status, body, headers)

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

            def do_PATCH(self):
                self._route("PATCH")

            def do_PUT(self):
                self._route("PUT")

            def do_DELETE(self):
                self._route("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- state the tests set up ------------------------------------------------------------------

    def add_pull(self, number: int, author: str, head_sha: str, files: list[str],
                 commits: list[tuple[str, str, str]], title: str = "change") -> None:
        self.pulls[number] = {"author": author, "head": head_sha, "files": files, "commits": commits,
                              "reviews": [], "state": "open", "title": title, "body": "", "head_ref": "pr"}

    def approve(self, number: int, login: str) -> None:
        self.next_id += 1
        self.pulls[number]["reviews"].append({"id": self.next_id, "login": login, "state": "APPROVED"})

    def protect(self, branch: str = "main", bypass: tuple[str, ...] = (), checks: tuple[str, ...] = (),
                approvals: int = 1) -> None:
        """Changes reach ``branch`` only through pull requests with ``approvals`` approving reviews and
        a successful check run for each of ``checks``; the ``bypass`` logins may merge without them."""
        self.protected[branch] = {"bypass": set(bypass), "checks": tuple(checks), "approvals": approvals}

    # --- branches: the git repository's, or a table --------------------------------------------------

    def ref(self, name: str) -> str:
        if self.git is None:
            return self.refs[name]
        sha = self.git.run("rev-parse", "--verify", "--quiet", f"refs/{name}^{{commit}}", check=False)
        if not sha:
            raise KeyError(name)
        return sha

    def set_ref(self, name: str, sha: str) -> None:
        if self.git is None:
            self.refs[name] = sha
        else:
            self.git.run("update-ref", f"refs/{name}", sha)

    def has_ref(self, name: str) -> bool:
        try:
            self.ref(name)
        except KeyError:
            return False
        return True

    def _now(self) -> str:
        return self.clock or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _refused(self, branch: str) -> tuple[int, dict, dict] | None:
        if branch in self.protected:
            return 409, {"message": "Repository rule violations found\n\nChanges must be made through a pull "
                                    "request.", "status": "409"}, {}
        return None

    def _merge_refusal(self, number: int, actor: str) -> str:
        pull = self.pulls[number]
        rules = self.protected.get("main")
        if rules is None or actor in rules["bypass"]:
            return ""
        reasons = []
        approving = {r["login"] for r in pull["reviews"] if r["state"] == "APPROVED" and r["login"] != pull["author"]}
        if len(approving) < rules["approvals"]:
            reasons.append(f"At least {rules['approvals']} approving review is required by reviewers with write "
                           "access.")
        for check in rules["checks"]:
            if not any(run.get("name") == check and run.get("head_sha") == pull["head"]
                       and run.get("conclusion") == "success" for run in self.check_runs.values()):
                reasons.append(f'Required status check "{check}" is expected.')
        return "Repository rule violations found\n\n" + "\n".join(reasons) if reasons else ""

    # --- the API ---------------------------------------------------------------------------------

    def _repo_url(self) -> str:
        return f"{self.url}/repos/{self.full}"

    def _user(self, login: str) -> dict:
        return {"login": login, "id": abs(hash(login)) % 10**6, "type": "User", "url": f"{self.url}/users/{login}"}

    def _pull(self, number: int) -> dict:
        p = self.pulls[number]
        return {"number": number, "id": number, "state": p["state"], "title": p["title"], "body": p["body"],
                "user": self._user(p["author"]), "url": f"{self._repo_url()}/pulls/{number}",
                "html_url": f"https://github.example/{self.full}/pull/{number}",
                "issue_url": f"{self._repo_url()}/issues/{number}",
                "head": {"sha": p["head"], "ref": p["head_ref"]},
                "base": {"ref": "main", "sha": self.ref("heads/main")},
                "merged": p.get("merged", False),
                "labels": [{"name": n} for n in self.labels.get(number, [])]}

    def _page(self, items: list, query: dict, path: str) -> tuple[int, list, dict]:
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            headers["Link"] = f'<{self.url}{path}?per_page={per_page}&page={page + 1}>; rel="next"'
        return 200, chunk, headers

    def handle(self, method: str, path: str, query: dict, body: dict, actor: str = "rolloutctl-bot"):
        base = f"/repos/{self.full}"
        if not path.startswith(base):
            raise KeyError(path)
        rest = path[len(base):]
        if method == "GET" and rest == "":
            return 200, {"full_name": self.full, "name": self.full.split("/")[1], "url": self._repo_url(),
                         "owner": self._user(self.full.split("/")[0])}, {}
        if m := re.fullmatch(r"/pulls/(\d+)", rest):
            number = int(m.group(1))
            if method == "PATCH":
                self.pulls[number]["state"] = body.get("state", self.pulls[number]["state"])
            return 200, self._pull(number), {}
        if method == "GET" and (m := re.fullmatch(r"/pulls/(\d+)/files", rest)):
            files = [{"filename": f, "status": "added", "sha": "0" * 40} for f in self.pulls[int(m.group(1))]["files"]]
            return self._page(files, query, path)
        if method == "GET" and (m := re.fullmatch(r"/pulls/(\d+)/commits", rest)):
            commits = [{"sha": sha, "url": f"{self._repo_url()}/commits/{sha}",
                        "author": self._user(login), "commit": {"author": {"email": email, "name": login}}}
                       for sha, login, email in self.pulls[int(m.group(1))]["commits"]]
            return self._page(commits, query, path)
        if method == "GET" and (m := re.fullmatch(r"/pulls/(\d+)/reviews", rest)):
            number = int(m.group(1))
            reviews = [{"id": r["id"], "user": self._user(r["login"]), "state": r["state"],
                        "html_url": f"https://github.example/{self.full}/pull/{number}#pullrequestreview-{r['id']}",
                        "submitted_at": "2026-11-03T12:00:00Z"} for r in self.pulls[number]["reviews"]]
            return self._page(reviews, query, path)
        if m := re.fullmatch(r"/issues/(\d+)/comments", rest):
            number = int(m.group(1))
            if method == "POST":
                self.next_id += 1
                self.comments[self.next_id] = {"issue": number, "body": body["body"]}
                return 201, self._comment(self.next_id), {}
            found = [self._comment(i) for i, c in sorted(self.comments.items()) if c["issue"] == number]
            return self._page(found, query, path)
        if method == "PATCH" and (m := re.fullmatch(r"/issues/comments/(\d+)", rest)):
            self.comments[int(m.group(1))]["body"] = body["body"]
            return 200, self._comment(int(m.group(1))), {}
        if method == "PUT" and (m := re.fullmatch(r"/issues/(\d+)/labels", rest)):
            number = int(m.group(1))
            self.labels[number] = list(body.get("labels", body) if isinstance(body, dict) else body)
            return 200, [{"name": n} for n in self.labels[number]], {}
        if method == "POST" and rest == "/check-runs":
            self.next_id += 1
            self.check_runs[self.next_id] = {**body, "annotations": list((body.get("output") or {})
                                                                          .get("annotations", []))}
            return 201, self._check(self.next_id), {}
        if method == "PATCH" and (m := re.fullmatch(r"/check-runs/(\d+)", rest)):
            run = self.check_runs[int(m.group(1))]
            run["annotations"] += (body.get("output") or {}).get("annotations", [])
            run.update({k: v for k, v in body.items() if k != "output"})
            return 200, self._check(int(m.group(1))), {}
        if method == "GET" and (m := re.fullmatch(r"/git/commits/([0-9a-f]{40})", rest)):
            sha = m.group(1)
            tree = self.git.run("rev-parse", f"{sha}^{{tree}}") if self.git else "1" * 40
            return 200, {"sha": sha, "url": f"{self._repo_url()}/git/commits/{sha}", "message": "",
                         "tree": {"sha": tree, "url": f"{self._repo_url()}/git/trees/{tree}"},
                         "parents": []}, {}
        if method == "POST" and rest == "/git/commits":
            self.next_id += 1
            sha = f"{self.next_id:040x}"
            if self.git:
                sha = self.git.commit(body["tree"], body["parents"], body["message"], (actor, self._email(actor)),
                                      self._now())
            return 201, {"sha": sha, "url": f"{self._repo_url()}/git/commits/{sha}", "message": body["message"],
                         "tree": {"sha": body["tree"], "url": f"{self._repo_url()}/git/trees/{body['tree']}"},
                         "parents": [{"sha": p} for p in body["parents"]]}, {}
        if method == "GET" and (m := re.fullmatch(r"/git/ref/(.+)", rest)):
            return 200, {"ref": f"refs/{m.group(1)}", "object": {"sha": self.ref(m.group(1)), "type": "commit"},
                         "url": f"{self._repo_url()}/git/refs/{m.group(1)}"}, {}
        if method == "POST" and rest == "/git/refs":
            if self.has_ref(body["ref"].removeprefix("refs/")):
                return 422, {"message": "Reference already exists"}, {}
            self.set_ref(body["ref"].removeprefix("refs/"), body["sha"])
            return 201, {"ref": body["ref"], "object": {"sha": body["sha"], "type": "commit"},
                         "url": f"{self._repo_url()}/git/{body['ref']}"}, {}
        if method in ("PATCH", "DELETE") and (m := re.fullmatch(r"/git/refs?/heads/(.+)", rest)):
            if refused := self._refused(m.group(1)):  # a push to a protected branch
                return refused[0], {**refused[1], "message": f"Protected branch update failed for "
                                                              f"refs/heads/{m.group(1)}."}, {}
            name = f"heads/{m.group(1)}"
            self.ref(name)
            if method == "DELETE":
                if self.git:
                    self.git.run("update-ref", "-d", f"refs/{name}")
                else:
                    del self.refs[name]
                return 204, None, {}
            self.set_ref(name, body["sha"])
            return 200, {"ref": f"refs/{name}", "object": {"sha": body["sha"], "type": "commit"}}, {}
        if method == "PUT" and (m := re.fullmatch(r"/contents/(.+)", rest)):
            branch = body.get("branch", "main")
            if refused := self._refused(branch):
                return refused
            parent = self.ref(f"heads/{branch}")
            author = body.get("author") or {"name": actor, "email": self._email(actor)}
            committer = body.get("committer") or author
            sha = self.git.commit_file(parent, m.group(1), base64.b64decode(body["content"]), body["message"],
                                       author, committer)
            self.set_ref(f"heads/{branch}", sha)
            return 201, {"content": {"name": m.group(1).rsplit("/", 1)[-1], "path": m.group(1), "type": "file",
                                     "url": f"{self._repo_url()}/contents/{m.group(1)}"},
                         "commit": {"sha": sha, "url": f"{self._repo_url()}/git/commits/{sha}",
                                    "message": body["message"]}}, {}
        if method == "PUT" and (m := re.fullmatch(r"/pulls/(\d+)/merge", rest)):
            number = int(m.group(1))
            pull = self.pulls[number]
            pull["head"] = self.ref(f"heads/{pull['head_ref']}")
            if pull["state"] != "open":
                return 405, {"message": "Pull Request is not mergeable"}, {}
            if refusal := self._merge_refusal(number, actor):
                return 405, {"message": refusal}, {}
            base = self.ref("heads/main")
            tree = self.git.merge_tree(base, pull["head"])
            if tree is None:
                return 405, {"message": "Merge conflict"}, {}
            message = f"Merge pull request #{number} from {self.full.split('/')[0]}/{pull['head_ref']}\n\n" \
                      f"{pull['title']}\n"
            sha = self.git.commit(tree, [base, pull["head"]], message, (actor, self._email(actor)), self._now(),
                                  committer=("GitHub", "noreply@github.com"))
            self.set_ref("heads/main", sha)
            pull.update(state="closed", merged=True)
            return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}, {}
        if method == "GET" and rest == "/pulls":
            state = query.get("state", ["open"])[0]
            found = [self._pull(n) for n, p in sorted(self.pulls.items()) if state == "all" or p["state"] == state]
            return self._page(found, query, path)
        if method == "POST" and rest == "/pulls":
            number = max(self.pulls, default=0) + 1
            self.add_pull(number, actor, self.ref(f"heads/{body['head']}"), [], [], body["title"])
            self.pulls[number].update(body=body.get("body", ""), head_ref=body["head"])
            return 201, self._pull(number), {}
        raise KeyError(path)

    def _email(self, login: str) -> str:
        return f"{abs(hash(login)) % 10**6}+{login}@users.noreply.github.com"

    def _comment(self, ident: int) -> dict:
        c = self.comments[ident]
        return {"id": ident, "body": c["body"], "user": self._user("rolloutctl-bot"),
                "url": f"{self._repo_url()}/issues/comments/{ident}",
                "html_url": f"https://github.example/{self.full}/issues/{c['issue']}#issuecomment-{ident}"}

    def _check(self, ident: int) -> dict:
        run = self.check_runs[ident]
        return {"id": ident, "name": run.get("name"), "head_sha": run.get("head_sha"), "status": run.get("status"),
                "conclusion": run.get("conclusion"), "url": f"{self._repo_url()}/check-runs/{ident}"}


class Git:
    """The fake's hands on a real repository: plumbing only, so a checked-out branch is left alone."""

    def __init__(self, path):
        self.path = str(path)

    def run(self, *args: str, env: dict | None = None, data: bytes | None = None, check: bool = True) -> str:
        done = subprocess.run(["git", "-C", self.path, *args], input=data, capture_output=True,
                              env={**os.environ, **(env or {})})
        if check and done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {done.stderr.decode()}")
        return done.stdout.decode().strip()

    def commit(self, tree: str, parents: list[str], message: str, author: tuple[str, str], date: str,
               committer: tuple[str, str] | None = None) -> str:
        committer = committer or author
        env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1], "GIT_AUTHOR_DATE": date,
               "GIT_COMMITTER_NAME": committer[0], "GIT_COMMITTER_EMAIL": committer[1], "GIT_COMMITTER_DATE": date}
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.run(*args, env=env, data=message.encode())

    def commit_file(self, parent: str, path: str, data: bytes, message: str, author: dict, committer: dict) -> str:
        blob = self.run("hash-object", "-w", "--stdin", data=data)
        with tempfile.TemporaryDirectory() as scratch:
            env = {"GIT_INDEX_FILE": os.path.join(scratch, "index")}
            self.run("read-tree", f"{parent}^{{tree}}", env=env)
            self.run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            tree = self.run("write-tree", env=env)
        env = {"GIT_AUTHOR_NAME": author["name"], "GIT_AUTHOR_EMAIL": author["email"],
               "GIT_COMMITTER_NAME": committer["name"], "GIT_COMMITTER_EMAIL": committer["email"]}
        if author.get("date"):
            env["GIT_AUTHOR_DATE"] = author["date"]
        if committer.get("date"):
            env["GIT_COMMITTER_DATE"] = committer["date"]
        return self.run("commit-tree", tree, "-p", parent, env=env, data=message.encode())

    def merge_tree(self, base: str, head: str) -> str | None:
        """The tree of merging ``head`` into ``base``, or None on a conflict."""
        out = self.run("merge-tree", "--write-tree", base, head, check=False)
        first = out.splitlines()[0] if out else ""
        return first if re.fullmatch(r"[0-9a-f]{40}", first) and "CONFLICT" not in out else None
