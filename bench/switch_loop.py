"""Clients reading while channels switch: reconcile moves a release between two channels again
and again while real apt-get update and dnf makecache loop against the served target, on a local
directory (served over HTTP on loopback) and on SeaweedFS (its S3 endpoint, read anonymously).
Prints, for each, the switches made and the client runs that failed out of those made.

    python bench/switch_loop.py [--switches 50] [--targets directory seaweedfs]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "tests"))
sys.path.insert(0, str(TOP))

from servers import FileServer, SeaweedFS  # noqa: E402
from switching import switch_while_reading, two_commits  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--switches", type=int, default=50)
    parser.add_argument("--targets", nargs="+", default=["directory", "seaweedfs"],
                        choices=["directory", "seaweedfs"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rolloutctl-switch-"))
    repo = work / "repo"
    revs = two_commits(repo)
    failed = 0
    for name in args.targets:
        started = time.monotonic()
        if name == "directory":
            publish = work / "public"
            publish.mkdir()
            with FileServer(publish) as server:
                counts = switch_while_reading(repo, revs, str(publish), None, server.url, work / name, args.switches)
        else:
            store = SeaweedFS(work / "seaweedfs").start()
            os.environ.update(store.environment())
            try:
                prefix = f"switch-{uuid.uuid4().hex[:8]}"
                counts = switch_while_reading(repo, revs, f"s3://public/{prefix}", f"s3://private/{prefix}",
                                              store.url("public", prefix), work / name, args.switches)
            finally:
                store.stop()
        print(counts.line(name) + f" ({time.monotonic() - started:.0f} s)", flush=True)
        for client, said in counts.failures.items():
            for text in said[:3]:
                print(f"  {client} failed:\n    " + text.strip().replace("\n", "\n    "))
        failed += sum(len(said) for said in counts.failures.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
