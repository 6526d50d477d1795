"""Downloading package files: http and https with timeouts, retries with backoff and resumption
(HTTP Range), file URLs inside allowed roots, and a hard size limit. The only network user.

It hands back a local file and its sha256; deciding what the bytes mean is the caller's.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from controller.errors import BadInput, Transient

CHUNK = 1 << 20


@dataclass(frozen=True)
class FetchPolicy:
    timeout: float = 30.0
    attempts: int = 4
    backoff: float = 1.0  # seconds, doubled after each failed attempt
    file_roots: tuple[str, ...] = ()


def fetch(url: str, target: Path, expected_size: int, policy: FetchPolicy, exact: bool = True) -> str:
    """Fetch ``url`` into ``target`` (resuming a partial one); return the sha256 of the bytes.
    With ``exact`` False the size is not known yet (a package the manifest does not list yet):
    ``expected_size`` is only a limit, and a download is not resumed.

    Raises BadInput for what retrying cannot fix (too large, not found, outside the file roots)
    and Transient once the attempts are used up on network errors.
    """
    if not exact and target.exists():
        target.unlink()
    if url.startswith("file://"):
        return _copy_local(url.removeprefix("file://"), target, expected_size, policy)
    delay = policy.backoff
    last = ""
    for attempt in range(policy.attempts):
        try:
            _download(url, target, expected_size, policy.timeout, exact)
            return sha256_of(target)
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 410, 401, 403):
                raise BadInput(f"{url}: HTTP {exc.code} {exc.reason}",
                               "check the url in release.yaml; the provider must publish the file there") from None
            last = f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if attempt + 1 < policy.attempts:
            time.sleep(delay)
            delay *= 2
    raise Transient(f"{url}: {last} (after {policy.attempts} attempts)", "the next reconcile tries again")


def _download(url: str, target: Path, expected_size: int, timeout: float, exact: bool = True) -> None:
    have = target.stat().st_size if target.exists() and exact else 0
    if have > expected_size:
        target.unlink()
        have = 0
    if have == expected_size:
        return
    request = urllib.request.Request(url, headers={"User-Agent": "rolloutctl"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = have and response.status == 206
        mode = "ab" if resumed else "wb"
        written = have if resumed else 0
        with open(target, mode) as out:
            while chunk := response.read(CHUNK):
                written += len(chunk)
                if written > expected_size:
                    raise BadInput(f"{url}: more than the {expected_size} bytes the manifest gives",
                                   "fix size in release.yaml or the file at the url")
                out.write(chunk)
        if response.length:  # Content-Length not reached: the connection was cut
            raise ConnectionError(f"cut off {response.length} bytes short")
    if exact and written != expected_size:
        raise ConnectionError(f"got {written} of {expected_size} bytes")


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
    shutil.copyfile(real, target)
    return sha256_of(target)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
