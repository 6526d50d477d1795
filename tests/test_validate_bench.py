"""The history bench still runs: a tiny repository, every command once (no timing asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent


def test_the_validate_bench_builds_its_repository_and_times_every_command(tmp_path):
    out = tmp_path / "history.md"
    done = subprocess.run([sys.executable, str(TOP / "bench/validate_bench.py"), "--releases", "6", "--commits", "60",
                           "--runs", "1", "--markdown", str(out)], cwd=TOP, capture_output=True, text=True,
                          env={**os.environ, "ROLLOUTCTL_BENCH_CACHE": str(tmp_path / "cache")}, timeout=300)
    assert done.returncode == 0, done.stderr
    table = out.read_text()
    assert "6 lifecycle releases, 60 commits" in table
    rows = {line.split(" | ")[0].lstrip("| "): line.rstrip(" |").rsplit(" | ", 1)[-1]
            for line in table.splitlines() if line.startswith("| ") and "---" not in line}
    # Every command ran and found the generated history clean (exit 0), cold and warm.
    assert rows == {"command": "exit", "validate (whole repository)": "0", "validate --base main (1-file PR)": "0",
                    "status": "0", "git log --name-status (floor)": "0"}
