"""Whole commands, side by side: `rolloutctl reconcile` as a process against the tools a repository
manager would otherwise script for the same user-visible job on the same real rpm and deb files,
in one run, each case repeated; medians, ranges, ratios and the peak memory of each command.

The peers (each a shell script run as one process, so its time and memory are the whole job's):
  createrepo_c --workers 2, without and with its sqlite database (--update when incremental),
  plus apt-ftparchive --db packages, gzip -9, xz, apt-ftparchive release and gpg signing of
  repomd.xml, Release.gpg and InRelease; and aptly (repo add + publish, publish update).

The release repository: N/10 releases of 10 rpm and 10 deb packages, each its own component, all
emergencies in Production but one in Staged Rollout. The cases, at each size:
  cold       nothing published: N packages;
  +1         one more release (3 rpm + 3 deb) reaches Production (release, verification and
             decision committed; a reconcile); the peers add the same files and update;
  promotion  the Staged Rollout release's decision moves it into Production (the peers do what
             promotion is for them: add the files to the production repository and update);
  no-op      nothing committed since the last run; and after an unrelated commit;
  status     `rolloutctl status` of the whole repository.

    python bench/peers_bench.py [--packages 1000 10000 50000] [--repeat 3] [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "bench"))
sys.path.insert(0, str(TOP / "scripts"))

import yaml  # noqa: E402
from bench_packages import NOW, PER_RELEASE, build_debs, build_rpms, deb_fields, release_doc, rpm_fields  # noqa: E402
from example_repo import GitWriter  # noqa: E402

EXTRA = 3  # packages of each format in the release added by +1
PEOPLE = {"andrea": ("Andrea Ferri", "andrea.ferri@argus.example.org"),
          "ines": ("Ines Carvalho", "ines.carvalho@umd.example.org"),
          "maria": ("Maria Duarte", "maria.duarte@umd.example.org")}
VERIFIED = {"result": "verified", "checks": dict.fromkeys(
    ("release_notes", "changelog", "certification", "documentation", "bug_links", "installability"), "pass")}
SKIP = {"outcome": "success", "summary": "emergency", "skip_staged_rollout": True}


# --- the packages and the release repository -----------------------------------------------------


def package_set(count: int, cache: Path) -> tuple[list[Path], list[Path]]:
    """count + EXTRA real rpms and debs, built once and kept in ``cache``."""
    folder = cache / f"packages-{count}"
    if not (folder / "done").exists():
        print(f"building {count} rpms and {count} debs (once; kept in {folder}) ...", flush=True)
        build_rpms(folder / "rpm", count + EXTRA)
        build_debs(folder / "deb", count + EXTRA)
        (folder / "done").touch()
    rpms = sorted((folder / "rpm").glob("*.rpm"), key=lambda p: int(p.name.split("-")[1]))
    debs = sorted((folder / "deb").glob("*.deb"), key=lambda p: int(p.name.split("_")[0].split("-")[1]))
    return rpms, debs


def commit(writer: GitWriter, who: str, when: str, message: str) -> str:
    return writer.commit(message, *PEOPLE[who], when)


def component_release(writer: GitWriter, index: int, rpms: list[Path], debs: list[Path]) -> str:
    doc = release_doc(index, [(p, rpm_fields(p)) for p in rpms] + [(p, deb_fields(p)) for p in debs])
    doc.update(component=f"b{index}", version="1.0.0")
    doc["emergency"]["skip_staged_rollout"] = True
    folder = f"releases/b{index}/1.0.0"
    writer.write(f"{folder}/release.yaml", yaml.safe_dump(doc))
    return folder


def write_config(writer: GitWriter, roots: list[Path], components: int, fingerprint: str) -> None:
    files = {p.name: yaml.safe_load(p.read_text()) for p in (TOP / "repos-config").glob("*.yaml")}
    names = [f"b{i}" for i in range(components)]
    files["distribution.yaml"]["components"].update({n: {"stack": "glite"} for n in names})
    files["distribution.yaml"]["majors"][0]["baselines"].update(dict.fromkeys(names, 1))
    files["roles.yaml"]["providers"]["argus-pt"]["components"] += names
    files["repositories.yaml"]["file_roots"] = [str(r) for r in roots]
    files["repositories.yaml"]["signing_key"] = fingerprint
    for name, doc in files.items():
        writer.write(f"repos-config/{name}", yaml.safe_dump(doc, sort_keys=False))
    commit(writer, "maria", "2026-01-01T00:00:00Z", "config")


def build_history(repo: Path, rpms: list[Path], debs: list[Path], count: int, fingerprint: str) -> dict[str, str]:
    """The release repository; the commit of each case by name."""
    writer = GitWriter(repo)
    releases = -(-count // PER_RELEASE)
    write_config(writer, [rpms[0].parent.parent], releases + 1, fingerprint)
    staged = releases - 1  # the last release waits in Staged Rollout, for the promotion
    folders = [component_release(writer, start // PER_RELEASE, rpms[start:start + PER_RELEASE],
                                 debs[start:start + PER_RELEASE]) for start in range(0, count, PER_RELEASE)]
    commit(writer, "andrea", "2026-11-01T09:00:00Z", "releases")
    for folder in folders:
        writer.write(f"{folder}/verification.yaml", yaml.safe_dump(VERIFIED))
    commit(writer, "ines", "2026-11-01T10:00:00Z", "verified")
    for folder in folders[:staged]:
        writer.write(f"{folder}/decision.yaml", yaml.safe_dump(SKIP))
    commit(writer, "maria", "2026-11-01T11:00:00Z", "to Production")
    commits = {"cold": writer.git("rev-parse", "HEAD")}
    folder = component_release(writer, releases, rpms[count:count + EXTRA], debs[count:count + EXTRA])
    commit(writer, "andrea", "2026-11-02T09:00:00Z", "one more release")
    writer.write(f"{folder}/verification.yaml", yaml.safe_dump(VERIFIED))
    commit(writer, "ines", "2026-11-02T10:00:00Z", "verified")
    writer.write(f"{folder}/decision.yaml", yaml.safe_dump(SKIP))
    commits["+1"] = commit(writer, "maria", "2026-11-02T11:00:00Z", "to Production")
    writer.write(f"releases/b{staged}/1.0.0/decision.yaml", yaml.safe_dump(SKIP))
    commits["promotion"] = commit(writer, "maria", "2026-11-03T09:00:00Z", "promote")
    writer.write("NOTES.md", "Nothing that a reconcile reads.\n")
    commits["unrelated"] = commit(writer, "maria", "2026-11-03T10:00:00Z", "an unrelated change")
    return commits


# --- measuring commands ----------------------------------------------------------------------


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system seconds of the command's processes
    peak_mib: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    def describe(self) -> str:
        if not self.seconds:
            return "-"
        spread = f" ({min(self.seconds):.2f}-{max(self.seconds):.2f})" if len(self.seconds) > 1 else ""
        return f"{self.median():.2f}{spread}, cpu {statistics.median(self.cpu):.2f}, {max(self.peak_mib):.0f} MiB"


def timed(command: list[str], samples: Samples, env: dict | None = None, cwd: Path | None = None) -> str:
    """Run one command as a process; record its wall time, the CPU time of it and its waited-for
    descendants (steadier than wall time on a busy machine; a daemon such as gpg-agent is not
    counted), and the peak resident memory of the largest process it ran (wait4's ru_maxrss)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    samples.seconds.append(time.perf_counter() - start)
    samples.cpu.append(usage.ru_utime + usage.ru_stime)
    samples.peak_mib.append(usage.ru_maxrss / 1024)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output.decode()[-3000:]}")
    return output.decode()


