"""Storage for alliances and their movements, and the row helpers the alliance's stores share.

One small typed query per job, returning dataclasses; the tables are made by
`bot/migrations/0003_alliances.sql`. No Matrix here, and no wording for people: the command
modules (`movements.py`, `statements.py`, `objectives.py` of `commands/alliance/`) decide
what to say. The other stores of the family build on this one: `objectives_store` (objectives,
stances, links, the board to compare), `statements_store` (core statements and the proposals
to change them) and `decisions_store` (what the consensus polls decide).

Errors: :class:`Taken` when a name (or a room) is already used, with ``what`` saying which.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiosqlite

from bot.ids import EventID, RoomID, UserID
from bot.store import Store
from commands.alliance.compare import MovementInfo
from commands.alliance.names import name_key, slugify
from commands.alliance.thresholds import (
    MAJORITY,
    Threshold,
    ThresholdError,
    format_threshold,
    parse_threshold,
)

MovementStatus = Literal["pending", "active", "rejected", "left"]


class Taken(Exception):
    """A unique thing is already used. ``what``: 'name', 'slug', 'room' or 'text'."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class PollRef:
    """The consensus poll that decided something, for the record and for a link to it.

    ``poll_id`` is the bot's own poll (``polls.id``); ``event_id`` the native poll's start event.
    At least one of them is needed.
    """

    room_id: RoomID
    poll_id: int | None = None
    event_id: EventID | None = None

    @property
    def key(self) -> str:
        if self.poll_id is not None:
            return f"poll:{self.poll_id}"
        if self.event_id:
            return f"event:{self.event_id}"
        raise ValueError("a poll reference needs the poll's id or its start event id")


@dataclass(frozen=True)
class Alliance:
    id: int
    name: str
    slug: str
    commons_room_id: RoomID
    space_key: str
    space_id: RoomID | None
    threshold: Threshold
    created_by: UserID
    created_at: int
    command_event_id: EventID


@dataclass(frozen=True)
class Movement:
    id: int
    alliance_id: int
    room_id: RoomID
    name: str
    slug: str
    status: MovementStatus
    requested_by: UserID
    requested_at: int
    request_event_id: EventID
    decided_by: UserID | None
    decided_at: int | None
    decided_event_id: EventID | None
    left_at: int | None
    left_event_id: EventID | None
    removed_reason: str | None = None
    """Why the commons removed it, when it did not leave by itself."""

    def info(self) -> MovementInfo:
        return MovementInfo(self.id, self.name, self.slug)


def space_key_for(command_event_id: str) -> str:
    """The mark put in an alliance's space, derived from the command that asked for it."""
    return hashlib.sha256(f"alliance-space\x00{command_event_id}".encode()).hexdigest()[:32]


# -- row mapping ------------------------------------------------------------------------------

_ALLIANCE = (
    "id, name, slug, commons_room_id, space_key, space_id, threshold, created_by, created_at,"
    " command_event_id"
)
_MOVEMENT = (
    "id, alliance_id, room_id, name, slug, status, requested_by, requested_at, request_event_id,"
    " decided_by, decided_at, decided_event_id, left_at, left_event_id, removed_reason"
)
_MOVEMENT_BY_REQUEST = f"SELECT {_MOVEMENT} FROM movements WHERE request_event_id = ?"


def _threshold(text: str) -> Threshold:
    try:
        return parse_threshold(text)
    except ThresholdError:
        return MAJORITY


def _alliance(row: Sequence[Any]) -> Alliance:
    return Alliance(
        id=int(row[0]),
        name=str(row[1]),
        slug=str(row[2]),
        commons_room_id=RoomID(row[3]),
        space_key=str(row[4]),
        space_id=RoomID(row[5]) if row[5] else None,
        threshold=_threshold(str(row[6])),
        created_by=UserID(row[7]),
        created_at=int(row[8]),
        command_event_id=EventID(row[9]),
    )


def movement_columns(alias: str) -> str:
    """The columns :func:`movement_from` reads, qualified by a table alias (for joins)."""
    return ", ".join(f"{alias}.{column.strip()}" for column in _MOVEMENT.split(","))


def movement_from(row: Sequence[Any]) -> Movement | None:
    """The movement in these columns (:func:`movement_columns`); None for a missing LEFT JOIN."""
    return None if row[0] is None else _movement(row)


def _movement(row: Sequence[Any]) -> Movement:
    return Movement(
        id=int(row[0]),
        alliance_id=int(row[1]),
        room_id=RoomID(row[2]),
        name=str(row[3]),
        slug=str(row[4]),
        status=row[5],
        requested_by=UserID(row[6]),
        requested_at=int(row[7]),
        request_event_id=EventID(row[8]),
        decided_by=UserID(row[9]) if row[9] else None,
        decided_at=int_or_none(row[10]),
        decided_event_id=EventID(row[11]) if row[11] else None,
        left_at=int_or_none(row[12]),
        left_event_id=EventID(row[13]) if row[13] else None,
        removed_reason=str(row[14]) if row[14] is not None else None,
    )


