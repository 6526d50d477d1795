"""Pages a site administrator can act on: overdue steps flagged, install lines that name the files
actually published, advisory ids, the emergency skip said as it happened, a generated-at time that
changes only with the page, feeds with stable ids and no invented dates; and what a real browser
shows of them (headless Chromium screenshots at phone and desktop widths, not blank)."""

from __future__ import annotations

import gzip
import re
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clients import repodata
from test_site import page_text

from controller.reconcile import Options, reconcile

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
BASE = "https://repo.umd.example.org"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def published(example_repo, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pages")
    reconcile(Options(str(example_repo), "HEAD", NOW, root / "public", root / "state", base_url=BASE))
    return root / "public"


def test_overdue_steps_are_flagged_on_the_index_and_the_release_page(published):
    index = page_text(published / "site/index.html")
    assert "Overdue now: arc-ce 6.19.0 : acceptance window (deadline 2026-11-24 09:00)" in index
    assert "argus 1.7.4 : step 3: staged rollout (deadline 2026-11-19 10:00)" in index
    assert index.count("OVERDUE:") == 2  # the rows of those two releases, and no other
    page = page_text(published / "site/releases/argus-1.7.4.html")
    assert "Overdue: step 3: staged rollout, deadline 2026-11-19 10:00 UTC." in page
    assert "Overdue" not in page_text(published / "site/releases/argus-1.7.3.html")


def test_install_lines_name_the_files_that_are_published(published):
    html = (published / "site/index.html").read_text()
    for channel in ("production", "staged-rollout", "unverified"):
        yum = f"curl -fsSLo /etc/yum.repos.d/umd5-el9-{channel}.repo {BASE}/{channel}/umd5-el9.repo"
        deb = (f"curl -fsSLo /etc/apt/sources.list.d/umd5-bookworm-{channel}.sources "
               f"{BASE}/{channel}/umd5-bookworm.sources")
        assert yum in html and deb in html
    for url in set(re.findall(rf'{BASE}/[a-z-]+/[A-Za-z0-9.-]+\.(?:repo|sources|asc)', html)):
        assert (published / url.removeprefix(BASE + "/")).is_file(), url
    shown = re.search(r"<pre>(\[umd5-el9-production\].*?)</pre>", html, re.S).group(1)
    assert shown == (published / "production/umd5-el9.repo").read_text()
    page = page_text(published / "site/releases/unicore-server-9.2.1.html")
    assert "dnf upgrade --advisory=UMD5-unicore-server-9.2.1" in page


def test_advisory_ids_on_the_pages_are_those_dnf_reads(published):
    updateinfo = next(repodata(published, "production").glob("*-updateinfo.xml.gz"))
    ids = {u.findtext("id") for u in ET.fromstring(gzip.decompress(updateinfo.read_bytes())).iter("update")}
    assert ids == {"UMD5-argus-1.7.3", "UMD5-unicore-server-9.2.1"}
    index = page_text(published / "site/index.html")
    assert all(i in index for i in ids)
    page = page_text(published / "site/releases/unicore-server-9.2.1.html")
    assert "advisory UMD5-unicore-server-9.2.1" in page and "security Critical: SVG-2026-0117 CVE-2026-41822" in page


def test_an_emergency_that_skipped_staged_rollout_says_so(published):
    page = page_text(published / "site/releases/unicore-server-9.2.1.html")
    assert "Staged rollout skipped: an emergency release that the staged-rollout managers sent straight" in page
    assert "No early adopter has accepted yet" not in page


def test_pages_say_when_they_were_generated_and_keep_it_while_they_do_not_change(example_repo, tmp_path):
    publish = tmp_path / "public"
    reconcile(Options(str(example_repo), "HEAD", NOW, publish, tmp_path / "state", base_url=BASE))
    html = (publish / "site/index.html").read_text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "Generated 2026-11-24 12:00 UTC" in page_text(publish / "site/index.html")
    arc = (publish / "site/feed-arc.atom").read_text()  # nothing of arc is in Production
    assert "<updated>2026-11-24T12:00:00+00:00</updated>" in arc and "2000-01-01" not in arc
    later = datetime(2026, 11, 24, 12, 20, tzinfo=UTC)  # nothing changes in these twenty minutes
    again = reconcile(Options(str(example_repo), "HEAD", later, publish, tmp_path / "state", base_url=BASE))
    assert not again.changed
    assert (publish / "site/index.html").read_text() == html


def test_a_release_has_one_entry_id_in_every_feed(published):
    def ids(name: str) -> dict[str, str]:
        root = ET.parse(published / "site" / name).getroot()
        return {e.findtext(f"{ATOM}title"): e.findtext(f"{ATOM}id") for e in root.iter(f"{ATOM}entry")}

    everything, unicore = ids("feed.atom"), ids("feed-unicore.atom")
    title = "unicore-server 9.2.1 in Production"
    assert unicore[title] == everything[title] == \
        "tag:repo.umd.example.org,2026:umd-releases:release:unicore-server-9.2.1"
    root = ET.parse(published / "site/feed.atom").getroot()
    assert root.findtext(f"{ATOM}updated") == "2026-11-10T10:00:00+00:00"  # the newest entry, a real date


def _pixels(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and the raw (filtered) scanlines of a PNG, read with zlib."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, width, height = 8, b"", 0, 0
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset:offset + 8])
        body = png[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    return width, height, zlib.decompress(idat)


def screenshot(page: Path, out: Path, size: str) -> bytes:
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={out.parent / ('profile-' + out.stem)}", f"--screenshot={out}",
                    f"--window-size={size}", "--hide-scrollbars", page.as_uri()],
                   capture_output=True, text=True, timeout=120, check=True)
    return out.read_bytes()


@pytest.mark.parametrize("page, size", [("index.html", "390,1400"), ("releases/argus-1.7.4.html", "1280,1600")])
def test_chromium_renders_the_pages_with_text_on_them(published, tmp_path, page, size):
    width, height, raw = _pixels(screenshot(published / "site" / page, tmp_path / "shot.png", size))
    assert (width, height) == tuple(int(n) for n in size.split(","))
    # A blank page decodes to one repeated byte per channel; a page with text and tables has many
    # distinct values and a good share of non-white bytes.
    assert len(set(raw)) > 50
    assert sum(1 for b in raw if b < 200) > len(raw) // 100
