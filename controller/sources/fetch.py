"""Downloading package files: http and https with timeouts, retries with backoff and resumption
(HTTP Range), file URLs inside allowed roots, and a hard size limit. The only network user.

Nothing here can hang: every package has an overall deadline that grows with its size (a server
dripping one byte every few seconds never trips a socket timeout, so time is checked between
reads), all the fetching of a run has one too, and a few downloads run at a time in threads that
are abandoned, not waited for, once their deadline has passed.

It hands back local files and their sha256; deciding what the bytes mean is the caller's.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from controller.errors import BadInput, ControllerError, Transient

CHUNK = 1 << 20


@dataclass(frozen=True)
class FetchPolicy:
    timeout: float = 30.0  # seconds to connect, and for each read
    attempts: int = 4
    backoff: float = 1.0  # seconds, doubled after each failed attempt
    file_roots: tuple[str, ...] = ()
    workers: int = 4  # downloads at a time
    package_time: float = 120.0  # seconds each package may take, retries included, plus ...
    slowest_rate: float = 100_000.0  # ... its size at this many bytes per second
    run_time: float = 1800.0  # seconds all the downloads of a run may take

    def deadline_for(self, size: int) -> float:
        """Seconds one package of ``size`` bytes may take."""
        return self.package_time + size / self.slowest_rate


class _Clock:
    """A deadline (time.monotonic), and whether the caller gave up on the download."""

    def __init__(self, seconds: float, limit: str):
        self.end = time.monotonic() + seconds
        self.limit = limit  # says which deadline, for the message
        self.cancelled = threading.Event()

    def left(self) -> float:
        return self.end - time.monotonic()

    def check(self, url: str, have: int, size: int) -> None:
        if self.cancelled.is_set() or self.left() <= 0:
            raise Transient(f"{url}: {self.limit} passed with {have} of {size} bytes",
                            "the provider's server is too slow or stalled; the next reconcile tries again")


def fetch(url: str, target: Path, expected_size: int, policy: FetchPolicy, exact: bool = True,
          on_bytes: Callable[[int], None] | None = None, clock: _Clock | None = None) -> str:
    """Fetch ``url`` into ``target`` (resuming a partial one); return the sha256 of the bytes.
    With ``exact`` False the size is not known yet (a package the manifest does not list yet):
    ``expected_size`` is only a limit, and a download is not resumed.

    Raises BadInput for what retrying cannot fix (too large, not found, outside the file roots)
    and Transient once the attempts or the deadline are used up.
    """
    if not exact and target.exists():
        target.unlink()
    if url.startswith("file://"):
        return _copy_local(url.removeprefix("file://"), target, expected_size, policy)
    seconds = policy.deadline_for(expected_size)
    clock = clock or _Clock(seconds, f"the deadline of {seconds:.0f} s")
    delay = policy.backoff
    last = ""
    for attempt in range(policy.attempts):
        clock.check(url, _size(target), expected_size)
        try:
            _download(url, target, expected_size, policy.timeout, clock, on_bytes or (lambda n: None), exact)
            return sha256_of(target)
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 410, 401, 403):
                raise BadInput(f"{url}: HTTP {exc.code} {exc.reason}",
                               "check the url in release.yaml; the provider must publish the file there") from None
            last = f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            last = str(getattr(exc, "reason", exc)) or type(exc).__name__
        if attempt + 1 < policy.attempts:
            clock.check(url, _size(target), expected_size)
            time.sleep(max(0.0, min(delay, clock.left())))
            delay *= 2
    raise Transient(f"{url}: {last} (after {policy.attempts} attempts)", "the next reconcile tries again")


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _download(url: str, target: Path, expected_size: int, timeout: float, clock: _Clock,
              on_bytes: Callable[[int], None], exact: bool = True) -> None:
    have = _size(target) if exact else 0
    if have > expected_size:
        target.unlink()
        have = 0
    if have == expected_size:
        return
    request = urllib.request.Request(url, headers={"User-Agent": "rolloutctl"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    # No single wait may outlast the deadline: a stalled server costs at most what is left of it.
    with urllib.request.urlopen(request, timeout=max(0.05, min(timeout, clock.left()))) as response:
        resumed = have and response.status == 206
        mode = "ab" if resumed else "wb"
        written = have if resumed else 0
        with open(target, mode) as out:
            # read1: what has arrived, at once; read(n) would wait for all n bytes of a drip.
            while chunk := response.read1(CHUNK):
                written += len(chunk)
                if written > expected_size:
                    raise BadInput(f"{url}: more than the {expected_size} bytes the manifest gives",
                                   "fix size in release.yaml or the file at the url")
                out.write(chunk)
                on_bytes(len(chunk))
                clock.check(url, written, expected_size)
        if response.length:  # Content-Length not reached: the connection was cut
            raise ConnectionError(f"cut off {response.length} bytes short")
    if exact and written != expected_size:
        raise ConnectionError(f"got {written} of {expected_size} bytes")


@dataclass(frozen=True)
class Download:
    url: str
    target: Path
    size: int


def fetch_many(downloads: list[Download], policy: FetchPolicy, on_bytes: Callable[[int], None] = lambda n: None,
               on_done: Callable[[], None] = lambda: None) -> list[str | ControllerError]:
    """Fetch each download, ``policy.workers`` at a time, each within its own deadline and all
    within ``policy.run_time``; for each, in order, its sha256 or the error that stopped it.

    A download still running at its deadline is given up: its thread (a daemon) is left to end on
    its own socket timeout, its result ignored, so the run goes on at once."""
    results: list[str | ControllerError | None] = [None] * len(downloads)
    finished: queue.Queue[int] = queue.Queue()
    run_end = time.monotonic() + policy.run_time
    waiting = list(range(len(downloads)))
    running: dict[int, _Clock] = {}

    def work(index: int, clock: _Clock) -> None:
        item = downloads[index]
        try:
            outcome: str | ControllerError = fetch(item.url, item.target, item.size, policy, True, on_bytes, clock)
        except ControllerError as exc:
            outcome = exc
        if not clock.cancelled.is_set():
            results[index] = outcome
        finished.put(index)

    while waiting or running:
        while waiting and len(running) < policy.workers:
            index = waiting.pop(0)
            seconds = policy.deadline_for(downloads[index].size)
            limit = f"the deadline of {seconds:.0f} s"
            if run_end - time.monotonic() < seconds:
                seconds, limit = run_end - time.monotonic(), f"the run's fetch deadline of {policy.run_time:.0f} s"
            running[index] = _Clock(seconds, limit)
            threading.Thread(target=work, args=(index, running[index]), daemon=True).start()
        try:
            index = finished.get(timeout=max(0.0, min(c.end for c in running.values()) - time.monotonic()))
        except queue.Empty:  # the earliest deadline passed: give that download up
            index = min(running, key=lambda i: running[i].end)
            clock = running[index]
            clock.cancelled.set()
            results[index] = Transient(f"{downloads[index].url}: {clock.limit} passed with "
                                       f"{_size(downloads[index].target)} of {downloads[index].size} bytes",
                                       "the provider's server is too slow or stalled; the next reconcile tries again")
        if running.pop(index, None) is not None:
            on_done()
    return results


def _copy_local(path: str, target: Path, expected_size: int, policy: FetchPolicy) -> str:
    real = os.path.realpath(path)
    if not any(real.startswith(os.path.realpath(root).rstrip("/") + "/") for root in policy.file_roots):
        raise BadInput(f"file://{path} is outside the allowed file_roots",
                       "list its directory under file_roots in repos-config/repositories.yaml")
    try:
        size = os.path.getsize(real)
    except OSError as exc:
        raise BadInput(f"file://{path}: {exc.strerror}", "check the path in release.yaml") from None
    if size > expected_size:
        raise BadInput(f"file://{path} is {size} bytes, more than the {expected_size} the manifest gives",
                       "fix size in release.yaml")
    # Copied, never linked: the provider may rewrite its file in place, and rpms are signed in
    # place in staging; hashed while copying, so the bytes are read once.
    digest = hashlib.sha256()
    with open(real, "rb") as source, open(target, "wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
