"""A small fake of GitHub's REST API on loopback: only the endpoints the adapter uses, answering as
GitHub does (status codes, Link pagination, rate-limit headers, url fields that point back at it).
It cannot stand in for GitHub anywhere else; it exists because tests have no network."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeGitHub:
    def __init__(self, owner: str = "umd", name: str = "releases"):
        self.full = f"{owner}/{name}"
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
                    if self.headers.get("Authorization") != "token secret-token":
                        self._send(401, {"message": "Bad credentials"})
                        return
                    try:
                        status, body, headers = fake.handle(method, url.path, parse_qs(url.query), self._body())
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
                "base": {"ref": "main", "sha": self.refs["heads/main"]},
                "labels": [{"name": n} for n in self.labels.get(number, [])]}

    def _page(self, items: list, query: dict, path: str) -> tuple[int, list, dict]:
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            headers["Link"] = f'<{self.url}{path}?per_page={per_page}&page={page + 1}>; rel="next"'
        return 200, chunk, headers

    def handle(self, method: str, path: str, query: dict, body: dict):
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
            return 200, {"sha": sha, "url": f"{self._repo_url()}/git/commits/{sha}", "message": "",
                         "tree": {"sha": "1" * 40, "url": f"{self._repo_url()}/git/trees/{'1' * 40}"},
                         "parents": []}, {}
        if method == "POST" and rest == "/git/commits":
            self.next_id += 1
            sha = f"{self.next_id:040x}"
            return 201, {"sha": sha, "url": f"{self._repo_url()}/git/commits/{sha}", "message": body["message"],
                         "tree": {"sha": body["tree"], "url": f"{self._repo_url()}/git/trees/{body['tree']}"},
                         "parents": [{"sha": p} for p in body["parents"]]}, {}
        if method == "GET" and (m := re.fullmatch(r"/git/ref/(.+)", rest)):
            return 200, {"ref": f"refs/{m.group(1)}", "object": {"sha": self.refs[m.group(1)], "type": "commit"},
                         "url": f"{self._repo_url()}/git/refs/{m.group(1)}"}, {}
        if method == "POST" and rest == "/git/refs":
            if body["ref"].removeprefix("refs/") in self.refs:
                return 422, {"message": "Reference already exists"}, {}
            self.refs[body["ref"].removeprefix("refs/")] = body["sha"]
            return 201, {"ref": body["ref"], "object": {"sha": body["sha"], "type": "commit"},
                         "url": f"{self._repo_url()}/git/{body['ref']}"}, {}
        if method == "GET" and rest == "/pulls":
            state = query.get("state", ["open"])[0]
            found = [self._pull(n) for n, p in sorted(self.pulls.items()) if state == "all" or p["state"] == state]
            return self._page(found, query, path)
        if method == "POST" and rest == "/pulls":
            number = max(self.pulls, default=0) + 1
            self.add_pull(number, "rolloutctl-bot", self.refs[f"heads/{body['head']}"], [], [], body["title"])
            self.pulls[number].update(body=body.get("body", ""), head_ref=body["head"])
            return 201, self._pull(number), {}
        raise KeyError(path)

    def _comment(self, ident: int) -> dict:
        c = self.comments[ident]
        return {"id": ident, "body": c["body"], "user": self._user("rolloutctl-bot"),
                "url": f"{self._repo_url()}/issues/comments/{ident}",
                "html_url": f"https://github.example/{self.full}/issues/{c['issue']}#issuecomment-{ident}"}

    def _check(self, ident: int) -> dict:
        run = self.check_runs[ident]
        return {"id": ident, "name": run.get("name"), "head_sha": run.get("head_sha"), "status": run.get("status"),
                "conclusion": run.get("conclusion"), "url": f"{self._repo_url()}/check-runs/{ident}"}
