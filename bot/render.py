"""Rendering messages from the template pairs in `templates/`.

Every message the bot sends comes from a `NAME.txt` (the plain `body`) and a
`NAME.html` (the `formatted_body`) template. HTML templates are autoescaped, so user
text can never inject markup; undefined values are errors, not silent blanks.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from bot import languages
from bot.contract.message import Message as Message  # where families and tests find it
from bot.contract.registry import Words

REPLY_BUDGET = 40_000
"""Bytes of JSON a message's text and HTML may take together. An event may be 65,536 bytes in
all, signatures and hashes included, and encryption makes its content a third larger."""


def fit(message: Message, note: Callable[[int], Message], budget: int = REPLY_BUDGET) -> Message:
    """`message` if it fits in one event; otherwise its first lines as plain text (HTML cannot
    be cut safely), followed by `note(lines_left_out)`, as many lines as fit."""
    if message.size <= budget:
        return message
    lines = message.body.splitlines()

    def cut(keep: int) -> Message:
        end = note(len(lines) - keep)
        body = "\n".join([*lines[:keep], end.body])
        shown = "<br>".join(html.escape(line) for line in lines[:keep])
        return Message(body=body, html=f"<p>{shown}</p>{end.html}")

    low, high = 0, len(lines)  # cut(low) fits (lines are cut shorter below if even 0 does not)
    while low < high:
        middle = (low + high + 1) // 2
        if cut(middle).size <= budget:
            low = middle
        else:
            high = middle - 1
    if low == 0 and lines:
        # One line longer than the whole budget: keep what fits of it.
        first, end = lines[0][: budget // 8], note(len(lines) - 1)
        return Message(body=f"{first}…\n{end.body}", html=f"<p>{html.escape(first)}…</p>{end.html}")
    return cut(low)


def templates_dir() -> Path:
    """Where the templates are, also when multilogue is installed as a wheel."""
    return Path(str(resources.files("templates")))


class Renderer:
    """The templates in one language (`bot.languages`): `{% trans %}` blocks and `_()` in
    the templates are looked up in its catalogue; dates and times in the data
    (`languages.Day`, `languages.Moment`) and the filters `number` and `listing` are written
    as people write them there."""

    def __init__(
        self,
        folder: Path | None = None,
        *,
        globals: Mapping[str, Any] | None = None,
        language: str = languages.SOURCE,
    ) -> None:
        self.language = language
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder or templates_dir())),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            extensions=["jinja2.ext.i18n"],
        )
        catalogue = languages.translations(language)
        self._env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
        self._env.globals.update(dict(globals or {}))
        self._env.globals["say"] = self.say
        # Text that is a message id only at run time (a command's help, kept in the code):
        # translated, and still escaped in HTML like any other value.
        self._env.filters["tr"] = lambda text: catalogue.gettext(str(text))
        self._env.filters["number"] = lambda value: languages.number(value, language)
        self._env.filters["listing"] = lambda items, style="standard": languages.listing(
            [str(item) for item in items], language, style
        )

    def render(self, name: str, data: Mapping[str, Any]) -> Message:
        data = languages.localized(data, self.language)
        body = self._env.get_template(f"{name}.txt").render(data).strip()
        html = self._env.get_template(f"{name}.html").render(data).strip()
        return Message(body=body, html=html)

    def say(self, words: Words) -> str:
        """The sentence `words` stands for: the macro `message` of the catalogue
        `templates/refusals/<catalogue>.txt`, for `words.key` = "catalogue.message"."""
        catalogue, _, message = words.key.partition(".")
        module = self._env.get_template(f"refusals/{catalogue}.txt").module
        macro = getattr(module, message, None)
        if macro is None:
            raise KeyError(f"no message {message!r} in templates/refusals/{catalogue}.txt")
        return str(macro(**languages.localized(words.data, self.language))).strip()

    def render_fitted(self, name: str, data: Mapping[str, Any]) -> Message:
        """As `render`, cut to fit one event (with the `reply_cut` note) when too long."""
        return fit(
            self.render(name, data), lambda left_out: self.render("reply_cut", {"lines": left_out})
        )

    def names(self) -> set[str]:
        """The message templates (not the catalogues of `templates/refusals/`)."""
        return {
            Path(n).stem
            for n in self._env.list_templates(extensions=["txt", "html"])
            if "/" not in n
        }


class Voices:
    """A renderer per language, each built when first needed, with the same globals."""

    def __init__(self, *, globals: Mapping[str, Any] | None = None) -> None:
        self._globals = dict(globals or {})
        self._renderers: dict[str, Renderer] = {}

    def __call__(self, language: str) -> Renderer:
        renderer = self._renderers.get(language)
        if renderer is None:
            renderer = Renderer(globals=self._globals, language=language)
            self._renderers[language] = renderer
        return renderer
