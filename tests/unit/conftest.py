"""Fixtures shared by the unit tests."""

from __future__ import annotations

import base64
import json
import os
import pickle
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

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


if os.environ.get("RENDER_LOG"):
    _log_renders(os.environ["RENDER_LOG"])
