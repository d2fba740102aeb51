"""Settings of `!rules set` that other families keep for a room.

The polls family owns the command, the room's decision rule and its deadline; a family that
builds on it (the council keeps whether a movement's spokes give its position) offers its own
settings under :data:`ROOM_SETTINGS` (`Registry.offer`), a sequence of :class:`RoomSetting`.
`!rules set <name> <value>` then hands the value to the setting, and `!rules` shows each one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol, cast

from bot.contract import Context, Registry, Reply, Services, Words
from bot.ids import RoomID

ROOM_SETTINGS: Final = "polls.room_settings"  # the name it is offered under


class RoomSetting(Protocol):
    """One setting: the word typed after `!rules set`, how to change it, how it reads."""

    @property
    def name(self) -> str: ...

    async def change(self, ctx: Context, value: str) -> Reply:
        """Change it for the room the command is typed in (its moderators); refuse bad values
        with `CommandError`."""
        ...

    async def shown(self, services: Services, room_id: RoomID) -> Words | None:
        """What it is now in `room_id`, for `!rules`; None when it does not apply there."""
        ...


def room_settings(registry: Registry) -> Sequence[RoomSetting]:
    """The settings other families offer (none when no family does)."""
    return cast("Sequence[RoomSetting]", registry.offered(ROOM_SETTINGS))
