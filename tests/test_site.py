"""The public site: pages, feeds a real feed reader parses, the beta list, and embargo."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import feedparser
import pytest
from conftest import commit_embargoed_unicore
from test_reconcile import ARC, arc_release, run, site  # noqa: F401  (fixtures)


class Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def page_text(path) -> str:
    parser = Text()
    parser.feed(path.read_text())
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture
def published(example_repo, tmp_path):
    from datetime import datetime

    from controller.reconcile import Options, reconcile
    publish = tmp_path / "public"
    reconcile(Options(str(example_repo), "HEAD", datetime.fromisoformat("2026-11-24T12:00:00+00:00"), publish,
                      tmp_path / "state"))
    return publish


def test_the_feed_lists_releases_reaching_production(published):
    feed = feedparser.parse(str(published / "site/feed.atom"))
    assert not feed.bozo, feed.bozo_exception
    assert [e.title for e in feed.entries] == ["unicore-server 9.2.1 in Production", "argus 1.7.3 in Production"]
    assert feed.entries[0].link.endswith("/site/releases/unicore-server-9.2.1.html")
    glite = feedparser.parse(str(published / "site/feed-glite.atom"))
    assert not glite.bozo and [e.title for e in glite.entries] == ["argus 1.7.3 in Production"]


def test_a_release_page_shows_notes_reports_decision_and_timeline(published):
    text = page_text(published / "site/releases/argus-1.7.3.html")
    assert "State: production" in text
    assert "PEP daemon: release cached decisions on policy reload" in text  # changelog
    assert "CESGA: warning" in text and "Workaround: systemctl restart argus-pepd" in text
    assert "Outcome: warning" in text and "Requested (release-notes)" in text
    assert "step 2: verification" in text and "grace period" in text
    index = page_text(published / "site/index.html")
    assert "ca-policy-egi 1.131" in index and "rejected" in index
    assert 'src="rollout-durations.svg"' in (published / "site/index.html").read_text()
    assert (published / "site/rollout-durations.svg").read_text().startswith("<svg")


def test_the_beta_list_names_sites_running_a_staged_release(published):
    beta = json.loads((published / "beta.json").read_text())["beta"]
    assert beta == [{"site": "IFCA-LCG2", "release": "argus/1.7.4", "since": "2026-11-18T08:15:00+00:00",
                     "hosts": []}]


def test_an_embargoed_release_appears_nowhere_public_until_its_date(story, site):  # noqa: F811
    commit_embargoed_unicore(story, "2026-11-10")
    outcome = run(story, site, "2026-11-12T12:00:00Z")
    assert outcome.plan.assessment.statuses["unicore-server/9.2.1"].state.value == "production"

    def public_bytes() -> bytes:
        skip = ("pool/", "generations/")
        return b"".join(p.read_bytes() for p in sorted(site.publish.rglob("*"))
                        if p.is_file() and not str(p.relative_to(site.publish)).startswith(skip)) + b"".join(
            p.read_bytes() for c in ("unverified", "staged-rollout", "production", "site")
            for p in sorted((site.publish / c).rglob("*")) if p.is_file())

    before = public_bytes()
    assert b"unicore" not in before and b"CVE-2026-41822" not in before
    run(story, site, "2026-11-20T12:30:00Z")  # the embargo has ended: no commit needed
    after = public_bytes()
    assert b"unicore-server-9.2.1" in after and b"CVE-2026-41822" in after
    feed = feedparser.parse(str(site.publish / "site/feed.atom"))
    assert [e.title for e in feed.entries] == ["unicore-server 9.2.1 in Production"]
