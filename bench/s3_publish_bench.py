"""Publishing N packages to object storage next to a local directory: rolloutctl reconcile into
a SeaweedFS bucket (`weed mini` on loopback, through its S3 API) and into a directory, on the same
repository of N rpms and N debs (N/10 releases of 10 of each).

  cold   an empty target and an empty state directory: fetch+hash, pool uploads, metadata, site;
  +1     one more release of 3 rpms and 3 debs, reconciled again;
  no-op  a reconcile with nothing to do, on a runner with an empty state directory (as a CI job).

    python bench/s3_publish_bench.py [--packages 1000 10000] [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "bench"))
sys.path.insert(0, str(TOP / "tests"))
sys.path.insert(0, str(TOP))

import bench_packages as packaged  # noqa: E402
import yaml  # noqa: E402
from servers import SeaweedFS  # noqa: E402

from controller.reconcile import Options, reconcile  # noqa: E402

NOW = datetime.fromisoformat("2026-11-24T12:00:00+00:00")


def add_releases(writer: packaged.GitWriter, rpms: list[Path], debs: list[Path], first: int, when: str) -> None:
    """Releases of PER_RELEASE rpms and debs each, committed by their provider."""
    for start in range(0, len(rpms), packaged.PER_RELEASE):
        index = first + start // packaged.PER_RELEASE
        packages = [(p, packaged.rpm_fields(p)) for p in rpms[start:start + packaged.PER_RELEASE]]
        packages += [(p, packaged.deb_fields(p)) for p in debs[start:start + packaged.PER_RELEASE]]
        writer.write(f"releases/bench/1.0.{index}/release.yaml", yaml.safe_dump(packaged.release_doc(index, packages)))
    writer.commit("bench releases", "Andrea Ferri", "andrea.ferri@argus.example.org", when)


def timed(repo: Path, publish: str, private: str | None, state: Path) -> float:
    start = time.perf_counter()
    reconcile(Options(str(repo), "HEAD", NOW, publish, state, private=private, base_url="http://localhost:8080"))
    return time.perf_counter() - start


def packages(count: int, cache: Path) -> tuple[list[Path], list[Path]]:
    folder = cache / f"packages-{count}"
    if not (folder / "done").exists():
        print(f"building {count} rpms and {count} debs (once; kept in {folder}) ...", flush=True)
        packaged.build_rpms(folder / "rpm", count + 3)
        packaged.build_debs(folder / "deb", count + 3)
        (folder / "done").touch()
    rpms = sorted((folder / "rpm").glob("*.rpm"), key=lambda p: int(p.name.split("-")[1]))
    debs = sorted((folder / "deb").glob("*.deb"), key=lambda p: int(p.name.split("_")[0].split("-")[1]))
    return rpms, debs


def run(count: int, cache: Path, store: SeaweedFS, work: Path) -> None:
    rpms, debs = packages(count, cache)
    writer = packaged.GitWriter(work / f"repo-{count}")
    packaged.write_config(writer, [cache / f"packages-{count}"])
    add_releases(writer, rpms[:count], debs[:count], 0, "2026-01-02T00:00:00Z")
    places = {"directory": (str(work / f"public-{count}"), None),
              "seaweedfs": (f"s3://public/bench-{count}", f"s3://private/bench-{count}")}
    figures = {}
    for name, (publish, private) in places.items():
        figures[name] = [timed(writer.path, publish, private, work / f"state-{name}-{count}")]
    add_releases(writer, rpms[count:count + 3], debs[count:count + 3], count // 10, "2026-01-03T00:00:00Z")
    for name, (publish, private) in places.items():
        figures[name].append(timed(writer.path, publish, private, work / f"state-{name}-{count}"))
        figures[name].append(timed(writer.path, publish, private, work / f"fresh-state-{name}-{count}"))
    print(f"\n{count} rpms + {count} debs ({count // 10} releases), seconds:")
    print(f"  {'target':<28}{'cold':>9}{'+1 release':>12}{'no-op, empty disk':>19}")
    for name, (cold, plus_one, no_op) in figures.items():
        print(f"  {name + (' (S3 API)' if name == 'seaweedfs' else ''):<28}{cold:>9.1f}{plus_one:>12.1f}{no_op:>19.1f}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "rolloutctl-bench")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rolloutctl-s3-bench-"))
    store = SeaweedFS(work / "seaweedfs").start()
    os.environ.update(store.environment())
    try:
        for count in args.packages:
            run(count, args.cache, store, work)
    finally:
        store.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
