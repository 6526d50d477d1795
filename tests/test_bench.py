"""The whole-command benchmark against the peers still runs: a small run (1,000 packages, once),
checking what it reports, never how fast."""

import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent


def test_the_peers_bench_runs_every_case_at_1000_packages(tmp_path):
    done = subprocess.run([sys.executable, str(TOP / "bench" / "peers_bench.py"), "--packages", "1000",
                           "--repeat", "1", "--cache", str(tmp_path)], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = done.stdout
    for case in ("cold", "+1 release", "promotion", "no-op, nothing committed", "no-op after an unrelated commit",
                 "status"):
        assert f"| {case} | " in table, table
    assert "createrepo_c --no-database + apt-ftparchive" in table
    assert "promotion: 0 package bytes copied into the pool" in table
    assert "yum metadata" in table
