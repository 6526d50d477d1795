"""Rendering text from jinja2 templates: pages, feeds and messages. The only jinja2 user.

Templates ship in controller/notify/templates/; a repository overrides any of them by committing
a file of the same name under repos-config/templates/.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "templates"
OVERRIDES = "repos-config/templates/"


class Renderer:
    def __init__(self, repository_files: dict[str, bytes]):
        import jinja2  # here, not at the top: a run that renders nothing does not load it

        overrides = {path.removeprefix(OVERRIDES): data.decode("utf-8")
                     for path, data in repository_files.items() if path.startswith(OVERRIDES)}
        self.overrides = overrides
        # Optional YAML fields read as empty: templates test them with `if`.
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader([jinja2.DictLoader(overrides), jinja2.FileSystemLoader(SHIPPED)]),
            autoescape=jinja2.select_autoescape(["html.j2", "atom.j2"], default_for_string=False),
            keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)

    def digest(self) -> str:
        """Changes when any template a page may use changes (shipped, or overridden here)."""
        texts = sorted((f"shipped/{p.name}", p.read_text()) for p in SHIPPED.glob("*.j2"))
        texts += sorted(self.overrides.items())
        return hashlib.sha256(repr(texts).encode()).hexdigest()

    def render(self, name: str, **values) -> str:
        return self.env.get_template(name).render(**values)