def compile_bytecode() -> None:
    """Compile the package once, as pip does when it installs the wheel: each command is then timed
    as users run it, not with every module compiled from source on every run (which happens when
    PYTHONDONTWRITEBYTECODE is set and the checkout has no __pycache__)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(TOP / "controller")], check=True)


def make_key(home: Path) -> str:
    home.mkdir(mode=0o700, parents=True)
    subprocess.run(["gpg", "--batch", "--homedir", str(home), "--passphrase", "", "--quick-gen-key",
                    "Bench signing <bench@example.org>", "rsa3072", "sign", "2y"], check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--batch", "--homedir", str(home), "--with-colons", "--list-secret-keys"],
                             check=True, capture_output=True, text=True).stdout
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))


# --- the peers -------------------------------------------------------------------------------

SIGN = 'gpg --batch --yes --pinentry-mode loopback --passphrase "" --local-user "$KEY" --digest-algo SHA256'
# One apt suite from a pool, as apt-ftparchive users script it: Packages, gz, xz, Release, signed.
APT_SCRIPT = f"""set -e
cd "$ROOT"
dist=dists/bench; bin=$dist/main/binary-amd64
mkdir -p "$bin"
apt-ftparchive --db cache.db packages pool > "$bin/Packages"
gzip -9 -n -k -f "$bin/Packages"
xz -k -f "$bin/Packages"
apt-ftparchive -o APT::FTPArchive::Release::Suite=bench -o APT::FTPArchive::Release::Components=main \\
  -o APT::FTPArchive::Release::Architectures=amd64 release "$dist" > "$dist/Release.new"
