"""Publishing N real rpm and deb packages: rolloutctl side by side with the tools a repository
manager would otherwise script (createrepo_c, apt-ftparchive with gzip and xz), in one run.

Measured, for N packages in one channel (N/10 releases of 10 packages):
  cold       nothing cached: rolloutctl reconcile (git, fetch+hash, publish) vs createrepo_c
             --workers 2 and apt-ftparchive + gzip + xz on the same files;
  +1         one more release of 3 packages, republished: rolloutctl reconcile (whole run, and the
             yum and apt publish steps alone) vs createrepo_c --update and apt-ftparchive --db warm;
  no-op      a reconcile with nothing to do;
  promotion  bytes copied when the release moves to Production (hardlinks: none expected).

    python bench/publish_bench.py [--packages 1000 10000] [--cache DIR]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "scripts"))
sys.path.insert(0, str(TOP))

import yaml  # noqa: E402
from example_repo import GitWriter  # noqa: E402

PER_RELEASE = 10
NOW = "2026-11-24T12:00:00+00:00"


# --- building packages -----------------------------------------------------------------------


def build_rpms(target: Path, count: int) -> None:
    """Real rpms from rpmbuild: one spec per 1,000 subpackages keeps it to minutes."""
    target.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())
    for batch in range(0, count, 1000):
        size = min(1000, count - batch)
        lines = [f"Name: bench-batch{batch}", "Version: 1.0", "Release: 1.el9", "Summary: benchmark",
                 "License: MIT", "BuildArch: noarch", "%description", "benchmark batch", "%install"]
        lines += [f"mkdir -p %{{buildroot}}/usr/share/bench/{batch + i} && echo {batch + i} > "
                  f"%{{buildroot}}/usr/share/bench/{batch + i}/data" for i in range(size)]
        for i in range(size):
            n = batch + i
            lines += [f"%package -n bench-{n}", f"Summary: benchmark package {n}", f"%description -n bench-{n}",
                      f"benchmark package {n}", f"%files -n bench-{n}", f"/usr/share/bench/{n}/data"]
        spec = work / f"batch{batch}.spec"
        spec.write_text("\n".join(lines) + "\n")
        subprocess.run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {work}", "--define", "_build_id_links none",
                        str(spec)], check=True, capture_output=True)
    for rpm in (work / "RPMS" / "noarch").glob("bench-[0-9]*.rpm"):
        shutil.move(rpm, target / rpm.name)
    shutil.rmtree(work)


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in members:
        out.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode())
        out.write(data + (b"\n" if len(data) % 2 else b""))
    return out.getvalue()


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1767225600, 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def build_debs(target: Path, count: int) -> None:
    """Real .deb files (ar: debian-binary, control.tar.gz, data.tar.gz), written directly."""
    target.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        control = (f"Package: bench-{n}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: Bench <b@example.org>\n"
                   f"Description: benchmark package {n}\n").encode()
        deb = _ar([("debian-binary", b"2.0\n"), ("control.tar.gz", _tar({"./control": control})),
                   ("data.tar.gz", _tar({f"./usr/share/bench/{n}/data": f"{n}\n".encode()}))])
        (target / f"bench-{n}_1.0-1_all.deb").write_bytes(deb)


# --- the release repository ----------------------------------------------------------------------


def write_config(writer: GitWriter, roots: list[Path]) -> None:
    files = {p.name: yaml.safe_load(p.read_text()) for p in (TOP / "repos-config").glob("*.yaml")}
    files["distribution.yaml"]["components"]["bench"] = {"stack": "glite"}
    files["distribution.yaml"]["majors"][0]["baselines"]["bench"] = 1
    files["roles.yaml"]["providers"]["argus-pt"]["components"].append("bench")
    files["repositories.yaml"]["file_roots"] = [str(r) for r in roots]
    for name, doc in files.items():
        writer.write(f"repos-config/{name}", yaml.safe_dump(doc, sort_keys=False))
    writer.commit("config", "Maria Duarte", "maria.duarte@umd.example.org", "2026-01-01T00:00:00Z")


def release_doc(index: int, packages: list[tuple[Path, dict]]) -> dict:
    return {"component": "bench", "version": f"1.0.{index}", "category": "emergency", "stack": "glite",
            "distribution": "5", "summary": f"bench {index}",
            "provider": {"name": "bench", "contact": "andrea.ferri@argus.example.org"},
            "release_notes": "https://example.org/n", "changelog": "bench",
            "certification": [{"url": "https://example.org/c"}], "documentation": [{"url": "https://example.org/d"}],
            "emergency": {"justification": "benchmark releases, exempt from cadence limits"},
            "packages": [{**fields, "url": f"file://{path}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                          "size": path.stat().st_size} for path, fields in packages]}


def rpm_fields(path: Path) -> dict:
    name = path.name.removesuffix(".noarch.rpm").rsplit("-", 2)[0]
    return {"name": name, "version": "1.0", "release": "1.el9", "arch": "noarch", "platform": "el9"}


def deb_fields(path: Path) -> dict:
    return {"name": path.name.split("_")[0], "version": "1.0-1", "arch": "all", "platform": "bookworm"}


def add_releases(writer: GitWriter, rpms: list[Path], debs: list[Path], first: int, when: str) -> int:
    count = 0
    for start in range(0, len(rpms), PER_RELEASE):
        index = first + start // PER_RELEASE
        packages = [(p, rpm_fields(p)) for p in rpms[start:start + PER_RELEASE]]
        packages += [(p, deb_fields(p)) for p in debs[start:start + PER_RELEASE]]
        writer.write(f"releases/bench/1.0.{index}/release.yaml", yaml.safe_dump(release_doc(index, packages)))
        count += 1
        if count % 100 == 0:
            writer.commit(f"bench releases up to {index}", "Andrea Ferri", "andrea.ferri@argus.example.org", when)
    writer.commit("bench releases", "Andrea Ferri", "andrea.ferri@argus.example.org", when)
    return count


# --- measuring -------------------------------------------------------------------------------


def seconds(command: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def apt_ftparchive(folder: Path, db: Path | None) -> float:
    start = time.perf_counter()
    command = ["apt-ftparchive"] + (["--db", str(db)] if db else []) + ["packages", "."]
    index = subprocess.run(command, cwd=folder, check=True, capture_output=True).stdout
    gzip.compress(index, compresslevel=9)
    lzma.compress(index)
    return time.perf_counter() - start


def reconcile_seconds(repo: Path, publish: Path, state: Path) -> tuple[float, object]:
    from controller.reconcile import Options, reconcile

    start = time.perf_counter()
    outcome = reconcile(Options(str(repo), "HEAD", datetime.fromisoformat(NOW), publish, state))
    return time.perf_counter() - start, outcome


def publish_step_seconds(publish: Path, state: Path, repo: Path, cold: bool = False,
                         runs: int = 3) -> tuple[float, float]:
    """The yum and apt writers alone on the Unverified channel's content: with the caches warm
    (median of ``runs``), or cold (an empty cache, once)."""
    from controller import app
    from controller.apply.channels import make_signer
    from controller.core.assess import assess
    from controller.core.desired import compute_desired
    from controller.core.ingest import ingest_outcomes
    from controller.core.model import Channel
    from controller.publish import apt, yum
    from controller.publish.local import LocalTarget
    from controller.publish.pool import Pool

    world, _ = app.read_world(str(repo), "HEAD")
    pool = Pool(LocalTarget(publish), state)
    assessment = assess(world, datetime.fromisoformat(NOW), ingest_outcomes(world, pool.contents().__contains__, {}))
    content = compute_desired(world, assessment, datetime.fromisoformat(NOW))[Channel.UNVERIFIED]
    signer = make_signer(world, None, state, None, [])
    found = {}
    for repo_content in content.repos:
        samples = []
        for _ in range(1 if cold else runs):
            cache = Path(tempfile.mkdtemp(dir=state)) if cold else state / "cache"
            start = time.perf_counter()
            if repo_content.repository.format == "yum":
                yum.build_repository(f"unverified/{repo_content.repository.name}", repo_content, pool.reader(),
                                     yum.BlockCache(cache), signer, 1, "http://localhost")
            else:
                now = datetime.now(UTC)
                apt.build_repository(f"{repo_content.repository.name}-unverified", "unverified", repo_content,
                                     pool.reader(), apt.StanzaCache(cache), signer, "UMD 5", now, now)
            samples.append(time.perf_counter() - start)
            if cold:
                shutil.rmtree(cache)
        found[repo_content.repository.format] = sorted(samples)[len(samples) // 2]
    return found["yum"], found["apt"]


def run(count: int, cache: Path) -> list[tuple[str, str, float, str, float]]:
    packages = cache / f"packages-{count}"
    rpms_dir, debs_dir = packages / "rpm", packages / "deb"
    if not (packages / "done").exists():
        print(f"building {count} rpms and {count} debs (once; kept in {packages}) ...", flush=True)
        build_rpms(rpms_dir, count + 3)
        build_debs(debs_dir, count + 3)
        (packages / "done").touch()
    rpms = sorted(rpms_dir.glob("*.rpm"), key=lambda p: int(p.name.split("-")[1]))
    debs = sorted(debs_dir.glob("*.deb"), key=lambda p: int(p.name.split("_")[0].split("-")[1]))
    base_rpms, extra_rpms = rpms[:count], rpms[count:count + 3]
    base_debs, extra_debs = debs[:count], debs[count:count + 3]
    work = Path(tempfile.mkdtemp(prefix="rolloutctl-bench-"))
    rows = []
    try:
        # Peers, on hardlinked copies laid out as they would be.
        peer_yum, peer_yum_db, peer_apt = work / "peer-yum", work / "peer-yum-db", work / "peer-apt"
        for folder, files in ((peer_yum, base_rpms), (peer_yum_db, base_rpms), (peer_apt, base_debs)):
            folder.mkdir()
            for f in files:
                os.link(f, folder / f.name)
        cr_full = seconds(["createrepo_c", "--workers", "2", "--no-database", str(peer_yum)])
        cr_full_db = seconds(["createrepo_c", "--workers", "2", str(peer_yum_db)])
        ftp_full = apt_ftparchive(peer_apt, None)
        ftp_db = work / "ftparchive.db"
        apt_ftparchive(peer_apt, ftp_db)  # warm its cache
        for folder, files in ((peer_yum, extra_rpms), (peer_yum_db, extra_rpms), (peer_apt, extra_debs)):
            for f in files:
                os.link(f, folder / f.name)
        cr_update = seconds(["createrepo_c", "--workers", "2", "--no-database", "--update", str(peer_yum)])
        cr_update_db = seconds(["createrepo_c", "--workers", "2", "--update", str(peer_yum_db)])
        ftp_update = apt_ftparchive(peer_apt, ftp_db)

        # rolloutctl on a release repository holding the same packages.
        repo, publish, state = work / "repo", work / "public", work / "state"
        writer = GitWriter(repo)
        write_config(writer, [packages])
        releases = add_releases(writer, base_rpms, base_debs, 0, "2026-11-01T09:00:00Z")
        cold, _ = reconcile_seconds(repo, publish, state)
        noop, outcome = reconcile_seconds(repo, publish, state)
        assert not outcome.changed, "a second reconcile found work"
        noop_cli = seconds([sys.executable, "-m", "controller", "--repo", str(repo), "reconcile", "--now", NOW,
                            "--publish-dir", str(publish), "--state-dir", str(state)], cwd=TOP)
        add_releases(writer, extra_rpms, extra_debs, releases, "2026-11-02T09:00:00Z")
        plus_one, outcome = reconcile_seconds(repo, publish, state)
        added = outcome.plan.assessment.statuses.get(f"bench/1.0.{releases}")
        assert added is not None and added.channel == "unverified", (added, outcome.failures,
                                                                     outcome.plan.problems[:3])
        yum_step, apt_step = publish_step_seconds(publish, state, repo)
        yum_cold, apt_cold = publish_step_seconds(publish, state, repo, cold=True)
        inode_shared = all(
            len(list((publish / "pool" / h[:2] / h).iterdir())) == 1
            for p in extra_rpms for h in [hashlib.sha256(p.read_bytes()).hexdigest()])
        rows += [
            ("cold: one channel, all packages", "rolloutctl reconcile (yum+apt, incl. git and hashing)", cold,
             "createrepo_c --workers 2 (no sqlite) + apt-ftparchive, gz, xz", cr_full + ftp_full),
            ("cold: yum side", "yum publish step, empty cache", yum_cold, "createrepo_c --workers 2, no sqlite",
             cr_full),
            ("cold: yum side", "yum publish step, empty cache", yum_cold, "createrepo_c --workers 2, with sqlite",
             cr_full_db),
            ("cold: apt side", "apt publish step, empty cache", apt_cold, "apt-ftparchive + gzip + xz", ftp_full),
            ("+1 release (3 packages)", "rolloutctl reconcile (whole run)", plus_one,
             "createrepo_c --update (no sqlite) + apt-ftparchive --db warm", cr_update + ftp_update),
            ("+1 yum side", "yum publish step (warm cache)", yum_step, "createrepo_c --update, no sqlite", cr_update),
            ("+1 yum side", "yum publish step (warm cache)", yum_step, "createrepo_c --update, with sqlite",
             cr_update_db),
            ("+1 apt side", "apt publish step (warm cache)", apt_step, "apt-ftparchive --db warm + gzip + xz",
             ftp_update),
            ("nothing to do", "rolloutctl reconcile (in process)", noop, "-", float("nan")),
            ("nothing to do", "rolloutctl reconcile (command, with start-up)", noop_cli, "-", float("nan")),
        ]
        print(f"each package stored once, in the pool (no bytes copied): {inode_shared}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "rolloutctl-bench")
    args = parser.parse_args()
    for count in args.packages:
        rows = run(count, args.cache)
        print(f"\n{count} rpm + {count} deb packages ({count // PER_RELEASE} releases); seconds, one run")
        print(f"{'case':34} {'rolloutctl':52} {'s':>7}   {'peer':60} {'s':>7} {'ratio':>6}")
        for case, ours, ours_s, peer, peer_s in rows:
            ratio = peer_s / ours_s if ours_s == ours_s and peer_s == peer_s and ours_s else float("nan")
            print(f"{case:34} {ours:52} {ours_s:7.2f}   {peer:60} {peer_s:7.2f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
