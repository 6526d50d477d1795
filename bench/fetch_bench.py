"""Fetching the packages of a cold reconcile from a provider's HTTP server on loopback: one at a
time, then a few at a time (the default), for the bench's N rpms and N debs (N/10 releases).

Measured: the download step alone (every package into an empty staging area), and the whole cold
reconcile (download, checks, pool, publication) with each setting.

    python bench/fetch_bench.py [--packages 10000] [--workers 4] [--latency SECONDS] [--cache DIR]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "scripts"))
sys.path.insert(0, str(TOP / "bench"))
sys.path.insert(0, str(TOP))

import bench_packages as bench  # noqa: E402
import yaml  # noqa: E402
from example_repo import GitWriter  # noqa: E402


def serve(folder: Path, latency: float) -> tuple[subprocess.Popen, str]:
    """The provider's server, in a process of its own: in this one it would share the client's
    interpreter lock and slow both."""
    port_file = Path(tempfile.mkdtemp()) / "port"
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(folder), "--latency", str(latency),
                                "--port-file", str(port_file)])
    while not port_file.exists() or not port_file.read_text():
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{port_file.read_text()}"


def run_server(folder: Path, latency: float, port_file: Path) -> None:
    Quiet.latency = latency
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    server.daemon_threads = True
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


class Quiet(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    latency = 0.0  # seconds before each answer, as a provider's server far away takes

    def log_message(self, *args):
        pass

    def do_GET(self):
        time.sleep(self.latency)
        super().do_GET()


def write_repository(repo: Path, packages: Path, url: str, count: int) -> None:
    rpms = sorted((packages / "rpm").glob("*.rpm"), key=lambda p: int(p.name.split("-")[1]))[:count]
    debs = sorted((packages / "deb").glob("*.deb"), key=lambda p: int(p.name.split("_")[0].split("-")[1]))[:count]
    writer = GitWriter(repo)
    bench.write_config(writer, [packages])
    for start in range(0, count, bench.PER_RELEASE):
        index = start // bench.PER_RELEASE
        items = [(p, bench.rpm_fields(p)) for p in rpms[start:start + bench.PER_RELEASE]]
        items += [(p, bench.deb_fields(p)) for p in debs[start:start + bench.PER_RELEASE]]
        doc = bench.release_doc(index, items)
        for entry, (path, _) in zip(doc["packages"], items, strict=True):
            entry["url"] = f"{url}/{path.parent.name}/{path.name}"
        writer.write(f"releases/bench/1.0.{index}/release.yaml", yaml.safe_dump(doc))
        if (index + 1) % 100 == 0:
            writer.commit(f"bench releases up to {index}", "Andrea Ferri", "andrea.ferri@argus.example.org",
                          "2026-11-01T09:00:00Z")
    writer.commit("bench releases", "Andrea Ferri", "andrea.ferri@argus.example.org", "2026-11-01T09:00:00Z")


def measure(repo: Path, work: Path, workers: int) -> tuple[float, float, int]:
    """(seconds downloading alone, seconds of the whole cold reconcile, packages fetched)."""
    from controller.apply.ingest import download
    from controller.progress import Progress
    from controller.publish.pool import Pool
    from controller.reconcile import Options, make_plan, reconcile
    from controller.sources.fetch import FetchPolicy

    policy = replace(FetchPolicy(), workers=workers)
    now = datetime.fromisoformat(bench.NOW)
    alone = Options(str(repo), "HEAD", now, work / f"public-alone-{workers}", work / f"state-alone-{workers}",
                    fetch_policy=policy)
    target = alone.open_target()
    planned = make_plan(alone, {}, target)
    start = time.perf_counter()
    outcome = download(planned.world, planned.fetches, Pool(target, alone.state), policy, Progress())
    downloading = time.perf_counter() - start
    assert not any(outcome.values()), [r for r in outcome.values() if r][:3]
    whole = replace(alone, publish=work / f"public-{workers}", state=work / f"state-{workers}", target=None)
    start = time.perf_counter()
    result = reconcile(whole)
    reconciling = time.perf_counter() - start
    assert not result.failures, list(result.failures.items())[:3]
    return downloading, reconciling, len(planned.fetches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, default=10000, help="rpms, and as many debs")
    parser.add_argument("--workers", type=int, default=4, help="downloads at a time in the parallel run")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the server waits before each answer")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "rolloutctl-bench")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_server(args.serve, args.latency, args.port_file)
        return
    count = args.packages
    packages = args.cache / f"packages-{count}"
    if not (packages / "done").exists():
        print(f"building {count} rpms and {count} debs (once; kept in {packages}) ...", flush=True)
        bench.build_rpms(packages / "rpm", count + 3)
        bench.build_debs(packages / "deb", count + 3)
        (packages / "done").touch()
    work = Path(tempfile.mkdtemp(prefix="rolloutctl-fetch-bench-"))
    server, url = serve(packages, args.latency)
    try:
        write_repository(work / "repo", packages, url, count)
        print(f"{2 * count} packages in {count // bench.PER_RELEASE} releases from {url} (python http.server, "
              f"loopback, {args.latency * 1000:.0f} ms latency per request)")
        print(f"{'workers':>8} {'download step':>14} {'cold reconcile':>15}")
        for workers in (1, args.workers):
            downloading, reconciling, fetched = measure(work / "repo", work, workers)
            print(f"{workers:>8} {downloading:>12.1f} s {reconciling:>13.1f} s   ({fetched} packages)", flush=True)
    finally:
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
