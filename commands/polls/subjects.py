"""What else `!whohasnt` and `!outcome` may be about, besides a room's own polls.

The polls family owns both commands. A family that builds on it and asks rooms to decide in
its own way (the council: an alliance proposal that every movement decides) offers a
:class:`Subject` under :data:`SUBJECTS` (`Registry.offer`); the commands ask each subject first,
and a subject answers only for what is its own (None otherwise), so a room's polls read as
ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol, cast

from bot.contract import Context, Registry, Reply

SUBJECTS: Final = "polls.subjects"  # the name it is offered under


class Subject(Protocol):
    async def who_hasnt(self, ctx: Context, text: str) -> Reply | None:
        """`!whohasnt <text>` when it is about this subject; None when it is not."""
        ...

    async def outcome(self, ctx: Context, text: str, review: str | None) -> Reply | None:
        """`!outcome [--review] <text>` when it is about this subject; None when it is not."""
        ...


def subjects(registry: Registry) -> Sequence[Subject]:
    return cast("Sequence[Subject]", registry.offered(SUBJECTS))
