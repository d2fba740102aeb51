"""Storage of digests: each alliance's schedule, the movement rooms that want one, and every
digest posted (tables of `bot/migrations/0014_digests.sql`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.ids import EventID, RoomID, UserID
from bot.store import Store
from commands.digest.schedule import DEFAULT, Weekly


@dataclass(frozen=True)
class AllianceDigest:
    alliance_id: int
    weekly: bool
    """Whether the commons gets the digest."""
    when: Weekly
    quiet_days: int | None
    set_at: int
    """When the commons' digest was last switched on or moved (0: never set)."""


@dataclass(frozen=True)
class RoomDigest:
    room_id: RoomID
    weekly: bool
    set_at: int


@dataclass(frozen=True)
class Sent:
    slot_at: int
    covered_from: int
    covered_to: int


def _alliance_digest(row: Sequence[Any]) -> AllianceDigest:
    return AllianceDigest(
        int(row[0]), bool(row[1]), Weekly(int(row[2]), int(row[3])), row[4], int(row[5])
    )


_ALLIANCE = "alliance_id, weekly, weekday, hour, quiet_days, set_at"


async def alliance_digest(store: Store, alliance_id: int) -> AllianceDigest:
    found = await store.find_one(
        _alliance_digest,
        f"SELECT {_ALLIANCE} FROM alliance_digests WHERE alliance_id = ?",
        (alliance_id,),
    )
    return found or AllianceDigest(alliance_id, False, DEFAULT, None, 0)


async def weekly_alliances(store: Store) -> list[AllianceDigest]:
    """The alliances whose commons gets a digest."""
    return await store.find_all(
        _alliance_digest,
        f"SELECT {_ALLIANCE} FROM alliance_digests WHERE weekly = 1 ORDER BY alliance_id",
    )


async def set_weekly(
    store: Store, alliance_id: int, when: Weekly | None, *, by: UserID, at: int
) -> None:
    """Switch the commons' digest on at `when`, or off (None)."""
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO alliance_digests (alliance_id, weekly, weekday, hour, set_by, set_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (alliance_id) DO UPDATE SET"
            " weekly = excluded.weekly, weekday = excluded.weekday, hour = excluded.hour,"
            " set_by = excluded.set_by, set_at = excluded.set_at",
            (
                alliance_id,
                when is not None,
                (when or DEFAULT).weekday,
                (when or DEFAULT).hour,
                by,
                at,
            ),
        )


async def set_quiet_days(store: Store, alliance_id: int, days: int, *, by: UserID, at: int) -> None:
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO alliance_digests (alliance_id, quiet_days, set_by, set_at)"
            " VALUES (?, ?, ?, 0) ON CONFLICT (alliance_id) DO UPDATE SET"
            " quiet_days = excluded.quiet_days",
            (alliance_id, days, by),
        )


async def room_digest(store: Store, room_id: RoomID) -> RoomDigest | None:
    return await store.find_one(
        lambda r: RoomDigest(RoomID(r[0]), bool(r[1]), int(r[2])),
        "SELECT room_id, weekly, set_at FROM room_digests WHERE room_id = ?",
        (room_id,),
    )


async def weekly_rooms(store: Store) -> list[RoomDigest]:
    """The movement rooms that asked for their alliances' digests."""
    return await store.find_all(
        lambda r: RoomDigest(RoomID(r[0]), bool(r[1]), int(r[2])),
        "SELECT room_id, weekly, set_at FROM room_digests WHERE weekly = 1 ORDER BY room_id",
    )


async def set_room_weekly(
    store: Store, room_id: RoomID, weekly: bool, *, by: UserID, at: int
) -> None:
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO room_digests (room_id, weekly, set_by, set_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (room_id) DO UPDATE SET weekly = excluded.weekly,"
            " set_by = excluded.set_by, set_at = excluded.set_at",
            (room_id, weekly, by, at),
        )


async def last_sent(store: Store, alliance_id: int, room_id: RoomID) -> Sent | None:
    """The latest digest of the alliance posted in the room."""
    return await store.find_one(
        lambda r: Sent(int(r[0]), int(r[1]), int(r[2])),
        "SELECT slot_at, covered_from, covered_to FROM digests_sent"
        " WHERE alliance_id = ? AND room_id = ? ORDER BY slot_at DESC LIMIT 1",
        (alliance_id, room_id),
    )


async def mark_sent(
    store: Store,
    alliance_id: int,
    room_id: RoomID,
    *,
    slot_at: int,
    covered: tuple[int, int],
    event_id: EventID | None,
) -> None:
    """The digest of this slot is posted (or was refused: `event_id` None); never twice."""
    async with store.transaction() as db:
        await db.execute(
            "INSERT OR IGNORE INTO digests_sent"
            " (alliance_id, room_id, slot_at, covered_from, covered_to, event_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (alliance_id, room_id, slot_at, covered[0], covered[1], event_id),
        )


async def move_room(store: Store, old: RoomID, new: RoomID) -> None:
    """A movement room was upgraded: whether it gets the digest, and which digests it got,
    hold in its replacement (unless that room set its own already)."""
    async with store.transaction() as db:
        for table in ("room_digests", "digests_sent"):
            await db.execute(
                f"UPDATE OR IGNORE {table} SET room_id = ? WHERE room_id = ?", (new, old)
            )
