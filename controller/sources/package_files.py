"""What a package file says about itself, for rolloutctl release new: a local file is copied into
the release's packages/ directory, a URL is fetched once; either way the identity comes from the
package's own header (createrepo_c for rpm, python-debian for deb), the size and sha256 from its bytes.
Writes only under the release directory and a temporary directory it removes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from controller.core.release_draft import PackageFacts
from controller.errors import BadInput
from controller.publish import debfile, yum
from controller.sources.fetch import FetchPolicy, fetch, sha256_of

LIMIT = 4 << 30  # no middleware package is larger; a download past this is refused


def _identity(path: Path, shown: str) -> tuple[str, int, str, str | None, str, str]:
    """(name, epoch, version, release, arch, format) from the package header."""
    if path.name.endswith(".rpm"):
        try:
            name, epoch, version, release, arch = yum.rpm_identity(str(path))
        except ValueError as exc:
            raise BadInput(f"{shown}: not a readable rpm ({exc})", "is it an rpm package?") from None
        return name, epoch, version, release, arch, "rpm"
    if path.name.endswith(".deb"):
        name, full, arch = debfile.deb_identity(path.read_bytes(), shown)
        epoch, _, version = full.rpartition(":")
        return name, int(epoch or 0), version, None, arch, "deb"
    raise BadInput(f"{shown}: neither .rpm nor .deb", "pass the package files themselves")


def package_file_name(name: str, epoch: int, version: str, release: str | None, arch: str) -> str:
    """The file name the manifest's fields make (the epoch is never part of it)."""
    return f"{name}_{version}_{arch}.deb" if release is None else f"{name}-{version}-{release}.{arch}.rpm"


def read_local(source: Path, release_dir: Path) -> PackageFacts:
    """A package file on disk, copied into ``release_dir``/packages/ under the name its fields make."""
    if not source.is_file():
        raise BadInput(f"{source}: no such file", "give the path of a built .rpm or .deb, or its URL")
    name, epoch, version, release, arch, kind = _identity(source, str(source))
    target = release_dir / "packages" / package_file_name(name, epoch, version, release, arch)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() != target.resolve():
        shutil.copyfile(source, target)
    return PackageFacts(name, epoch, version, release, arch, kind, target.stat().st_size, sha256_of(target),
                        path=f"packages/{target.name}")


def read_url(url: str, policy: FetchPolicy) -> PackageFacts:
    """A package at a URL, fetched once into a temporary file that is removed afterwards."""
    if "@" in url.split("/")[2]:
        raise BadInput(f"{url.split('@', 1)[1]}: the URL carries credentials",
                       "release.yaml is public: give a URL that needs none")
    shown = url.split("?", 1)[0].rstrip("/")
    with tempfile.TemporaryDirectory(prefix="rolloutctl-") as work:
        target = Path(work) / shown.rsplit("/", 1)[-1]
        digest = fetch(url, target, LIMIT, policy, exact=False)
        name, epoch, version, release, arch, kind = _identity(target, url)
        return PackageFacts(name, epoch, version, release, arch, kind, target.stat().st_size, digest, url=url)


def read_packages(sources: list[str], release_dir: Path, policy: FetchPolicy) -> list[PackageFacts]:
    facts = []
    for source in sources:
        if source.startswith(("http://", "https://")):
            facts.append(read_url(source, policy))
        else:
            facts.append(read_local(Path(source.removeprefix("file://")), release_dir))
    return facts
