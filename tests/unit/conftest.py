"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh SQLite store with every migration applied, closed after the test."""
    opened = await Store.open(tmp_path / "db.sqlite")
    yield opened
    await opened.close()
