"""What the odd-input and odd-event tests share: a world built once and copied per case, and
the checks of what a person must never see.

Building a world with an alliance, polls and a shared thread takes longer than a test of it,
so a module builds it once (`built_once`) and each test gets a copy (`Built.copy_for`): its
own SQLite file, and a deep copy of what the fake Matrix side holds.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import re
import shutil
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from bot.render import Message
from bot.store import Store
from tests.unit.fakes import Harness

REPO = Path(__file__).resolve().parents[2]
PYTHON_WORDS = re.compile(r"Traceback|NoneType|\b\w*(?:Error|Exception)\b|sqlite3|File \"")
EVENT_ID = re.compile(r"\$[\w.-]+")

W = TypeVar("W", bound=Harness)


@dataclass(frozen=True)
class Built(Generic[W]):
    """The world as built once: its database file and the harness around it."""

    database: Path
    world: W

    def over(self, store: Store) -> W:
        """The built world over `store` (a copy of its database): rooms and all Matrix holds.

        The copy shares only what never changes (config, registry, templates); its id
        counters go on from the built world's, so no new event reuses an id.
        """
        services = self.world.services
        unchanging = [services.config, services.voices, self.world.registry]
        memo: dict[int, Any] = {id(thing): thing for thing in unchanging}
        memo[id(services.store)] = store
        for holder in (self.world, services):
            for value in vars(holder).values():
                if isinstance(value, itertools.count):
                    memo[id(value)] = itertools.count(next(value))
        return copy.deepcopy(self.world, memo)

    async def copy_for(self, folder: Path) -> tuple[W, Store]:
        """A copy of the world for one test, over its own copy of the database."""
        store = await Store.open(Path(shutil.copy(self.database, folder / "db.sqlite")))
        return self.over(store), store


def built_once(folder: Path, build: Callable[[Path, Store], Awaitable[W]]) -> Built[W]:
    """Build the world in `folder`, outside the tests' event loops (for a module fixture)."""

    async def building() -> W:
        store = await Store.open(folder / "db.sqlite")
        try:
            return await build(folder, store)
        finally:
            await store.close()

    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return Built(folder / "db.sqlite", runner.run(building()))


def where_raised(exc: BaseException, *, lines: int = 1) -> str:
    """The innermost lines of the bot's own code in the traceback, as " (at file:line)"."""
    own = [
        f"{path.relative_to(REPO)}:{frame.lineno}" + (f" {frame.line}" if lines > 1 else "")
        for frame in traceback.extract_tb(exc.__traceback__)
        if (path := Path(frame.filename).resolve()).is_relative_to(REPO / "bot")
        or path.is_relative_to(REPO / "commands")
    ]
    return f" (at {' <- '.join(reversed(own[-lines:]))})" if own else ""


def leaks(message: Message, room_ids: tuple[str, ...]) -> list[str]:
    """What a person should never see in something the bot says: Python's words, ids."""
    found = []
    for part, text in (("body", message.body), ("html", message.html)):
        found += [f"{part} shows {m.group(0)!r}" for m in PYTHON_WORDS.finditer(text)]
        found += [f"{part} shows the event id {m.group(0)!r}" for m in EVENT_ID.finditer(text)]
        found += [f"{part} shows the room id {room!r}" for room in room_ids if room in text]
    return found