mv "$dist/Release.new" "$dist/Release"
{SIGN} --armor --detach-sign -o "$dist/Release.gpg" "$dist/Release"
{SIGN} --clearsign -o "$dist/InRelease" "$dist/Release"
"""
YUM_SCRIPT = f"""set -e
createrepo_c --workers 2 $FLAGS "$YUM"
{SIGN} --armor --detach-sign -o "$YUM/repodata/repomd.xml.asc" "$YUM/repodata/repomd.xml"
"""


class Peers:
    """The peers' trees for one size: createrepo_c (without, with sqlite) + apt-ftparchive, aptly."""

    def __init__(self, work: Path, home: Path, key: str):
        self.work, self.home, self.key = work, home, key
        self.env = {**os.environ, "GNUPGHOME": str(home), "KEY": key}
        self.aptly_conf = work / "aptly.conf"
        self.aptly = shutil.which("aptly")

    def _script(self, script: str, samples: Samples, **env: str) -> None:
        timed(["bash", "-c", script], samples, {**self.env, **env})

    def fill(self, tree: str, rpms: list[Path], debs: list[Path]) -> None:
        yum, pool = self.work / tree / "yum", self.work / tree / "apt" / "pool" / "main"
        for folder, files in ((yum, rpms), (pool, debs)):
            folder.mkdir(parents=True, exist_ok=True)
            for f in files:
                if not (folder / f.name).exists():
                    os.link(f, folder / f.name)

    def publish(self, tree: str, samples: Samples, database: bool, update: bool) -> None:
        flags = ("" if database else "--no-database ") + ("--update" if update else "")
        self._script(YUM_SCRIPT + APT_SCRIPT, samples, FLAGS=flags, YUM=str(self.work / tree / "yum"),
                     ROOT=str(self.work / tree / "apt"))

    def aptly_cold(self, debs: list[Path], samples: Samples) -> None:
        root = self.work / "aptly"
        shutil.rmtree(root, ignore_errors=True)
        self.aptly_conf.write_text(f'{{"rootDir": "{root}", "gpgProvider": "gpg", "architectures": ["amd64"]}}')
        folder = self.work / "aptly-in"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for f in debs:
            os.link(f, folder / f.name)
        self._script(f"""set -e
aptly -config="{self.aptly_conf}" repo create -distribution=bench -component=main bench >/dev/null
aptly -config="{self.aptly_conf}" repo add bench "{folder}" >/dev/null
aptly -config="{self.aptly_conf}" publish repo -batch -gpg-key="$KEY" -passphrase="" bench >/dev/null""",
                     samples)

    def aptly_update(self, debs: list[Path], samples: Samples) -> None:
        folder = self.work / "aptly-more"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for f in debs:
            os.link(f, folder / f.name)
        self._script(f"""set -e
if [ -n "$(ls "{folder}")" ]; then aptly -config="{self.aptly_conf}" repo add bench "{folder}" >/dev/null; fi
aptly -config="{self.aptly_conf}" publish update -batch -gpg-key="$KEY" -passphrase="" bench >/dev/null""",
                     samples)


# --- rolloutctl ------------------------------------------------------------------------------


