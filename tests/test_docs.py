"""The docs hold together: every relative link names a file that exists and a heading in it, and
the guide answers each question a newcomer asked, with an example."""

from __future__ import annotations

import re
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
PAGES = [TOP / "README.md", *sorted((TOP / "docs").glob("*.md"))]


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_every_relative_link_in_the_docs_resolves():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


def test_the_guide_answers_the_newcomers_questions_and_each_role_has_a_page():
    guide = (TOP / "docs/guide.md").read_text()
    answers = guide.split("## Questions newcomers ask", 1)[1]
    questions = re.findall(r"^\*\*(.+?)\*\*", answers, re.M)
    assert len(questions) == 14
    for topic in ("emergency", "refused", "json", "landing time", "provider", "report list", "--now",
                  "updateinfo", "severity", "embargoed", "malformed YAML", "distribution", "--base-url", "fetched"):
        assert any(topic in q for q in questions), topic
    for role in ("providers", "early-adopters", "managers", "operators"):
        assert f"]({role}.md)" in guide and (TOP / "docs" / f"{role}.md").is_file()
