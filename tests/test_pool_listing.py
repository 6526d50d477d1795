"""A local pool's listing, kept between runs by each package directory's modification time, sees
every change a fresh listing would: a new package, a signed copy's record beside its package, a
collected file; and a directory written within the same tick as its listing is read again."""

from __future__ import annotations

import os
import time

from controller.publish.local import LocalTarget
from controller.publish.pool import Pool, pool_key, signed_record_key

A, B = "a" * 64, "b" * 64
HOUR = 3_600_000_000_000


def put(root, key: str) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


def settle(root, hours: int) -> None:
    """Every package directory last changed ``hours`` ago, long before any listing (a different
    time for each change: the listing is kept by that time)."""
    when = time.time_ns() - hours * HOUR
    for folder in (root / "pool").glob("*/*"):
        os.utime(folder, ns=(when, when))


def listed(root, staging) -> dict[str, str]:
    return Pool(LocalTarget(root), staging).contents()


def test_the_kept_listing_sees_what_changed_since(tmp_path):
    root, staging = tmp_path / "public", tmp_path / "state"
    put(root, pool_key(A, "a.rpm"))
    settle(root, 3)
    assert listed(root, staging) == {A: pool_key(A, "a.rpm")}
    assert list((staging / "pool-listings").iterdir())  # kept for the next run
    put(root, pool_key(B, "b.deb"))  # a new package's directory
    record = signed_record_key(A, "a.rpm", B, 1)
    put(root, record)  # a record beside a package already listed
    settle(root, 2)
    assert listed(root, staging) == {A: record, B: pool_key(B, "b.deb")}
    (root / record).unlink()  # collected
    settle(root, 1)
    assert listed(root, staging) == {A: pool_key(A, "a.rpm"), B: pool_key(B, "b.deb")}


def test_a_directory_written_in_the_tick_of_its_listing_is_read_again(tmp_path):
    root, staging = tmp_path / "public", tmp_path / "state"
    put(root, pool_key(A, "a.rpm"))
    now = time.time_ns()
    os.utime(root / "pool" / A[:2] / A, ns=(now, now))
    assert listed(root, staging) == {A: pool_key(A, "a.rpm")}
    record = signed_record_key(A, "a.rpm", B, 1)
    put(root, record)
    os.utime(root / "pool" / A[:2] / A, ns=(now, now))  # a second write the clock did not tell apart
    assert listed(root, staging) == {A: record}
