"""Running unattended: the systemd units pass systemd's own checker, and they name only variables
their environment file defines."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
UNITS = TOP / "contrib" / "systemd"


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    """As installed: the one change an operator makes is where rolloutctl lives."""
    installed = Path(sys.executable).parent / "rolloutctl"
    assert installed.is_file() and shutil.which("systemd-analyze"), "make system-deps installs systemd"
    for name in ("rolloutctl.service", "rolloutctl.timer"):
        text = (UNITS / name).read_text().replace("/opt/rolloutctl/bin/rolloutctl", str(installed))
        (tmp_path / name).write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "rolloutctl.service"),
                           str(tmp_path / "rolloutctl.timer")], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr  # warnings (an unknown key) count too


def test_the_service_reads_only_variables_its_environment_file_defines():
    service = (UNITS / "rolloutctl.service").read_text()
    defined = {line.split("=", 1)[0] for line in (UNITS / "rolloutctl.env").read_text().splitlines()
               if line and not line.startswith("#")}
    used = set(re.findall(r"\$\{(\w+)\}", service))
    assert used and used <= defined
    assert "EnvironmentFile=/etc/rolloutctl/rolloutctl.env" in service


def test_the_service_runs_the_commands_rolloutctl_has():
    from controller.cli import build_parser

    service = (UNITS / "rolloutctl.service").read_text().replace("\\\n", " ")
    for line in service.splitlines():
        if line.startswith(("ExecStart=", "ExecStartPost=")) and "rolloutctl" in line:
            args = line.split("=", 1)[1].split()[1:]
            parsed = build_parser().parse_args([a.replace("${", "").replace("}", "") for a in args])
            assert parsed.command in ("reconcile", "status")
