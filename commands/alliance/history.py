"""What changed in an alliance between two moments: the reads a digest needs.

Movements that joined or left, statement changes and stances decided in a span of time, and
when each movement last decided something for the alliance (a statement change or a stance;
the council adds positions on proposals). Read-only; times are milliseconds since the epoch,
a span is `[start, end)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.ids import RoomID
from bot.store import Store
from commands.alliance.statements_store import ChangeKind


@dataclass(frozen=True)
class StatementChanged:
    movement_id: int
    movement: str
    room_id: RoomID
    item_number: int
    change: ChangeKind
    text: str | None
    previous_text: str | None
    decided_at: int


@dataclass(frozen=True)
class StanceChanged:
    movement_id: int
    movement: str
    room_id: RoomID
    objective_number: int
    objective: str
    endorsed: bool
    decided_at: int


async def statements_changed(
    store: Store, alliance_id: int, start: int, end: int
) -> list[StatementChanged]:
    """Statement versions of the alliance's active movements decided in the span, oldest first."""

    def row(r: Sequence[Any]) -> StatementChanged:
        return StatementChanged(
            int(r[0]), str(r[1]), RoomID(r[2]), int(r[3]), r[4], r[5], r[6], int(r[7])
        )

    return await store.find_all(
        row,
        "SELECT m.id, m.name, m.room_id, v.item_number, v.change, v.text, v.previous_text,"
        " v.decided_at FROM statement_versions v JOIN movements m ON m.room_id = v.room_id"
        " WHERE m.alliance_id = ? AND m.status = 'active' AND v.decided_at >= ?"
        " AND v.decided_at < ? ORDER BY v.decided_at, v.id",
        (alliance_id, start, end),
    )


async def stances_changed(
    store: Store, alliance_id: int, start: int, end: int
) -> list[StanceChanged]:
    """Stances on the alliance's objectives decided in the span, oldest first."""

    def row(r: Sequence[Any]) -> StanceChanged:
        return StanceChanged(
            int(r[0]), str(r[1]), RoomID(r[2]), int(r[3]), str(r[4]), r[5] == "endorsed", int(r[6])
        )

    return await store.find_all(
        row,
        "SELECT m.id, m.name, m.room_id, o.number, o.text, s.state, s.decided_at"
        " FROM stances s JOIN movements m ON m.id = s.movement_id"
        " JOIN objectives o ON o.id = s.objective_id"
        " WHERE m.alliance_id = ? AND s.state != 'pending' AND s.decided_at >= ?"
        " AND s.decided_at < ? ORDER BY s.decided_at, s.id",
        (alliance_id, start, end),
    )


async def last_decisions(store: Store, alliance_id: int) -> dict[int, int]:
    """When each movement of the alliance last changed its statement or decided a stance."""
    rows = await store.fetch_all(
        "SELECT m.id, MAX(v.decided_at) FROM movements m"
        " JOIN statement_versions v ON v.room_id = m.room_id WHERE m.alliance_id = ?"
        " GROUP BY m.id"
        " UNION ALL SELECT m.id, MAX(s.decided_at) FROM movements m"
        " JOIN stances s ON s.movement_id = m.id WHERE m.alliance_id = ?"
        " AND s.state != 'pending' GROUP BY m.id",
        (alliance_id, alliance_id),
    )
    latest: dict[int, int] = {}
    for movement_id, at in rows:
        if at is not None:
            latest[int(movement_id)] = max(latest.get(int(movement_id), 0), int(at))
    return latest
