"""Storage for an alliance's common objectives, the movements' stances on them, and the links
between a movement's statement items and the objectives they word.

A movement's stance on an objective (``!endorse``) is decided by a consensus poll:
:func:`open_endorsement` when the poll opens (the stance shows as pending), :func:`record_stance`
when it closes (`commands.alliance.decisions_store.settle_poll` calls it). Each record is keyed
by its poll, so recording it twice changes nothing.

:func:`board` gathers what `!compare` compares: active movements, objectives, stances and the
movements' own wordings. The tables are made by `bot/migrations/0003_alliances.sql`.

Errors: `commands.alliance.store.Taken` when an objective's text is already used.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiosqlite

from bot.ids import EventID, RoomID, UserID
from bot.store import Store
from commands.alliance.compare import NO_STANCE, Board, ObjectiveInfo, Stance, Wording
from commands.alliance.names import text_key
from commands.alliance.store import (
    Alliance,
    Movement,
    PollRef,
    all_rows,
    int_or_none,
    movements_of,
    one_row,
    poll_ref,
    taken_from,
)
from commands.polls.rules import ConsensusCounts, Outcome


@dataclass(frozen=True)
class Objective:
    id: int
    alliance_id: int
    number: int
    text: str
    proposed_by: UserID
    proposed_at: int
    command_event_id: EventID

    def info(self) -> ObjectiveInfo:
        return ObjectiveInfo(self.id, self.number, self.text)


@dataclass(frozen=True)
class StanceRecord:
    """One endorsement poll's record: pending while open, then endorsed or not."""

    id: int
    movement_id: int
    objective_id: int
    state: Literal["pending", "endorsed", "not_endorsed"]
    poll: PollRef
    opened_at: int
    decided_at: int | None
    counts: ConsensusCounts | None
    reason: str | None
    block_reasons: tuple[str, ...]
    command_event_id: EventID | None
    """The `!endorse` that opened the poll, when the bot opened it."""


@dataclass(frozen=True)
class Link:
    room_id: RoomID
    item_id: int
    objective_id: int


# -- row mapping ------------------------------------------------------------------------------

_OBJECTIVE = "id, alliance_id, number, text, proposed_by, proposed_at, command_event_id"
_STANCE = (
    "id, movement_id, objective_id, state, poll_id, poll_room_id, poll_event_id, opened_at,"
    " decided_at, agree, reservations, stand_aside, block, reason, block_reasons,"
    " command_event_id"
)
_STANCE_BY_POLL = f"SELECT {_STANCE} FROM stances WHERE poll_key = ?"


def _objective(row: Sequence[Any]) -> Objective:
    return Objective(
        id=int(row[0]),
        alliance_id=int(row[1]),
        number=int(row[2]),
        text=str(row[3]),
        proposed_by=UserID(row[4]),
        proposed_at=int(row[5]),
        command_event_id=EventID(row[6]),
    )


def _stance(row: Sequence[Any]) -> StanceRecord:
    counts = None
    if row[9] is not None:
        counts = ConsensusCounts(int(row[9]), int(row[10]), int(row[11]), int(row[12]))
    return StanceRecord(
        id=int(row[0]),
        movement_id=int(row[1]),
        objective_id=int(row[2]),
        state=row[3],
        poll=poll_ref(row[4], row[5], row[6]),
        opened_at=int(row[7]),
        decided_at=int_or_none(row[8]),
        counts=counts,
        reason=str(row[13]) if row[13] is not None else None,
        block_reasons=tuple(json.loads(row[14])) if row[14] else (),
        command_event_id=EventID(row[15]) if row[15] else None,
    )


# -- objectives -------------------------------------------------------------------------------


async def objectives_of(store: Store, alliance_id: int) -> list[Objective]:
    return await store.find_all(
        _objective,
        f"SELECT {_OBJECTIVE} FROM objectives WHERE alliance_id = ? ORDER BY number",
        (alliance_id,),
    )


async def objective_by_id(store: Store, objective_id: int) -> Objective | None:
    return await store.find_one(
        _objective, f"SELECT {_OBJECTIVE} FROM objectives WHERE id = ?", (objective_id,)
    )


async def objectives_by_event(store: Store, event_id: str) -> list[Objective]:
    """The objectives one command added (to answer it the same way if it runs again)."""
    return await store.find_all(
        _objective,
        f"SELECT {_OBJECTIVE} FROM objectives WHERE command_event_id = ? ORDER BY number",
        (event_id,),
    )


async def add_objectives(
    store: Store,
    *,
    alliance_id: int,
    texts: Sequence[str],
    proposed_by: str,
    proposed_at: int,
    event_id: str,
) -> list[Objective]:
    """Add objectives with the next numbers, all or none. Raises :class:`Taken` on a duplicate."""
    async with store.transaction() as db:
        row = await one_row(
            db,
            "SELECT COALESCE(MAX(number), 0) FROM objectives WHERE alliance_id = ?",
            (alliance_id,),
        )
        number = int(row[0])
        for text in texts:
            number += 1
            try:
                await db.execute(
                    "INSERT INTO objectives (alliance_id, number, text, text_key, proposed_by,"
                    " proposed_at, command_event_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (alliance_id, number, text, text_key(text), proposed_by, proposed_at, event_id),
                )
            except sqlite3.IntegrityError as exc:
                raise taken_from(exc) from None
    return await objectives_by_event(store, event_id)


