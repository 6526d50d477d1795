"""History timings: whole `validate`, `validate --base` and `status` as processes.

Builds (once, cached under /tmp) a real git repository with the example's configuration and
adopters, then N releases of a few components, each through the whole lifecycle: its
verification, early-adopter acceptances then reports, and a decision, every file committed by its
role holder; unrelated commits pad the history to the number of commits asked for. A one-file
pull request (a new release) sits on branch ``pr``. Then times, as separate processes, medians
with ranges and peak memory:
  - `rolloutctl validate` on the whole repository,
  - `rolloutctl validate --base main` of the one-file pull request,
  - `rolloutctl status`,
  - `git log --name-status` over the same history (the floor any git-based check pays).
Both validate cases also run once cold (no kept history in the repository: a fresh clone, a CI
runner without a cache) before the timed, warm runs, which resume from the state a whole validate
kept.

    python bench/validate_bench.py [--releases 1000] [--commits 0] [--runs 5] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("ROLLOUTCTL_BENCH_CACHE", "/tmp/rolloutctl-bench"))
NOW = "2030-01-02T00:00:00Z"
BUILDER = 1  # bump when what build() writes changes: cached repositories are then rebuilt
EPOCH = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())

import yaml  # noqa: E402

COMPONENTS = [("argus", "glite", "andrea", 1), ("arc-ce", "arc", "lars", 6), ("unicore-server", "unicore", "jonas", 9),
              ("nagios-plugins-egi", "opstools", "eleni", 2), ("ca-policy-egi", "community", "david", 1)]
SITES = {"glite": ["IFCA-LCG2", "CESGA"], "arc": ["NDGF-T1", "CESGA"], "unicore": ["FZJ-JUGRID"],
         "opstools": ["GRNET"], "community": ["GRNET", "CESGA"]}
CHECKS = ["release_notes", "changelog", "certification", "documentation", "bug_links", "installability"]


def people() -> dict[str, tuple[str, str]]:
    roles = yaml.safe_load((TOP / "repos-config/roles.yaml").read_text())
    found = {k: (p["name"], p["email"]) for k, p in roles["people"].items()}
    for f in (TOP / "adopters").glob("*.yaml"):
        doc = yaml.safe_load(f.read_text())
        admin = doc["administrators"][0]
        found[doc["site"]] = (admin["name"], admin["email"])
    return found


def _dump(doc: object) -> bytes:
    return (doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)).encode()


def _release_doc(i: int) -> tuple[str, dict, list[dict]]:
    component, stack, _, major = COMPONENTS[i % len(COMPONENTS)]
    version = f"{major}.{i // 100}.{i % 100}"
    packages = [{"name": f"{component}-{n}", "version": version, "release": "1.el9", "arch": "noarch",
                 "platform": "el9", "url": f"https://dl.example.org/{component}-{n}-{version}-1.el9.noarch.rpm",
                 "sha256": f"{i:032x}{n:032x}", "size": 4096} for n in range(3)]
    release = {"component": component, "version": version, "category": "emergency", "stack": stack,
               "distribution": "5", "summary": f"{component} {version}",
               "provider": {"name": "team", "contact": "team@example.org"},
               "release_notes": "https://example.org/n", "changelog": "Fixes.",
               "certification": [{"url": "https://example.org/c"}], "documentation": [{"url": "https://example.org/d"}],
               "emergency": {"justification": "Generated for the validate benchmark, no cadence applies."},
               "packages": packages}
    return f"releases/{component}/{version}", release, packages


def lifecycle(i: int) -> list[tuple[str, dict[str, object], str]]:
    """The commits of release ``i``: (author, {path: document}, message), in order."""
    base, release, packages = _release_doc(i)
    component, stack, provider, _ = COMPONENTS[i % len(COMPONENTS)]
    version = release["version"]
    steps = [(provider, {f"{base}/release.yaml": release}, f"{component} {version}"),
             ("ines", {f"{base}/verification.yaml": {"result": "verified", "checks": dict.fromkeys(CHECKS, "pass")}},
              "verified")]
    sites = SITES[stack]
    steps += [(site, {f"{base}/reports/{site}.yaml": {"site": site, "status": "rolling-out"}}, "accept")
              for site in sites]
    steps += [(site, {f"{base}/reports/{site}.yaml": {
        "site": site, "status": "done", "result": "success",
        "tested": {"version": version, "packages": [{"name": p["name"], "sha256": p["sha256"]} for p in packages]},
        "environment": {"hosts": ["h"], "load": "production"}, "effort_hours": 1}}, "report") for site in sites]
    steps.append(("maria", {f"{base}/decision.yaml": {"outcome": "success", "summary": "ok"}}, "decision"))
    return steps


def build(target: Path, count: int, commits: int) -> None:
    """The repository, written with git fast-import (bare: the controller never needs a checkout)."""
    who = people()
    plan: list[tuple[str, dict[str, object], str]] = [
        ("maria", {f"repos-config/{p.name}": p.read_text() for p in sorted((TOP / "repos-config").glob("*.yaml"))},
         "config"),
        ("maria", {f"adopters/{p.name}": p.read_text() for p in sorted((TOP / "adopters").glob("*.yaml"))},
         "adopters")]
    for i in range(count):
        plan += lifecycle(i)
    padding = max(0, commits - len(plan))
    if padding:  # unrelated commits spread evenly through the history
        spaced, step = [], len(plan) / padding
        for n in range(padding):
            spaced.append((int(n * step), ("maria", {"docs/journal.md": f"entry {n}\n"}, "journal")))
        merged, k = [], 0
        for index, item in enumerate(plan):
            while k < len(spaced) and spaced[k][0] <= index:
                merged.append(spaced[k][1])
                k += 1
            merged.append(item)
        plan = merged + [s for _, s in spaced[k:]]
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(target)], check=True)
    feed = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=target, stdin=subprocess.PIPE)
    out = feed.stdin
    for n, (author, files, message) in enumerate(plan, start=1):
        name, email = who[author]
        when = EPOCH + n * 7 * 60
        out.write(f"commit refs/heads/main\nmark :{n}\n".encode())
        out.write(f"author {name} <{email}> {when} +0000\ncommitter {name} <{email}> {when} +0000\n".encode())
        msg = message.encode()
        out.write(b"data %d\n%s\n" % (len(msg), msg))
        if n > 1:
            out.write(f"from :{n - 1}\n".encode())
        for path, doc in files.items():
            body = _dump(doc)
            out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(body), body))
    # The pull request: one new release on top of main.
    base, release, _ = _release_doc(count + 500)
    name, email = who[COMPONENTS[(count + 500) % len(COMPONENTS)][2]]
    when = EPOCH + (len(plan) + 1) * 7 * 60
    body = _dump(release)
    out.write(f"commit refs/heads/pr\nauthor {name} <{email}> {when} +0000\n"
              f"committer {name} <{email}> {when} +0000\ndata 2\npr\nfrom :{len(plan)}\n".encode())
    out.write(b"M 100644 inline %s/release.yaml\ndata %d\n%s\n" % (base.encode(), len(body), body))
    out.close()
    if feed.wait() != 0:
        raise SystemExit("git fast-import failed")


def repository(count: int, commits: int) -> Path:
    """The cached repository for these sizes, built if missing (keyed by this builder's source)."""
    path = CACHE / f"history-{count}-{commits}-v{BUILDER}.git"
    if not (path / "refs/heads/pr").exists():
        shutil.rmtree(path, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        build(path, count, commits)
        print(f"built {count} releases in {time.perf_counter() - started:.1f} s: {path}", file=sys.stderr)
    return path


def forget_kept_history(repo: Path) -> None:
    shutil.rmtree(repo / "rolloutctl", ignore_errors=True)


def run_once(command: list[str]) -> tuple[float, int, int, float]:
    """(seconds, exit code, peak resident memory in KiB, CPU seconds: user and system) of one
    process. CPU time is the steadier figure on a shared machine."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return (time.perf_counter() - started, os.waitstatus_to_exitcode(status), usage.ru_maxrss,
            usage.ru_utime + usage.ru_stime)


def measure(command: list[str], runs: int) -> dict:
    samples = [run_once(command) for _ in range(runs)]
    times = [s[0] for s in samples]
    return {"median": statistics.median(times), "low": min(times), "high": max(times),
            "exit": samples[-1][1], "rss_mib": max(s[2] for s in samples) / 1024,
            "cpu": statistics.median(s[3] for s in samples)}


def cases(repo: Path) -> list[tuple[str, list[str], bool]]:
    """(label, command, whether to time a cold run too: one without kept history)."""
    cli = [sys.executable, "-m", "controller", "--repo", str(repo)]
    return [
        ("validate (whole repository)", cli + ["validate", "--at", "main", "--now", NOW], True),
        ("validate --base main (1-file PR)", cli + ["validate", "--at", "pr", "--base", "main", "--now", NOW], True),
        ("status", cli + ["status", "--at", "main", "--now", NOW], False),
        ("git log --name-status (floor)", ["git", "-C", str(repo), "log", "--name-status", "--format=%H", "main"],
         False),
    ]


def bench(count: int, commits: int, runs: int) -> tuple[str, list[tuple[str, dict, dict | None]]]:
    repo = repository(count, commits)
    total = subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "main"], capture_output=True,
                           text=True, check=True).stdout.strip()
    files = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "main"], capture_output=True,
                           text=True, check=True).stdout.count("\n")
    rows = []
    keep = cases(repo)[0][1]  # a whole validate keeps the replay state the warm runs resume from
    for label, command, cold_too in cases(repo):
        cold = None
        if cold_too:
            forget_kept_history(repo)
            cold = measure(command, 1)
            # A pull request's check without kept state replays only what it needs, and keeps
            # none of that partial replay: the warm runs start from what a whole run kept.
            run_once(keep)
        rows.append((label, measure(command, runs), cold))
    return f"{count} lifecycle releases, {total} commits, {files} files", rows


def table(title: str, rows: list[tuple[str, dict, dict | None]], runs: int) -> str:
    lines = [f"**{title}** (median of {runs} runs, warm; cold: the first run without kept history)", "",
             "| command | median s | range s | CPU s | peak MiB | cold s | cold CPU s | cold MiB | exit |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, warm, cold in rows:
        first = (f"| {label} | {warm['median']:.2f} | {warm['low']:.2f}-{warm['high']:.2f} | {warm['cpu']:.2f} | "
                 f"{warm['rss_mib']:.0f} | ")
        lines.append(first + (f"{cold['median']:.2f} | {cold['cpu']:.2f} | {cold['rss_mib']:.0f} | {warm['exit']} |"
                              if cold else f"- | - | - | {warm['exit']} |"))
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{datetime.now(UTC):%Y-%m-%d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--releases", type=int, nargs="+", default=[1000])
    parser.add_argument("--commits", type=int, nargs="+", default=[0],
                        help="pad each history to this many commits (one value per --releases, or one for all)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    args = parser.parse_args()
    commits = args.commits * len(args.releases) if len(args.commits) == 1 else args.commits
    parts = [f"Machine: {machine()}; load average at the start: {os.getloadavg()[0]:.1f}."]
    for count, padded in zip(args.releases, commits, strict=True):
        title, rows = bench(count, padded, args.runs)
        part = table(title, rows, args.runs) + f"\n\nLoad average after: {os.getloadavg()[0]:.1f}."
        print(part + "\n", flush=True)
        parts.append(part)
    if args.markdown:
        args.markdown.write_text("\n\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