# -- rows, for every store of the family ------------------------------------------------------


def int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def poll_ref(poll_id: Any, room_id: Any, event_id: Any) -> PollRef:
    """The poll these columns point to (its id, its room, its start event)."""
    return PollRef(
        room_id=RoomID(room_id),
        poll_id=int_or_none(poll_id),
        event_id=EventID(event_id) if event_id else None,
    )


async def one_row(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> Any:
    async with db.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def all_rows(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


def marks_for(values: Sequence[Any]) -> str:
    """The placeholders of `IN (...)` for these values (`NULL`, matching nothing, for none)."""
    return ", ".join("?" for _ in values) or "NULL"


def taken_from(exc: sqlite3.IntegrityError) -> Taken:
    """The :class:`Taken` a unique constraint's failure means."""
    message = str(exc)
    for column, what in (
        ("slug", "slug"),
        ("name_key", "name"),
        ("commons_room_id", "room"),
        ("room_id", "room"),
        ("text_key", "text"),
    ):
        if column in message:
            return Taken(what)
    return Taken("name")


# -- alliances --------------------------------------------------------------------------------


async def all_alliances(store: Store) -> list[Alliance]:
    return await store.find_all(_alliance, f"SELECT {_ALLIANCE} FROM alliances ORDER BY name_key")


async def alliance_by_id(store: Store, alliance_id: int) -> Alliance | None:
    return await store.find_one(
        _alliance, f"SELECT {_ALLIANCE} FROM alliances WHERE id = ?", (alliance_id,)
    )


async def alliance_by_event(store: Store, event_id: str) -> Alliance | None:
    return await store.find_one(
        _alliance,
        f"SELECT {_ALLIANCE} FROM alliances WHERE command_event_id = ?",
        (event_id,),
    )


async def alliance_by_commons(store: Store, room_id: RoomID) -> Alliance | None:
    return await store.find_one(
        _alliance, f"SELECT {_ALLIANCE} FROM alliances WHERE commons_room_id = ?", (room_id,)
    )


async def alliances_of_room(
    store: Store, room_id: RoomID, *, statuses: Iterable[MovementStatus] = ("pending", "active")
) -> list[Alliance]:
    """The alliances whose commons this room is, or where it is a movement with a status."""
    wanted = tuple(statuses)
    marks = marks_for(wanted)
    return await store.find_all(
        _alliance,
        f"SELECT {_ALLIANCE} FROM alliances WHERE commons_room_id = ? OR id IN"
        f" (SELECT alliance_id FROM movements WHERE room_id = ? AND status IN ({marks}))"
        " ORDER BY name_key",
        (room_id, room_id, *wanted),
    )


async def create_alliance(
    store: Store,
    *,
    name: str,
    commons_room_id: RoomID,
    created_by: str,
    created_at: int,
    command_event_id: str,
) -> Alliance:
    """Record a new alliance (its space comes later: :func:`set_space`). Raises :class:`Taken`."""
    async with store.transaction() as db:
        try:
            cursor = await db.execute(
                "INSERT INTO alliances (name, name_key, slug, commons_room_id, space_key,"
                " created_by, created_at, command_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    name_key(name),
                    slugify(name),
                    commons_room_id,
                    space_key_for(command_event_id),
                    created_by,
                    created_at,
                    command_event_id,
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise taken_from(exc) from None
        alliance_id = cursor.lastrowid
    found = await alliance_by_id(store, int(alliance_id or 0))
    assert found is not None
    return found


async def set_space(store: Store, alliance_id: int, space_id: RoomID) -> None:
    async with store.transaction() as db:
        await db.execute("UPDATE alliances SET space_id = ? WHERE id = ?", (space_id, alliance_id))


async def set_threshold(store: Store, alliance_id: int, threshold: Threshold) -> None:
    async with store.transaction() as db:
        await db.execute(
            "UPDATE alliances SET threshold = ? WHERE id = ?",
            (format_threshold(threshold), alliance_id),
        )


# -- movements --------------------------------------------------------------------------------


async def movements_of(
    store: Store, alliance_id: int, *, statuses: Iterable[MovementStatus] | None = None
) -> list[Movement]:
    """The alliance's movements (with these statuses), by name."""
    params: list[Any] = [alliance_id]
    where = "alliance_id = ?"
    if statuses is not None:
        wanted = tuple(statuses)
        where += f" AND status IN ({marks_for(wanted)})"
        params.extend(wanted)
    return await store.find_all(
        _movement,
        f"SELECT {_MOVEMENT} FROM movements WHERE {where} ORDER BY name_key",
        params,
    )


async def movement_in(store: Store, alliance_id: int, room_id: RoomID) -> Movement | None:
    """This room's record in the alliance, whatever its status."""
    return await store.find_one(
        _movement,
        f"SELECT {_MOVEMENT} FROM movements WHERE alliance_id = ? AND room_id = ?",
        (alliance_id, room_id),
    )


async def movement_by_id(store: Store, movement_id: int) -> Movement | None:
    return await store.find_one(
        _movement, f"SELECT {_MOVEMENT} FROM movements WHERE id = ?", (movement_id,)
    )


async def _movement_now(store: Store, movement_id: int) -> Movement:
    """A movement just written, as it is now."""
    found = await movement_by_id(store, movement_id)
    assert found is not None
    return found


async def movements_of_room(store: Store, room_id: RoomID) -> list[Movement]:
    """Every alliance membership of this room, whatever its status."""
    return await store.find_all(
        _movement,
        f"SELECT {_MOVEMENT} FROM movements WHERE room_id = ? ORDER BY id",
        (room_id,),
    )


async def request_join(
    store: Store,
    *,
    alliance_id: int,
    room_id: RoomID,
    name: str,
    requested_by: str,
    requested_at: int,
    event_id: str,
) -> Movement:
    """Ask to join (again, for a room that left or was refused). Raises :class:`Taken`.

    Handled twice for the same event, it returns the same request.
    """
    async with store.transaction() as db:
        row = await one_row(db, _MOVEMENT_BY_REQUEST, (event_id,))
        if row is None:
            values = (name, name_key(name), slugify(name), requested_by, requested_at, event_id)
            try:
                await db.execute(
                    "INSERT INTO movements (alliance_id, room_id, name, name_key, slug, status,"
                    " requested_by, requested_at, request_event_id)"
                    " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)"
                    " ON CONFLICT (alliance_id, room_id) DO UPDATE SET name = ?, name_key = ?,"
                    " slug = ?, status = 'pending', requested_by = ?, requested_at = ?,"
                    " request_event_id = ?, decided_by = NULL, decided_at = NULL,"
                    " decided_event_id = NULL, left_by = NULL, left_at = NULL,"
                    " left_event_id = NULL",
                    (alliance_id, room_id, *values[:3], *values[3:], *values),
                )
            except sqlite3.IntegrityError as exc:
                raise taken_from(exc) from None
            row = await one_row(db, _MOVEMENT_BY_REQUEST, (event_id,))
    return _movement(row)


async def decide_movement(
    store: Store,
    movement_id: int,
    *,
    status: Literal["active", "rejected"],
    decided_by: str,
    decided_at: int,
    event_id: str,
) -> Movement:
    """Approve or refuse a pending request."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE movements SET status = ?, decided_by = ?, decided_at = ?,"
            " decided_event_id = ? WHERE id = ? AND status = 'pending'",
            (status, decided_by, decided_at, event_id, movement_id),
        )
    return await _movement_now(store, movement_id)


async def leave_alliance(
    store: Store,
    movement_id: int,
    *,
    left_by: str,
    left_at: int,
    event_id: str,
    removed_reason: str | None = None,
) -> Movement:
    """Mark a movement (or its request) as left, or as removed by the commons with its reason;
    the record stays."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE movements SET status = 'left', left_by = ?, left_at = ?, left_event_id = ?,"
            " removed_reason = ? WHERE id = ? AND status IN ('pending', 'active')",
            (left_by, left_at, event_id, removed_reason, movement_id),
        )
    return await _movement_now(store, movement_id)


async def move_room(store: Store, old: RoomID, new: RoomID) -> None:
    """A room of an alliance was upgraded: its place in every alliance (commons, movement) and
    its movement's statement go with it. The polls that decided them stay where they were held.
    Rows the new room already has (it asked to join itself, say) are kept; the old ones too.
    One transaction for every table holding a room, those of `statements_store`,
    `objectives_store` (links) and `reviews_store` too: a new one there is added here."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE OR IGNORE alliances SET commons_room_id = ? WHERE commons_room_id = ?",
            (new, old),
        )
        await db.execute(
            "UPDATE alliance_polls SET commons_room_id = ? WHERE commons_room_id = ?", (new, old)
        )
        for table in (
            "movements",
            "statement_items",
            "statement_versions",
            "statement_proposals",
            "statement_links",
            "room_reviews",
            "statement_reviews",
        ):
            await db.execute(
                f"UPDATE OR IGNORE {table} SET room_id = ? WHERE room_id = ?", (new, old)
            )
