"""Fixtures shared by the unit tests."""

from __future__ import annotations

import base64
import json
import os
import pickle
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.languages import SHIPPED, SOURCE
from bot.render import Renderer
from bot.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh SQLite store with every migration applied, closed after the test."""
    opened = await Store.open(tmp_path / "db.sqlite")
    yield opened
    await opened.close()


def _log_renders(path: str) -> None:
    """Writes every message the unit tests render to `path` (one JSON line each, with the
    data it was rendered from, pickled), so that the same messages can be rendered again and
    compared: turning a template's words into translatable messages must not change what an
    English room reads (`RENDER_LOG=file pytest tests/unit`)."""
    render, say = Renderer.render, Renderer.say
    seen: set[tuple[str, str, str]] = set()

    def write(name: str, data: Any, body: str, html: str) -> None:
        if (name, body, html) in seen:
            return
        seen.add((name, body, html))
        try:
            packed = base64.b64encode(pickle.dumps(data)).decode()
        except Exception:
            packed = ""
        with open(path, "a") as out:
            out.write(json.dumps([name, body, html, packed]) + "\n")

    def logged_render(self: Renderer, name: str, data: Any) -> Any:
        message = render(self, name, data)
        if self.language == "en":
            write(name, dict(data), message.body, message.html)
        return message

    def logged_say(self: Renderer, words: Any) -> str:
        text = say(self, words)
        if self.language == "en":
            write(f"say:{words.key}", words, text, "")
        return text

    Renderer.render = logged_render  # type: ignore[method-assign]
    Renderer.say = logged_say  # type: ignore[method-assign]


def _render_in_every_language() -> None:
    """Every message the unit tests render in English is also rendered, from the same data,
    in every other language the bot ships: a template or catalogue that breaks in one of them
    (a placeholder the translation lost, a plural form it lacks) fails the test that rendered
    it. Each distinct English message is checked once."""
    render, say = Renderer.render, Renderer.say
    others = [code for code in SHIPPED if code != SOURCE]
    voices = {code: Renderer(globals={"prefix": "!"}, language=code) for code in others}
    checked: set[tuple[str, str]] = set()

    def each_language(name: str, english: str, rendered: Callable[[Renderer], object]) -> None:
        if (name, english) in checked:
            return
        checked.add((name, english))
        for code, renderer in voices.items():
            try:
                rendered(renderer)
            except Exception as exc:
                raise AssertionError(f"{name} does not render in {code}: {exc!r}") from exc

    def render_everywhere(self: Renderer, name: str, data: Any) -> Any:
        message = render(self, name, data)
        if self.language == SOURCE:
            each_language(name, message.body, lambda other: render(other, name, data))
        return message

    def say_everywhere(self: Renderer, words: Any) -> str:
        text = say(self, words)
        if self.language == SOURCE:
            each_language(f"say:{words.key}", text, lambda other: say(other, words))
        return text

    Renderer.render = render_everywhere  # type: ignore[method-assign]
    Renderer.say = say_everywhere  # type: ignore[method-assign]


_render_in_every_language()
if os.environ.get("RENDER_LOG"):
    _log_renders(os.environ["RENDER_LOG"])
