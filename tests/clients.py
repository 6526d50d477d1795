"""Real dnf and apt, confined to a temporary directory, reading a published tree over HTTP (their
client configurations taken from the directory, or from the URL it is served at)."""

from __future__ import annotations

import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

CHANNELS = ("unverified", "staged-rollout", "production")


def published_file(publish: Path | str, relpath: str) -> bytes | None:
    """A file of a published tree: a directory, or the http(s) URL it is served from."""
    if isinstance(publish, Path):
        path = publish / relpath
        return path.read_bytes() if path.is_file() else None
    try:
        with urllib.request.urlopen(f"{publish.rstrip('/')}/{relpath}", timeout=30) as answer:
            return answer.read()
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 404):
            return None
        raise


def repodata(publish: Path, channel: str, repository: str = "umd5-el9") -> Path:
    """The repodata/ of the generation a channel's metalink names, in a published directory."""
    metalink = (publish / channel / repository / "metalink.xml").read_text()
    url = re.search(r"<url [^>]*>([^<]+)</url>", metalink).group(1)
    return publish / url.split("/", 3)[3].removesuffix("/repomd.xml")


class Dnf:
    def __init__(self, home: Path, publish: Path, repository: str = "umd5-el9"):
        self.home = home
        self.conf = home / "dnf.conf"
        (home / "repos").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(f"[main]\nreposdir={home}/repos\ncachedir={home}/cache\npersistdir={home}/persist\n"
                             f"logdir={home}/log\ninstall_weak_deps=False\n")
        self.publish = publish
        self.repository = repository

    def refresh_configs(self) -> None:
        for channel in CHANNELS:
            config = published_file(self.publish, f"{channel}/{self.repository}.repo")
            if config is not None:
                (self.home / "repos" / f"{channel}.repo").write_bytes(config)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        self.refresh_configs()
        # No plugins: the machine's would change what dnf reads (dnf-plugins-core's "local" plugin
        # serves every package ever installed as a repository of its own).
        return subprocess.run(["dnf", "-c", str(self.conf), "--installroot", str(self.home / "root"),
                               "--releasever", "9", "-y", "--refresh", "--noplugins", *args],
                              capture_output=True, text=True)

    def run_from_cache(self, *args: str) -> subprocess.CompletedProcess:
        """dnf on the metadata it fetched last (packages are still downloaded), as a client that
        read a generation and installs from it later would."""
        return subprocess.run(["dnf", "-c", str(self.conf), "--installroot", str(self.home / "root"),
                               "--releasever", "9", "-y", "--setopt=*.metadata_expire=-1", *args],
                              capture_output=True, text=True)

    def available(self) -> dict[str, set[str]]:
        """channel -> {name-version-release} dnf lists there."""
        done = self.run("repoquery", "--available", "--qf", "%{repoid} %{name}-%{version}-%{release}")
        assert done.returncode == 0, done.stderr
        found: dict[str, set[str]] = {c: set() for c in CHANNELS}
        for line in done.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0].startswith(self.repository + "-"):
                found[parts[0].removeprefix(self.repository + "-")].add(parts[1])
        return found


class Apt:
    def __init__(self, home: Path, publish: Path, repository: str = "umd5-bookworm", check_dates: bool = False):
        # Stories replay fixed days in the past, so their metadata is expired by the real clock:
        # they turn apt's date checks off, explicitly (machines differ); one test turns them on.
        self.check_dates = "true" if check_dates else "false"
        self.home = home
        self.publish = publish
        self.repository = repository
        for folder in ("sources", "state/lists/partial", "cache/archives/partial", "prefs"):
            (home / folder).mkdir(parents=True, exist_ok=True)
        (home / "status").touch()

    def options(self) -> list[str]:
        h = self.home
        return ["-o", "Dir::Etc::SourceList=/dev/null", "-o", f"Dir::Etc::SourceParts={h}/sources",
                "-o", f"Dir::State={h}/state", "-o", f"Dir::State::status={h}/status", "-o", f"Dir::Cache={h}/cache",
                "-o", "Dir::Etc::Preferences=/dev/null", "-o", f"Dir::Etc::PreferencesParts={h}/prefs",
                "-o", "APT::Architecture=amd64", "-o", "Debug::NoLocking=1",
                "-o", "APT::Sandbox::User=root",  # the temporary directories are not _apt's
                "-o", f"Acquire::Check-Valid-Until={self.check_dates}",
                "-o", f"Acquire::Check-Date={self.check_dates}"]

    def update(self) -> subprocess.CompletedProcess:
        for old in (self.home / "sources").glob("*.sources"):
            old.unlink()
        for channel in CHANNELS:
            config = published_file(self.publish, f"{channel}/{self.repository}.sources")
            if config is not None:
                (self.home / "sources" / f"{channel}.sources").write_bytes(config)
        return subprocess.run(["apt-get", *self.options(), "update"], capture_output=True, text=True)

    def candidates(self, package: str) -> dict[str, str]:
        """channel -> version that apt-cache policy shows from it."""
        done = subprocess.run(["apt-cache", *self.options(), "policy", package], capture_output=True, text=True)
        found, version = {}, None
        table = done.stdout.split("Version table:", 1)[-1] if "Version table:" in done.stdout else ""
        for line in table.splitlines():
            tokens = line.replace("***", "").split()
            if len(tokens) == 2 and tokens[1].isdigit():
                version = tokens[0]
            elif len(tokens) >= 3 and tokens[0].isdigit() and tokens[1].startswith("http") and version:
                # "500 http://host/prefix/ umd5-bookworm-production/main all Packages"
                found[next(c for c in CHANNELS if tokens[2].endswith(f"-{c}/main"))] = version
        return found

    def install(self, package: str) -> subprocess.CompletedProcess:
        """apt-get install into a root of its own under home/root: apt resolves and fetches, then
        dpkg unpacks there with its own database (no maintainer scripts run outside it)."""
        root = self.home / "root"
        for folder in ("var/lib/dpkg/info", "var/lib/dpkg/updates"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "var/lib/dpkg/status").touch()
        dpkg = [f"--root={root}", f"--admindir={root}/var/lib/dpkg", "--force-script-chrootless",
                "--force-not-root"]
        return subprocess.run(["apt-get", *self.options(), "-o", f"Dir::State::status={root}/var/lib/dpkg/status",
                               *[arg for option in dpkg for arg in ("-o", f"DPkg::Options::={option}")],
                               "install", "-y", "--no-install-recommends", package], capture_output=True, text=True)
