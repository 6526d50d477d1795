"""Fetching that cannot hang: a provider that drips bytes or stalls costs at most the deadline and
leaves its release ingest-failed with the reason; downloads run a few at a time, before the publish
lock is taken; a terminal sees packages and bytes go by."""

from __future__ import annotations

import hashlib
import http.server
import os
import pty
import select
import subprocess
import sys
import threading
from datetime import datetime

import pytest
from conftest import TOP
from test_reconcile import ARC, RPM, commit_fetched_release

from controller.core.model import State
from controller.errors import Transient
from controller.publish.lease import leased
from controller.publish.target import open_target
from controller.reconcile import Options, reconcile
from controller.sources.fetch import Download, FetchPolicy, fetch_many

DATA = (TOP / ARC / "packages" / f"{RPM}.noarch.rpm").read_bytes()
NOW = datetime.fromisoformat("2026-11-02T10:00:00+00:00")


class SlowServer:
    """Serves DATA at every path, slowly: ``drip`` seconds between single bytes (0: all at once),
    after ``hold`` seconds; ``stall``: send the headers, then nothing at all. Counts how many
    requests it answers at the same time."""

    def __init__(self, drip: float = 0.0, hold: float = 0.0, stall: bool = False):
        self.stop = threading.Event()
        self.active = self.most = 0
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                with server.lock:
                    server.active += 1
                    server.most = max(server.most, server.active)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(DATA)))
                    self.end_headers()
                    self.wfile.flush()
                    if server.stop.wait(hold) or stall and server.stop.wait(3600):
                        return
                    if not drip:
                        self.wfile.write(DATA)
                        return
                    for byte in DATA:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        if server.stop.wait(drip):
                            return
                except OSError:
                    pass  # the client gave up
                finally:
                    with server.lock:
                        server.active -= 1

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> SlowServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# Two seconds per package whatever its size; socket timeouts as in production (30 s), so only the
# deadline can end these downloads early.
QUICK = FetchPolicy(attempts=4, backoff=0.01, package_time=2, slowest_rate=1e12)


def reconcile_from(story, tmp_path, server, policy=QUICK, **extra):
    commit_fetched_release(story, server.url)
    return reconcile(Options(str(story.path), "HEAD", NOW, tmp_path / "public", tmp_path / "state",
                             fetch_policy=policy, **extra))


@pytest.mark.parametrize("slowness", [{"drip": 0.5}, {"stall": True}], ids=["drip", "stall"])
def test_a_dripping_or_stalled_provider_costs_at_most_the_deadline(story, tmp_path, slowness):
    # A byte every half second never trips a 30 s socket timeout: 5 kB would take 45 minutes.
    with SlowServer(**slowness) as server:
        outcome = reconcile_from(story, tmp_path, server)
    reason = outcome.failures["arc-ce/6.19.0"]
    assert f"{RPM}.noarch.rpm" in reason and "the deadline of 2 s passed with" in reason
    assert outcome.plan.assessment.statuses["arc-ce/6.19.0"].state == State.INGEST_FAILED


def test_the_run_has_a_fetch_deadline_of_its_own(tmp_path):
    with SlowServer(stall=True) as server:
        policy = FetchPolicy(workers=2, package_time=60, slowest_rate=1e12, run_time=1)
        downloads = [Download(f"{server.url}/{i}.rpm", tmp_path / f"{i}.part", len(DATA)) for i in range(3)]
        results = fetch_many(downloads, policy)
    assert all(isinstance(r, Transient) and "the run's fetch deadline of 1 s passed" in r.message for r in results)


def test_downloads_run_a_few_at_a_time(tmp_path):
    with SlowServer(hold=0.3) as server:
        downloads = [Download(f"{server.url}/{i}.rpm", tmp_path / f"{i}.part", len(DATA)) for i in range(8)]
        results = fetch_many(downloads, FetchPolicy(workers=3))
    assert results == [hashlib.sha256(DATA).hexdigest()] * 8
    assert server.most == 3


def test_downloads_are_done_before_the_publish_lock_is_taken(story, tmp_path):
    holder_in, release = threading.Event(), threading.Event()

    def hold_the_lock():
        with leased(open_target(tmp_path / "public"), 0):
            holder_in.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    holder_in.wait(10)
    try:
        with SlowServer() as server, pytest.raises(Transient, match="another reconcile is publishing"):
            reconcile_from(story, tmp_path, server)
    finally:
        release.set()
        holder.join()
    staged = tmp_path / "state" / "incoming" / f"{hashlib.sha256(DATA).hexdigest()}.part"
    assert staged.read_bytes() == DATA  # fetched while another run held the lock; admitted by the next run


def test_a_terminal_sees_packages_and_bytes_go_by(story, tmp_path):
    with SlowServer(drip=0.002) as server:
        commit_fetched_release(story, server.url)
        controller, terminal = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k != "CI"} | {"TERM": "xterm", "COLUMNS": "120"}
        process = subprocess.Popen([sys.executable, "-m", "controller", "--repo", str(story.path), "reconcile",
                                    "--now", "2026-11-02T10:00:00Z", "--publish-dir", str(tmp_path / "public")],
                                   stdout=subprocess.DEVNULL, stderr=terminal, env=env)
        os.close(terminal)
        seen = b""
        while True:
            ready, _, _ = select.select([controller], [], [], 60)
            try:
                chunk = os.read(controller, 65536) if ready else b""
            except OSError:  # the other end closed
                chunk = b""
            if not chunk:
                break
            seen += chunk
        assert process.wait(60) == 0
        os.close(controller)
    text = seen.decode(errors="replace")
    assert "1/1 packages" in text and f"{len(DATA) / 1000:.1f} kB" in text
