"""apt's Packages.gz and Packages.xz made of runs compressed on their own: apt's own reader (the
one apt-get uses on downloaded indexes, through apt-helper) reads them whole, and a change to one
release compresses one run again."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

from controller.publish import apt


def _groups(count: int, extra: str = "") -> list[tuple[str, list[str]]]:
    return [(f"c{i}/1.0.{i}", [f"Package: c{i}-{n}\nVersion: 1.0.{i}{extra if i == 7 else ''}\n"
                               f"Architecture: amd64\nDescription: package {n} of c{i}\n" for n in range(5)])
            for i in range(count)]


def _apt_reads(path: Path) -> bytes:
    done = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", str(path)], capture_output=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_apt_reads_an_index_compressed_run_by_run_whole(tmp_path):
    pieces = apt._runs(_groups(300))
    assert len(pieces) > 3  # several runs, so several gzip members and xz blocks
    index = b"".join(pieces)
    assert index == "\n".join(t for _, texts in _groups(300) for t in texts).encode()
    made = apt._compressed(pieces, ("gz", "xz"), apt.StanzaCache(tmp_path / "cache"))
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
        assert _apt_reads(tmp_path / name) == index
    listed = subprocess.run(["xz", "--robot", "--list", str(tmp_path / "Packages.xz")], capture_output=True, text=True)
    totals = next(line.split() for line in listed.stdout.splitlines() if line.startswith("totals"))
    assert (totals[1], totals[2]) == ("1", str(len(pieces)))  # one stream: apt stops at a stream's end


def test_a_changed_release_compresses_one_run_and_a_damaged_run_is_built_again(tmp_path):
    cache = apt.StanzaCache(tmp_path / "cache")
    apt._compressed(apt._runs(_groups(300)), ("gz", "xz"), cache)
    runs = cache.root / "runs"
    before = {p.name for p in runs.rglob("*") if p.is_file()}
    changed = apt._runs(_groups(300, extra="+fix"))
    made = apt._compressed(changed, ("gz", "xz"), cache)
    after = {p.name for p in runs.rglob("*") if p.is_file()}
    assert len(after - before) == 2  # that run's gzip member and xz block
    assert gzip.decompress(made["Packages.gz"]) == b"".join(changed)
    for path in runs.rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes()[:-7] + b"garbage")
    again = apt._compressed(changed, ("gz", "xz"), cache)
    assert again == made
