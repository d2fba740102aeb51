"""Storage of what an alliance and its movements make public (tables of 0017_record.sql)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.ids import RoomID, UserID
from bot.store import Store


@dataclass(frozen=True)
class RoomPublic:
    public: bool | None
    """Whether the movement's statement is published; None: as the alliance decides."""
    reasons: bool
    """Whether the reasons its members gave for blocking are published."""


async def alliance_public(store: Store, alliance_id: int) -> bool:
    row = await store.fetch_one(
        "SELECT public FROM record_settings WHERE alliance_id = ?", (alliance_id,)
    )
    return bool(row[0]) if row else False


async def set_alliance_public(
    store: Store, alliance_id: int, public: bool, *, by: UserID, at: int
) -> None:
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO record_settings (alliance_id, public, set_by, set_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (alliance_id) DO UPDATE SET public = excluded.public,"
            " set_by = excluded.set_by, set_at = excluded.set_at",
            (alliance_id, public, by, at),
        )


async def room_public(store: Store, room_id: RoomID) -> RoomPublic:
    row = await store.fetch_one(
        "SELECT public, block_reasons FROM record_rooms WHERE room_id = ?", (room_id,)
    )
    if row is None:
        return RoomPublic(None, False)
    return RoomPublic(None if row[0] is None else bool(row[0]), bool(row[1]))


async def set_room_public(
    store: Store,
    room_id: RoomID,
    *,
    public: bool | None = None,
    reasons: bool | None = None,
    follow: bool = False,
    by: UserID,
    at: int,
) -> None:
    """Change whether the room's statement is public (`follow`: as the alliance decides) or
    whether its block reasons are; what is not given stays."""
    now = await room_public(store, room_id)
    new_public = None if follow else (now.public if public is None else public)
    new_reasons = now.reasons if reasons is None else reasons
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO record_rooms (room_id, public, block_reasons, set_by, set_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (room_id) DO UPDATE SET public = excluded.public,"
            " block_reasons = excluded.block_reasons, set_by = excluded.set_by,"
            " set_at = excluded.set_at",
            (room_id, new_public, new_reasons, by, at),
        )


async def move_room(store: Store, old: RoomID, new: RoomID) -> None:
    """A movement room was upgraded: what it makes public holds in its replacement (unless
    that room said otherwise already)."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE OR IGNORE record_rooms SET room_id = ? WHERE room_id = ?", (new, old)
        )
