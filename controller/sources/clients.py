"""Real dnf and apt on the controller's machine, each confined to a temporary directory of its own
(configuration, caches, keyrings, package database), reading channels over HTTP as a site's client
does, signatures checked. It answers two questions: what a channel offers (the self-check after a
publication) and whether packages install against channels (the installability gate: dnf's
repoclosure, apt-get's simulated install). The only module that runs dnf and apt; the client
configurations it reads from the public URL come through sources/fetch.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from controller.errors import BadInput, ToolFailed, Transient
from controller.sources.fetch import FetchPolicy, fetch

TIMEOUT = 600  # seconds one client run may take: a slow mirror, never a hung run
_CONFIG_POLICY = FetchPolicy(timeout=20, attempts=2, backoff=1.0, package_time=60)
# dnf's plugins change what it reads (the "local" plugin serves every package it ever installed as
# a repository of its own): none of the machine's, only the one a command needs.
_NO_PLUGINS = ["--disableplugin=*"]


class Unreachable(Exception):
    """The public URL did not answer from this machine (refused, timed out): nothing was read."""


def installed() -> dict[str, bool]:
    """Which clients this machine has: "dnf", "apt"."""
    return {"dnf": shutil.which("dnf") is not None,
            "apt": shutil.which("apt-get") is not None and shutil.which("apt-cache") is not None}


@functools.cache
def has_repoclosure() -> bool:
    """Whether dnf has its repoclosure plugin here (Debian: dnf-plugins-core)."""
    if not installed()["dnf"]:
        return False
    done = subprocess.run(["dnf", *_NO_PLUGINS, "--enableplugin=repoclosure", "repoclosure", "--help"],
                          capture_output=True, text=True, timeout=TIMEOUT)
    return done.returncode == 0


def read_config(url: str, work: Path) -> tuple[bytes | None, str]:
    """A client configuration served at ``url``: (its bytes, "") or (None, why it is not there).
    Raises Unreachable when nothing answers at all."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.download"
    try:
        fetch(url, path, 1 << 20, _CONFIG_POLICY, exact=False)
    except BadInput as exc:  # the server answered: not found, forbidden, too large
        return None, exc.message
    except Transient as exc:
        raise Unreachable(exc.message) from None
    return path.read_bytes(), ""


