"""Storage of room upgrades the bot follows (table `room_upgrades`, migration 0010)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.ids import EventID, RoomID
from bot.store import Store

UpgradeState = Literal["waiting", "moved", "done", "abandoned"]


@dataclass(frozen=True)
class Upgrade:
    old_room_id: RoomID
    new_room_id: RoomID
    tombstone_event_id: EventID
    seen_at: int
    state: UpgradeState


_COLUMNS = "old_room_id, new_room_id, tombstone_event_id, seen_at, state"


def _upgrade(row: Sequence[Any]) -> Upgrade:
    return Upgrade(RoomID(row[0]), RoomID(row[1]), EventID(row[2]), int(row[3]), row[4])


async def record(store: Store, *, old: RoomID, new: RoomID, event_id: EventID, at: int) -> None:
    """Remember that `old` was replaced by `new` (a later tombstone of the same room wins,
    unless the bot followed the first already)."""
    await store.write(
        f"INSERT INTO room_upgrades ({_COLUMNS}, changed_at) VALUES (?, ?, ?, ?, 'waiting', ?)"
        " ON CONFLICT (old_room_id) DO UPDATE SET new_room_id = excluded.new_room_id,"
        " tombstone_event_id = excluded.tombstone_event_id, changed_at = excluded.changed_at"
        ", seen_at = excluded.seen_at, state = 'waiting'"
        " WHERE state IN ('waiting', 'abandoned')",
        (old, new, event_id, at, at),
    )


async def unfinished(store: Store) -> list[Upgrade]:
    return await store.find_all(
        _upgrade,
        f"SELECT {_COLUMNS} FROM room_upgrades WHERE state IN ('waiting', 'moved')"
        " ORDER BY seen_at",
    )


async def set_state(store: Store, old: RoomID, state: UpgradeState, *, at: int) -> None:
    await store.write(
        "UPDATE room_upgrades SET state = ?, changed_at = ? WHERE old_room_id = ?",
        (state, at, old),
    )