class Ours:
    """rolloutctl on the release repository, publishing to a local directory."""

    def __init__(self, work: Path, repo: Path, home: Path, profile: Path | None = None):
        self.work, self.repo, self.home, self.profile = work, repo, home, profile
        self.dirs = {"publish": work / "public", "private": work / "private", "state": work / "state"}

    def command(self, case: str, verb: str, rev: str, *extra: str) -> list[str]:
        """The command line; under cProfile, writing <profile>/<case>.prof, when profiling."""
        dirs = self.dirs
        python = [sys.executable]
        if self.profile is not None:
            python += ["-m", "cProfile", "-o", str(self.profile / f"{case.replace(' ', '-')}.prof")]
        return [*python, "-m", "controller", "--repo", str(self.repo), verb, "--at", rev, "--now", NOW,
                "--publish-dir", str(dirs["publish"]), "--private-dir", str(dirs["private"]),
                "--state-dir", str(dirs["state"]), *extra]

    def reconcile(self, case: str, rev: str, samples: Samples) -> str:
        # No read-back: nothing serves the tree here (the self-check would wait for a connection),
        # and the peers do not read back what they wrote either.
        command = self.command(case, "reconcile", rev, "--gnupg-home", str(self.home), "--self-check", "off", "-q")
        return timed(command, samples, cwd=TOP)

    def status(self, rev: str, samples: Samples) -> str:
        return timed(self.command("status", "status", rev, "--format", "json"), samples, cwd=TOP)

    def reset(self) -> None:
        for path in self.dirs.values():
            shutil.rmtree(path, ignore_errors=True)

    def save(self, name: str) -> None:
        """Keep the published tree and the state as they are (hardlinks: every write renames)."""
        for key, path in self.dirs.items():
            copy = self.work / f"saved-{name}-{key}"
            shutil.rmtree(copy, ignore_errors=True)
            if path.exists():
                subprocess.run(["cp", "-al" if key == "publish" else "-a", str(path), str(copy)], check=True)

    def restore(self, name: str) -> None:
        self.reset()
        for key, path in self.dirs.items():
            copy = self.work / f"saved-{name}-{key}"
            if copy.exists():
                subprocess.run(["cp", "-al" if key == "publish" else "-a", str(copy), str(path)], check=True)

    def pool_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.dirs["publish"] / "pool").rglob("*") if p.is_file())

    def yum_metadata_bytes(self, channel: str) -> int:
        metalink = (self.dirs["publish"] / channel / "umd5-el9" / "metalink.xml").read_text()
        generation = metalink.split("/repodata/repomd.xml<")[0].rsplit("/", 1)[1]
        folder = self.dirs["publish"] / channel / "umd5-el9" / generation / "repodata"
        return sum(p.stat().st_size for p in folder.glob("*-*.xml.*") if "updateinfo" not in p.name)


# --- one size --------------------------------------------------------------------------------

OURS = "rolloutctl"
NODB = "createrepo_c --no-database + apt-ftparchive"
WITHDB = "createrepo_c (sqlite) + apt-ftparchive"
APTLY = "aptly (apt side only)"
CASES = ("cold", "+1 release", "promotion", "no-op, nothing committed", "no-op after an unrelated commit",
         "status")


Rows = dict[str, dict[str, Samples]]