def _run(command: list[str], hint: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except FileNotFoundError:
        raise ToolFailed(command, 127, f"{command[0]} is not installed", hint) from None
    except subprocess.TimeoutExpired:
        raise ToolFailed(command, -1, f"no answer within {TIMEOUT} s", hint) from None


# --- dnf -----------------------------------------------------------------------------------------


class Dnf:
    """dnf with a configuration, cache and rpm database under ``home``, reading the .repo files
    given to ``add``; gpg checks as the .repo files say (the published ones say both on)."""

    def __init__(self, home: Path):
        self.home = home.absolute()
        self.repos = self.home / "repos"
        self.repos.mkdir(parents=True, exist_ok=True)
        self.conf = self.home / "dnf.conf"
        self.conf.write_text(f"[main]\nreposdir={self.repos}\ncachedir={self.home}/cache\n"
                             f"persistdir={self.home}/persist\nlogdir={self.home}/log\ninstall_weak_deps=False\n"
                             "skip_if_unavailable=True\n")

    def add(self, name: str, config: bytes) -> None:
        (self.repos / f"{name}.repo").write_bytes(config)

    def run(self, *args: str, plugins: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        command = ["dnf", "-c", str(self.conf), "--installroot", str(self.home / "root"), "--releasever", "1",
                   "-y", "--refresh", *_NO_PLUGINS, *(f"--enableplugin={p}" for p in plugins), *args]
        try:
            return _run(command, "install dnf (Debian: apt-get install dnf), or leave dnf out of the check")
        finally:
            self.stop_agents()

    def stop_agents(self) -> None:
        """dnf imports each repository's key into a keyring of its own and leaves a gpg-agent
        running for it: stop those, or every run would leave some behind."""
        for keyring in self.home.rglob("pubring"):
            if keyring.is_dir():
                subprocess.run(["gpgconf", "--homedir", str(keyring), "--kill", "gpg-agent"], capture_output=True,
                               timeout=60)

    @staticmethod
    def unavailable(stderr: str) -> dict[str, str]:
        """Repository id -> what dnf said about it, for those it could not read."""
        found = {}
        for line in stderr.splitlines():
            match = re.search(r"[Ff]ailed to (?:download|load) metadata for repo '([^']+)'(.*)", line)
            if match:
                found[match.group(1)] = (match.group(0).strip() + " " + _context(stderr, match.group(1))).strip()
        return found


def _context(stderr: str, repo: str) -> str:
    """dnf's lines that say why a repository failed (a checksum, a signature, a download)."""
    lines = [line.strip() for line in stderr.splitlines()
             if repo in line or "checksum" in line.lower() or "gpg" in line.lower() or "signature" in line.lower()]
    said = (line for line in lines if "Failed to" not in line and not line.startswith("Importing GPG key"))
    return "; ".join(dict.fromkeys(said))[:500]


def dnf_offers(configs: dict[str, bytes], home: Path) -> tuple[dict[str, set[str]], dict[str, str]]:
    """What dnf offers from the repositories of the .repo files ``configs`` (a name each): (repository
    id -> name-epoch:version-release.arch, repository id -> why dnf could not read it)."""
    dnf = Dnf(home)
    for name, config in configs.items():
        dnf.add(name, config)
    done = dnf.run("repoquery", "--available", "--qf", "%{repoid} %{name}-%{epoch}:%{version}-%{release}.%{arch}")
    failed = Dnf.unavailable(done.stderr)
    if done.returncode != 0 and not failed:
        failed = {"*": f"dnf repoquery exited with {done.returncode}: {_tail(done.stderr)}"}
    offered: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            offered.setdefault(parts[0], set()).add(parts[1])
    return offered, failed


@dataclass(frozen=True)
class Unresolved:
    """A package of the release that would not install, and what it lacks."""

    package: str
    missing: str


_CLOSURE_PACKAGE = re.compile(r"^package: (\S+) from (\S+)")


def repoclosure(configs: dict[str, bytes], local: dict[str, Path], arch: str, home: Path) -> list[Unresolved]:
    """Every unresolved dependency of the packages in the ``local`` repositories (repository id ->
    a directory with repodata/), resolved against them and the repositories of ``configs``, for
    ``arch``. Raises ToolFailed when dnf cannot read a repository (then nothing is known)."""
    dnf = Dnf(home)
    for name, config in configs.items():
        dnf.add(name, config)
    for ident, folder in local.items():
        dnf.add(ident, f"[{ident}]\nname={ident}\nbaseurl=file://{folder.absolute()}\ngpgcheck=0\n"
                       "repo_gpgcheck=0\n".encode())
    args = ["repoclosure", "--forcearch", arch, *(f"--check={ident}" for ident in local)]
    done = dnf.run(*args, plugins=("repoclosure",))
    failed = Dnf.unavailable(done.stderr)
    if failed or (done.returncode != 0 and "unresolved deps" not in done.stdout):
        raise ToolFailed(["dnf", *args], done.returncode, done.stderr or done.stdout,
                         "the channels must be readable from this machine; is dnf-plugins-core installed?")
    found, package = [], ""
    for line in done.stdout.splitlines():
        match = _CLOSURE_PACKAGE.match(line)
        if match:
            package = match.group(1)
        elif line.startswith("    ") and package:
            found.append(Unresolved(package, line.strip()))
    return found


# --- apt -----------------------------------------------------------------------------------------


class Apt:
    """apt with its sources, lists, cache and dpkg status under ``home``; each source a deb822
    file whose Signed-By holds the key (the published .sources files)."""

    def __init__(self, home: Path, arch: str = "amd64", check_dates: bool = True):
        self.home = home.absolute()
        self.arch = arch
        # Replaying another day (--now) signs metadata with that day's dates: apt's own clock
        # would call it expired or not yet valid.
        self.check_dates = "true" if check_dates else "false"
        for folder in ("sources", "state/lists/partial", "cache/archives/partial", "prefs"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        (self.home / "status").touch()

    def add(self, name: str, config: bytes) -> None:
        (self.home / "sources" / f"{name}.sources").write_bytes(config)

    def options(self) -> list[str]:
        h = self.home
        return ["-o", "Dir::Etc::SourceList=/dev/null", "-o", f"Dir::Etc::SourceParts={h}/sources",
                "-o", f"Dir::State={h}/state", "-o", f"Dir::State::status={h}/status", "-o", f"Dir::Cache={h}/cache",
                "-o", "Dir::Etc::Preferences=/dev/null", "-o", f"Dir::Etc::PreferencesParts={h}/prefs",
                "-o", f"APT::Architecture={self.arch}", "-o", "Debug::NoLocking=1",
                "-o", "APT::Sandbox::User=root",  # the temporary directory is not _apt's
                "-o", f"Acquire::Check-Valid-Until={self.check_dates}", "-o", f"Acquire::Check-Date={self.check_dates}"]

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        return _run([tool, *self.options(), *args], "install apt, or leave apt out of the check")

    def update(self) -> str:
        """'' when every source was read and verified, else what apt said."""
        done = self.run("apt-get", "update")
        said = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith(("W:", "E:", "Err:"))]
        if done.returncode != 0 or said:
            return "; ".join(said) or f"apt-get update exited with {done.returncode}"
        return ""


def apt_offers(config: bytes, home: Path, check_dates: bool = True) -> tuple[set[str], str]:
    """What apt offers from the suite of one .sources file: (name_version_arch, why apt could not
    read it, or "")."""
    apt = Apt(home, check_dates=check_dates)
    apt.add("channel", config)
    problem = apt.update()
    if problem:
        return set(), problem
    done = apt.run("apt-cache", "dumpavail")
    if done.returncode != 0:
        return set(), f"apt-cache dumpavail exited with {done.returncode}: {_tail(done.stderr)}"
    offered, fields = set(), {}
    for line in done.stdout.splitlines() + [""]:
        if not line.strip():
            if fields:
                offered.add(f"{fields.get('Package')}_{fields.get('Version')}_{fields.get('Architecture')}")
            fields = {}
        elif not line.startswith((" ", "\t")) and ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return offered, ""


_UNMET = re.compile(r"^(?: (\S+) :|\s+)\s*(Pre-Depends|Depends): (.+?)(?: but .*)?$")


def apt_simulate(configs: dict[str, bytes], debs: list[Path], arch: str, home: Path,
                 check_dates: bool = True) -> list[Unresolved]:
    """The unmet dependencies of installing ``debs`` together, resolved against the suites of the
    .sources files ``configs``, for ``arch`` (apt-get install --simulate: nothing is installed).
    Raises ToolFailed when apt cannot read a suite."""
    apt = Apt(home, arch, check_dates)
    for name, config in configs.items():
        apt.add(name, config)
    problem = apt.update()
    if problem:
        raise ToolFailed(["apt-get", "update"], 100, problem, "the channels must be readable from this machine")
    done = apt.run("apt-get", "install", "--simulate", "--no-install-recommends", *(str(d.absolute()) for d in debs))
    if done.returncode == 0:
        return []
    found, package = [], ""
    for line in done.stdout.splitlines():
        match = _UNMET.match(line)
        if match:
            package = match.group(1) or package
            found.append(Unresolved(package, match.group(3).strip()))
    if not found:
        raise ToolFailed(["apt-get", "install", "--simulate", *map(str, debs)], done.returncode,
                         done.stderr or done.stdout, "read apt's answer above")
    return found


def _tail(text: str) -> str:
    return " ".join(text.strip().splitlines()[-3:])[:500]
