"""The reconcile lock as a lease on the publish target itself, so that two controllers on one
target never both publish, whatever their flags or machines: a conditional create of one object
(If-None-Match: * on S3, a hard link on a directory) that names its holder and an expiry. A
holder renews it while it works; a lease left by a run that died expires and is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from controller.errors import Transient
from controller.publish.target import Target

KEY = ".rolloutctl-lease.json"
TERM = 15 * 60.0  # seconds a lease lasts without renewal


class Lease:
    def __init__(self, target: Target, term: float = TERM):
        self.target = target
        self.term = term
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.renewed = 0.0

    def _body(self) -> bytes:
        return json.dumps({"holder": self.holder, "expires": time.time() + self.term}).encode()

    def _current(self) -> dict | None:
        raw = self.target.read(KEY)
        if raw is None:
            return None
        try:
            found = json.loads(raw)
            return found if isinstance(found, dict) and isinstance(found.get("expires"), (int, float)) else {}
        except ValueError:
            return {}  # unreadable: treated as expired

    def try_acquire(self) -> bool:
        if self.target.create(KEY, self._body()):
            self.renewed = time.monotonic()
            return True
        current = self._current()
        if current is not None and current.get("expires", 0) > time.time():
            return False
        self.target.delete([KEY])  # expired or damaged: the run that held it is gone
        if self.target.create(KEY, self._body()):
            self.renewed = time.monotonic()
            return True
        return False

    def renew(self) -> None:
        """Extend the lease when a third of its term has passed (cheap to call often)."""
        if time.monotonic() - self.renewed > self.term / 3:
            current = self._current()
            if current is None or current.get("holder") != self.holder:
                raise Transient(f"the lease on {self.target.description} was taken over while this run worked",
                                "another controller publishes there now; run again later")
            self.target.write(KEY, self._body())
            self.renewed = time.monotonic()

    def release(self) -> None:
        current = self._current()
        if current is not None and current.get("holder") == self.holder:
            self.target.delete([KEY])


@contextmanager
def leased(target: Target, wait: float) -> Iterator[Lease]:
    """Hold the target's lease for the duration; wait up to ``wait`` seconds for another holder."""
    lease = Lease(target)
    deadline = time.monotonic() + wait
    while not lease.try_acquire():
        if time.monotonic() >= deadline:
            raise Transient(f"another reconcile is publishing to {target.description} (it holds {KEY})",
                            "wait for it to finish, or pass --wait SECONDS to queue behind it; a lease left by a "
                            f"run that died expires after {int(TERM // 60)} minutes")
        time.sleep(0.5)
    try:
        yield lease
    finally:
        lease.release()