def run(count: int, repeat: int, cache: Path, profile: Path | None = None) -> tuple[Rows, list[str]]:
    rpms, debs = package_set(count, cache)
    base_rpms, base_debs = rpms[:count], debs[:count]
    extra_rpms, extra_debs = rpms[count:count + EXTRA], debs[count:count + EXTRA]
    work = Path(tempfile.mkdtemp(prefix="rolloutctl-peers-"))
    rows: Rows = {case: {} for case in CASES}
    notes: list[str] = []

    def sample(case: str, who: str) -> Samples:
        return rows[case].setdefault(who, Samples())

    try:
        home = work / "gnupg"
        key = make_key(home)
        commits = build_history(work / "repo", rpms, debs, count, key)
        ours = Ours(work, work / "repo", home, profile)
        peers = Peers(work, home, key)
        for _ in range(repeat):
            ours.reset()
            ours.reconcile("cold", commits["cold"], sample("cold", OURS))
            ours.save("cold")
            ours.reconcile("no-op", commits["cold"], sample("no-op, nothing committed", OURS))
            ours.reconcile("+1", commits["+1"], sample("+1 release", OURS))
            ours.save("+1")
            before = ours.pool_bytes()
            ours.reconcile("promotion", commits["promotion"], sample("promotion", OURS))
            copied = ours.pool_bytes() - before
            ours.reconcile("unrelated", commits["unrelated"], sample("no-op after an unrelated commit", OURS))
            ours.status(commits["unrelated"], sample("status", OURS))
            if profile is not None:
                continue  # profiling: rolloutctl only
            for tree, database, who in (("nodb", False, NODB), ("db", True, WITHDB)):
                shutil.rmtree(work / tree, ignore_errors=True)
                peers.fill(tree, base_rpms, base_debs)
                peers.publish(tree, sample("cold", who), database, update=False)
                if not database:
                    peers.publish(tree, sample("no-op, nothing committed", who), database, update=True)
                peers.fill(tree, extra_rpms, extra_debs)
                peers.publish(tree, sample("+1 release", who), database, update=True)
            if peers.aptly:
                peers.aptly_cold(base_debs, sample("cold", APTLY))
                peers.aptly_update([], sample("no-op, nothing committed", APTLY))
                peers.aptly_update(extra_debs, sample("+1 release", APTLY))
        notes.append(f"promotion: {copied} package bytes copied into the pool")
        theirs = work / "nodb" / "yum" / "repodata"
        if theirs.is_dir():
            ours.restore("cold")
            # Production holds all but the staged release's packages: compared per package.
            ours_size = ours.yum_metadata_bytes("production") / (count - PER_RELEASE)
            peer_size = sum(p.stat().st_size for p in theirs.glob("*.xml.*")) / count
            notes.append(f"yum metadata (primary, filelists, other; compressed), cold, bytes per package: rolloutctl "
                         f"{ours_size:.0f}, createrepo_c {peer_size:.0f} ({ours_size / peer_size:.2f}x)")
        if not peers.aptly:
            notes.append("aptly not installed: its rows are missing (apt-get install aptly)")
    finally:
        # The gpg-agent that signing started would outlive its deleted home.
        subprocess.run(["gpgconf", "--homedir", str(work / "gnupg"), "--kill", "gpg-agent"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    # The peers' promotion is what +1 is for them: the same files added to a repository, updated.
    for who, samples in rows["+1 release"].items():
        if who != OURS:
            rows["promotion"][who] = samples
    return rows, notes


def table(count: int, rows: Rows, repeat: int) -> str:
    lines = [f"{count} rpm + {count} deb packages; wall seconds: median (range) of {repeat} run(s); cpu: median "
             "user+system seconds; peak memory of the largest process; ratio = peer median / rolloutctl median "
             "(wall; above 1: rolloutctl is faster)",
             f"| case | {OURS} | peer | peer | ratio |", "| --- | --- | --- | --- | --- |"]
    for case in CASES:
        ours = rows[case].get(OURS, Samples())
        others = [(who, s) for who, s in rows[case].items() if who != OURS] or [("-", Samples())]
        for i, (who, theirs) in enumerate(others):
            ratio = theirs.median() / ours.median() if theirs.seconds and ours.seconds else float("nan")
            first = f"{case} | {ours.describe()}" if i == 0 else " | "
            lines.append(f"| {first} | {who} | {theirs.describe()} | {ratio:.2f} |".replace("| nan |", "| - |"))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "rolloutctl-bench")
    parser.add_argument("--profile", type=Path, help="run rolloutctl only, once, each command under cProfile, "
                        "writing DIR/<size>/<case>.prof (timings then include the profiler)")
    args = parser.parse_args()
    if not shutil.which("aptly"):
        print("aptly is not installed: its rows are left out (apt-get install aptly)", file=sys.stderr)
    print(f"load average before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores")
    compile_bytecode()
    for count in args.packages:
        profile = None
        if args.profile is not None:
            profile = args.profile / str(count)
            profile.mkdir(parents=True, exist_ok=True)
        rows, notes = run(count, 1 if profile else args.repeat, args.cache, profile)
        print("\n" + table(count, rows, args.repeat))
        for note in notes:
            print(f"- {note}")
        print(f"- load average after: {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
