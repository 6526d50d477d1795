"""Validate timings on a generated repository of N releases (default 1,000).

Builds a real git repository with the example's configuration and adopters, then N releases of
a few components, each with its verification, two early-adopter reports (acceptance, then report)
and a decision, every file committed by its role holder. Then times, side by side:
  - `rolloutctl validate` on the whole repository,
  - `rolloutctl validate --base main` on a one-file pull request,
  - `git log --name-status` over the same history (the floor any git-based check pays).

    python bench/validate_bench.py [--releases 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "scripts"))
sys.path.insert(0, str(TOP))

import yaml  # noqa: E402
from example_repo import GitWriter  # noqa: E402

COMPONENTS = [("argus", "glite", "andrea", 1), ("arc-ce", "arc", "lars", 6), ("unicore-server", "unicore", "jonas", 9),
              ("nagios-plugins-egi", "opstools", "eleni", 2), ("ca-policy-egi", "community", "david", 1)]
SITES = {"glite": ["IFCA-LCG2", "CESGA"], "arc": ["NDGF-T1", "CESGA"], "unicore": ["FZJ-JUGRID"],
         "opstools": ["GRNET"], "community": ["GRNET", "CESGA"]}


def people() -> dict[str, tuple[str, str]]:
    roles = yaml.safe_load((TOP / "repos-config/roles.yaml").read_text())
    found = {k: (p["name"], p["email"]) for k, p in roles["people"].items()}
    for f in (TOP / "adopters").glob("*.yaml"):
        doc = yaml.safe_load(f.read_text())
        admin = doc["administrators"][0]
        found[doc["site"]] = (admin["name"], admin["email"])
    return found


def stamp(minutes: int) -> str:
    day, minute = divmod(minutes, 24 * 60)
    year = 2020 + day // 360
    rest = day % 360
    return f"{year}-{rest // 30 + 1:02d}-{rest % 30 + 1:02d}T{minute // 60:02d}:{minute % 60:02d}:00Z"


def build(target: Path, count: int) -> None:
    who = people()
    writer = GitWriter(target)
    clock = 0

    def commit(author: str, files: dict, message: str) -> None:
        nonlocal clock
        clock += 7
        for path, doc in files.items():
            writer.write(path, doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
        name, email = who[author]
        writer.commit(message, name, email, stamp(clock))

    commit("maria", {f"repos-config/{p.name}": p.read_text() for p in (TOP / "repos-config").glob("*.yaml")}, "config")
    commit("maria", {f"adopters/{p.name}": p.read_text() for p in (TOP / "adopters").glob("*.yaml")}, "adopters")
    for i in range(count):
        component, stack, provider, major = COMPONENTS[i % len(COMPONENTS)]
        version = f"{major}.{i // 100}.{i % 100}"
        base = f"releases/{component}/{version}"
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
        commit(provider, {f"{base}/release.yaml": release}, f"{component} {version}")
        commit("ines", {f"{base}/verification.yaml": {"result": "verified", "checks": dict.fromkeys(
            ["release_notes", "changelog", "certification", "documentation", "bug_links", "installability"], "pass")}},
            "verified")
        sites = SITES[stack]
        for site in sites:
            commit(site, {f"{base}/reports/{site}.yaml": {"site": site, "status": "rolling-out"}}, "accept")
        for site in sites:
            commit(site, {f"{base}/reports/{site}.yaml": {
                "site": site, "status": "done", "result": "success",
                "tested": {"version": version,
                           "packages": [{"name": p["name"], "sha256": p["sha256"]} for p in packages]},
                "environment": {"hosts": ["h"], "load": "production"}, "effort_hours": 1}}, "report")
        commit("maria", {f"{base}/decision.yaml": {"outcome": "success", "summary": "ok"}}, "decision")


def timed(command: list[str], runs: int) -> tuple[float, int]:
    times = []
    code = 0
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run(command, capture_output=True).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the repository here")
    args = parser.parse_args()
    holder = None if args.keep else tempfile.TemporaryDirectory()
    repo = args.keep or Path(holder.name) / "repo"
    if not (repo / ".git").exists():
        started = time.perf_counter()
        build(repo, args.releases)
        print(f"built {args.releases} releases in {time.perf_counter() - started:.1f} s")
    commits = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=repo, capture_output=True,
                             text=True).stdout.strip()
    files = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True).stdout.count("\n")
    writer = GitWriter(repo)
    writer.git("checkout", "-q", "-B", "pr", "main")
    writer.write("releases/argus/1.99.0/release.yaml", (repo / "releases/argus/1.0.0/release.yaml").read_text()
                 .replace("1.0.0", "1.99.0"))
    writer.commit("argus 1.99.0", "Andrea Ferri", "andrea.ferri@argus.example.org", "2030-01-01T09:00:00Z")
    cli = [sys.executable, "-m", "controller", "--repo", str(repo), "validate", "--now", "2030-01-02T00:00:00Z"]
    rows = [
        ("rolloutctl validate (whole repository)", cli),
        ("rolloutctl validate --base main (1-file PR)", cli + ["--base", "main"]),
        ("git log --name-status (history floor)", ["git", "-C", str(repo), "log", "--name-status", "--format=%H"]),
    ]
    print(f"repository: {args.releases} releases, {commits} commits, {files} files; median of {args.runs} runs")
    print(f"{'what':48} {'seconds':>8} {'exit':>5}")
    for label, command in rows:
        seconds, code = timed(command, args.runs)
        print(f"{label:48} {seconds:8.2f} {code:5d}")
    writer.git("checkout", "-q", "main")
    if holder:
        holder.cleanup()


if __name__ == "__main__":
    main()