# -- stances ----------------------------------------------------------------------------------


_CURRENT_STANCES_SQL = (
    "SELECT movement_id, objective_id, state, agree, reservations, stand_aside, block,"
    " block_reasons FROM stances WHERE movement_id IN (SELECT id FROM movements"
    " WHERE alliance_id = ?) ORDER BY movement_id, objective_id, id"
)


async def current_stances(
    store: Store, alliance_id: int, *, movement_ids: Iterable[int] | None = None
) -> dict[tuple[int, int], Stance]:
    """Each (movement, objective)'s current stance, by (movement id, objective id): one query.

    Folds each pair's endorsement records oldest first: an open poll shows as pending but
    keeps the outcome, votes and block reasons of the latest closed one. With `movement_ids`,
    only those movements' stances.
    """
    wanted = set(movement_ids) if movement_ids is not None else None
    current: dict[tuple[int, int], Stance] = {}
    # Many pairs share the same outcome and votes: each distinct one is made once.
    decided: dict[tuple[Any, ...], Stance] = {}
    for row in await store.fetch_all(_CURRENT_STANCES_SQL, (alliance_id,)):
        movement_id, objective_id, state = row[0], row[1], row[2]
        if wanted is not None and movement_id not in wanted:
            continue
        key = (movement_id, objective_id)
        if state == "pending":
            before = current.get(key, NO_STANCE)
            current[key] = Stance("pending", before.decided, before.counts, before.block_reasons)
            continue
        outcome = tuple(row[2:])
        stance = decided.get(outcome)
        if stance is None:
            _, agree, reservations, aside, block, reasons = outcome
            counts = (
                ConsensusCounts(agree, reservations, aside, block) if agree is not None else None
            )
            blocks = tuple(json.loads(reasons)) if reasons else ()
            stance = decided[outcome] = Stance(state, state, counts, blocks)
        current[key] = stance
    return current


async def latest_stance(
    store: Store, *, movement_id: int, objective_id: int
) -> StanceRecord | None:
    return await store.find_one(
        _stance,
        f"SELECT {_STANCE} FROM stances WHERE movement_id = ? AND objective_id = ?"
        " ORDER BY id DESC LIMIT 1",
        (movement_id, objective_id),
    )


async def open_endorsement(
    store: Store,
    *,
    movement_id: int,
    objective_id: int,
    poll: PollRef,
    opened_at: int,
    command_event_id: str | None = None,
) -> StanceRecord:
    """An endorsement poll opened: the stance shows as pending until :func:`record_stance`.

    Once decided, the stance is listed by :func:`stances_to_announce` so the room is told.
    """
    async with store.transaction() as db:
        await _add_pending_stance(
            db,
            movement_id=movement_id,
            objective_id=objective_id,
            poll=poll,
            opened_at=opened_at,
            command_event_id=command_event_id,
            to_announce=True,
        )
        row = await one_row(db, _STANCE_BY_POLL, (poll.key,))
    return _stance(row)


async def _add_pending_stance(
    db: aiosqlite.Connection,
    *,
    movement_id: int,
    objective_id: int,
    poll: PollRef,
    opened_at: int,
    command_event_id: str | None = None,
    to_announce: bool = False,
) -> None:
    """The pending stance record of this poll, unless it has one already."""
    await db.execute(
        "INSERT OR IGNORE INTO stances (movement_id, objective_id, state, poll_key, poll_id,"
        " poll_room_id, poll_event_id, opened_at, command_event_id, to_announce)"
        " VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
        (
            movement_id,
            objective_id,
            poll.key,
            poll.poll_id,
            poll.room_id,
            poll.event_id,
            opened_at,
            command_event_id,
            int(to_announce),
        ),
    )


async def record_stance(
    store: Store,
    *,
    movement_id: int,
    objective_id: int,
    outcome: Outcome,
    reason: str,
    poll: PollRef,
    decided_at: int,
    block_reasons: Sequence[str] = (),
) -> StanceRecord:
    """A movement's endorsement poll closed: endorsed if it passed, not endorsed otherwise.
    `reason` is the outcome's reason as the movement's room read it, kept as text.

    Completes the pending record :func:`open_endorsement` made for this poll, or adds one.
    Recording the same poll again changes nothing.
    """
    state = "endorsed" if outcome.passed else "not_endorsed"
    counts = outcome.counts
    decided = (
        state,
        decided_at,
        counts.agree,
        counts.reservations,
        counts.stand_aside,
        counts.block,
        reason,
        json.dumps(list(block_reasons)),
    )
    async with store.transaction() as db:
        await _add_pending_stance(
            db, movement_id=movement_id, objective_id=objective_id, poll=poll, opened_at=decided_at
        )
        await db.execute(
            "UPDATE stances SET state = ?, decided_at = ?, agree = ?, reservations = ?,"
            " stand_aside = ?, block = ?, reason = ?, block_reasons = ?"
            " WHERE poll_key = ? AND state = 'pending'",
            (*decided, poll.key),
        )
        row = await one_row(db, _STANCE_BY_POLL, (poll.key,))
    return _stance(row)


