"""Rendering messages from the template pairs in `templates/`.

Every message the bot sends comes from a `NAME.txt` (the plain `body`) and a
`NAME.html` (the `formatted_body`) template. HTML templates are autoescaped, so user
text can never inject markup; undefined values are errors, not silent blanks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2


@dataclass(frozen=True)
class Message:
    body: str
    html: str


def templates_dir() -> Path:
    """Where the templates are, also when multilogue is installed as a wheel."""
    return Path(str(resources.files("templates")))


class Renderer:
    def __init__(
        self, folder: Path | None = None, *, globals: Mapping[str, Any] | None = None
    ) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder or templates_dir())),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.globals.update(dict(globals or {}))

    def render(self, name: str, data: Mapping[str, Any]) -> Message:
        body = self._env.get_template(f"{name}.txt").render(data).strip()
        html = self._env.get_template(f"{name}.html").render(data).strip()
        return Message(body=body, html=html)

    def names(self) -> set[str]:
        return {Path(n).stem for n in self._env.list_templates(extensions=["txt", "html"])}