# -- outcomes still to tell -------------------------------------------------------------------


async def stances_to_announce(store: Store) -> list[StanceRecord]:
    """Stances decided by polls the bot opened, not yet told to the room."""
    return await store.find_all(
        _stance,
        f"SELECT {_STANCE} FROM stances WHERE to_announce = 1 AND state != 'pending' ORDER BY id",
    )


async def mark_stance_announced(store: Store, stance_id: int) -> None:
    async with store.transaction() as db:
        await db.execute("UPDATE stances SET to_announce = 0 WHERE id = ?", (stance_id,))


# -- links between statement items and objectives ---------------------------------------------


async def links_of_room(store: Store, room_id: RoomID) -> list[Link]:
    rows = await store.fetch_all(
        "SELECT room_id, item_id, objective_id FROM statement_links WHERE room_id = ?"
        " ORDER BY item_id, objective_id",
        (room_id,),
    )
    return [Link(RoomID(row[0]), int(row[1]), int(row[2])) for row in rows]


async def link_item(
    store: Store,
    *,
    room_id: RoomID,
    item_id: int,
    objective_id: int,
    linked_by: str,
    linked_at: int,
) -> int | None:
    """Record that an item words an objective; returns the item it replaces, if another did."""
    async with store.transaction() as db:
        row = await one_row(
            db,
            "SELECT item_id FROM statement_links WHERE room_id = ? AND objective_id = ?",
            (room_id, objective_id),
        )
        replaced = int(row[0]) if row and int(row[0]) != item_id else None
        await db.execute(
            "DELETE FROM statement_links WHERE room_id = ? AND objective_id = ?",
            (room_id, objective_id),
        )
        await db.execute(
            "INSERT INTO statement_links (item_id, objective_id, room_id, linked_by, linked_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (item_id, objective_id, room_id, linked_by, linked_at),
        )
    return replaced


async def unlink_item(store: Store, *, room_id: RoomID, item_id: int) -> list[int]:
    """Remove every link of an item; returns the objective ids it was linked to."""
    async with store.transaction() as db:
        rows = await all_rows(
            db,
            "SELECT objective_id FROM statement_links WHERE room_id = ? AND item_id = ?",
            (room_id, item_id),
        )
        await db.execute(
            "DELETE FROM statement_links WHERE room_id = ? AND item_id = ?", (room_id, item_id)
        )
    return [int(row[0]) for row in rows]


# -- everything to compare --------------------------------------------------------------------


async def board(
    store: Store, alliance: Alliance, *, movements: Sequence[Movement] | None = None
) -> Board:
    """The alliance ready to compare: its active movements, objectives, stances and wordings.

    Three queries (four without `movements`, the active movements), however big the alliance.
    """
    active = (
        list(movements)
        if movements is not None
        else await movements_of(store, alliance.id, statuses=("active",))
    )
    objectives = await objectives_of(store, alliance.id)
    stances = await current_stances(store, alliance.id, movement_ids=[m.id for m in active])
    return Board(
        movements=tuple(m.info() for m in active),
        objectives=tuple(o.info() for o in objectives),
        stances=stances,
        wordings=await wordings_of(store, alliance.id, active),
        threshold=alliance.threshold,
    )


# The current items of the alliance's movement rooms, numbered as their statements show them
# (the room's items not dropped, oldest first), and the objectives they word: one query.
_WORDINGS_SQL = (
    "WITH items AS (SELECT id, text,"
    " ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY id) AS number FROM statement_items"
    " WHERE dropped_version IS NULL AND room_id IN (SELECT room_id FROM movements"
    " WHERE alliance_id = ?))"
    " SELECT l.room_id, l.objective_id, i.number, i.text FROM statement_links l"
    " JOIN items i ON i.id = l.item_id"
)


async def wordings_of(
    store: Store, alliance_id: int, movements: Iterable[Movement]
) -> dict[tuple[int, int], Wording]:
    """These movements' own wordings of the objectives they linked, by (movement, objective) id.

    One query for all of them.
    """
    by_room = {m.room_id: m.id for m in movements if m.alliance_id == alliance_id}
    found: dict[tuple[int, int], Wording] = {}
    for room_id, objective_id, number, text in await store.fetch_all(_WORDINGS_SQL, (alliance_id,)):
        movement_id = by_room.get(room_id)
        if movement_id is not None:
            found[(movement_id, int(objective_id))] = Wording(int(number), str(text))
    return found


async def movement_wordings(store: Store, movement: Movement) -> dict[tuple[int, int], Wording]:
    """The movement's own wording of each objective it linked, by (movement, objective) id."""
    return await wordings_of(store, movement.alliance_id, [movement])
