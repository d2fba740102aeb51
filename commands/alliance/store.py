"""Storage for alliances, movements, objectives, stances and core statements.

One small typed query per job, returning dataclasses; the tables are made by
`bot/migrations/0003_alliances.sql`. No Matrix here, and no wording for people: the command
modules (`movements.py`, `statements.py`, `objectives.py` of `commands/alliance/`) decide
what to say.

Consensus polls decide two things here (issue 3 provides the polls):

- a movement's stance on an objective (``!endorse``): :func:`open_endorsement` when the poll
  opens (the stance shows as pending), :func:`record_stance` when it closes;
- a change to a movement's core statement (``!statement propose/amend/drop``):
  :func:`open_statement_proposal` when the poll opens, :func:`apply_statement_change` when it
  closes. Nothing else changes a statement.

:func:`settle_poll` is the one call a poll's close needs: it finds what that poll was deciding
(a pending stance or a statement proposal) and records the outcome. Every outcome is keyed by
its poll (:class:`PollRef`), so recording it twice changes nothing.

Errors: :class:`Taken` when a name (or a room) is already used, with ``what`` saying which.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import aiosqlite

from bot.contract import Words
from bot.ids import EventID, RoomID, UserID
from bot.store import Store
from commands.alliance.compare import (
    MAJORITY,
    NO_STANCE,
    Board,
    MovementInfo,
    ObjectiveInfo,
    Stance,
    Threshold,
    ThresholdError,
    Wording,
    format_threshold,
    name_key,
    parse_threshold,
    slugify,
    text_key,
)
from commands.polls.rules import ConsensusCounts, Outcome

_T = TypeVar("_T")

MovementStatus = Literal["pending", "active", "rejected", "left"]
ChangeKind = Literal["add", "amend", "drop"]


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
class StatementChange:
    """What a statement poll is about: add an item, amend one, or drop one."""

    kind: ChangeKind
    item_id: int | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if (self.kind == "add") != (self.item_id is None):
            raise ValueError("only 'add' has no item")
        if (self.kind == "drop") != (self.text is None):
            raise ValueError("only 'drop' has no text")

    @classmethod
    def add(cls, text: str) -> StatementChange:
        return cls("add", None, text)

    @classmethod
    def amend(cls, item_id: int, text: str) -> StatementChange:
        return cls("amend", item_id, text)

    @classmethod
    def drop(cls, item_id: int) -> StatementChange:
        return cls("drop", item_id, None)


@dataclass(frozen=True)
class StatementItem:
    id: int
    room_id: RoomID
    number: int
    text: str
    version: int
    """The version that gave the item its current wording."""
    changed_at: int
    poll: PollRef
    """The poll that ratified the current wording."""


@dataclass(frozen=True)
class Statement:
    room_id: RoomID
    version: int
    """0 while the statement is empty and has never changed."""
    updated_at: int | None
    items: tuple[StatementItem, ...]

    def item(self, number: int) -> StatementItem | None:
        return self.items[number - 1] if 0 < number <= len(self.items) else None


@dataclass(frozen=True)
class StatementVersion:
    room_id: RoomID
    version: int
    change: ChangeKind
    item_id: int
    item_number: int
    text: str | None
    previous_text: str | None
    poll: PollRef
    decided_at: int


@dataclass(frozen=True)
class AppliedChange:
    """What a closed statement poll did: the new version, or why there is none (`reason`)."""

    version: StatementVersion | None
    reason: Words


ProposalOutcome = Literal["passed", "not_passed", "conflict", "withdrawn"]


@dataclass(frozen=True)
class Proposal:
    """A statement change put to a consensus poll, and what became of it."""

    id: int
    room_id: RoomID
    change: StatementChange
    proposed_by: UserID
    command_event_id: EventID
    poll: PollRef
    outcome: ProposalOutcome | None
    decided_at: int | None


@dataclass(frozen=True)
class Link:
    room_id: RoomID
    item_id: int
    objective_id: int


@dataclass(frozen=True)
class Settled:
    """What :func:`settle_poll` recorded: a stance, a statement change, or neither."""

    stance: StanceRecord | None = None
    change: AppliedChange | None = None


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
_OBJECTIVE = "id, alliance_id, number, text, proposed_by, proposed_at, command_event_id"
_STANCE = (
    "id, movement_id, objective_id, state, poll_id, poll_room_id, poll_event_id, opened_at,"
    " decided_at, agree, reservations, stand_aside, block, reason, block_reasons,"
    " command_event_id"
)
_VERSION = (
    "room_id, version, change, item_id, item_number, text, previous_text, poll_id, poll_room_id,"
    " poll_event_id, decided_at"
)
_PROPOSAL = (
    "id, room_id, change, item_id, text, proposed_by, command_event_id, poll_id, poll_event_id,"
    " outcome, decided_at"
)
_MOVEMENT_BY_REQUEST = f"SELECT {_MOVEMENT} FROM movements WHERE request_event_id = ?"
_STANCE_BY_POLL = f"SELECT {_STANCE} FROM stances WHERE poll_key = ?"
_VERSION_BY_POLL = f"SELECT {_VERSION} FROM statement_versions WHERE poll_key = ?"


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


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
        decided_at=_int_or_none(row[10]),
        decided_event_id=EventID(row[11]) if row[11] else None,
        left_at=_int_or_none(row[12]),
        left_event_id=EventID(row[13]) if row[13] else None,
        removed_reason=str(row[14]) if row[14] is not None else None,
    )


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


def _poll(poll_id: Any, room_id: Any, event_id: Any) -> PollRef:
    return PollRef(
        room_id=RoomID(room_id),
        poll_id=_int_or_none(poll_id),
        event_id=EventID(event_id) if event_id else None,
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
        poll=_poll(row[4], row[5], row[6]),
        opened_at=int(row[7]),
        decided_at=_int_or_none(row[8]),
        counts=counts,
        reason=str(row[13]) if row[13] is not None else None,
        block_reasons=tuple(json.loads(row[14])) if row[14] else (),
        command_event_id=EventID(row[15]) if row[15] else None,
    )


def _version(row: Sequence[Any]) -> StatementVersion:
    return StatementVersion(
        room_id=RoomID(row[0]),
        version=int(row[1]),
        change=row[2],
        item_id=int(row[3]),
        item_number=int(row[4]),
        text=row[5],
        previous_text=row[6],
        poll=_poll(row[7], row[8], row[9]),
        decided_at=int(row[10]),
    )


def _proposal(row: Sequence[Any]) -> Proposal:
    room_id = RoomID(row[1])
    return Proposal(
        id=int(row[0]),
        room_id=room_id,
        change=StatementChange(row[2], _int_or_none(row[3]), row[4]),
        proposed_by=UserID(row[5]),
        command_event_id=EventID(row[6]),
        poll=_poll(row[7], room_id, row[8]),
        outcome=row[9],
        decided_at=_int_or_none(row[10]),
    )


async def _one_row(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> Any:
    async with db.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def _all_rows(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


def _marks(values: Sequence[Any]) -> str:
    """The placeholders of `IN (...)` for these values (`NULL`, matching nothing, for none)."""
    return ", ".join("?" for _ in values) or "NULL"


def _taken(exc: sqlite3.IntegrityError) -> Taken:
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
    marks = _marks(wanted)
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
            raise _taken(exc) from None
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
        where += f" AND status IN ({_marks(wanted)})"
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
        row = await _one_row(db, _MOVEMENT_BY_REQUEST, (event_id,))
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
                raise _taken(exc) from None
            row = await _one_row(db, _MOVEMENT_BY_REQUEST, (event_id,))
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


# -- objectives -------------------------------------------------------------------------------


async def objectives_of(store: Store, alliance_id: int) -> list[Objective]:
    return await store.find_all(
        _objective,
        f"SELECT {_OBJECTIVE} FROM objectives WHERE alliance_id = ? ORDER BY number",
        (alliance_id,),
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
        row = await _one_row(
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
                raise _taken(exc) from None
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
        row = await _one_row(db, _STANCE_BY_POLL, (poll.key,))
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
    poll: PollRef,
    decided_at: int,
    block_reasons: Sequence[str] = (),
) -> StanceRecord:
    """A movement's endorsement poll closed: endorsed if it passed, not endorsed otherwise.

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
        outcome.reason,
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
        row = await _one_row(db, _STANCE_BY_POLL, (poll.key,))
    return _stance(row)


# -- core statements --------------------------------------------------------------------------


_ITEMS_SQL = (
    "SELECT i.id, i.text, i.changed_version, v.decided_at, v.poll_id, v.poll_room_id,"
    " v.poll_event_id FROM statement_items i JOIN statement_versions v"
    " ON v.room_id = i.room_id AND v.version = i.changed_version"
    " WHERE i.room_id = ? AND i.dropped_version IS NULL ORDER BY i.id"
)
_LAST_VERSION_SQL = (
    "SELECT version, decided_at FROM statement_versions WHERE room_id = ?"
    " ORDER BY version DESC LIMIT 1"
)


def _items(room_id: RoomID, rows: Iterable[Sequence[Any]]) -> list[StatementItem]:
    return [
        StatementItem(
            id=int(row[0]),
            room_id=room_id,
            number=number,
            text=str(row[1]),
            version=int(row[2]),
            changed_at=int(row[3]),
            poll=_poll(row[4], row[5], row[6]),
        )
        for number, row in enumerate(rows, start=1)
    ]


async def statement(store: Store, room_id: RoomID) -> Statement:
    """A room's current core statement: numbered items, version and date of the last change."""
    items = _items(room_id, await store.fetch_all(_ITEMS_SQL, (room_id,)))
    row = await store.fetch_one(_LAST_VERSION_SQL, (room_id,))
    return Statement(
        room_id=room_id,
        version=int(row[0]) if row else 0,
        updated_at=int(row[1]) if row else None,
        items=tuple(items),
    )


async def statement_history(store: Store, room_id: RoomID) -> list[StatementVersion]:
    """Every version of a room's statement, newest first."""
    return await store.find_all(
        _version,
        f"SELECT {_VERSION} FROM statement_versions WHERE room_id = ? ORDER BY version DESC",
        (room_id,),
    )


async def open_statement_proposal(
    store: Store,
    *,
    room_id: RoomID,
    change: StatementChange,
    proposed_by: str,
    proposed_at: int,
    command_event_id: str,
    poll: PollRef,
) -> None:
    """A statement poll opened: remember the change it is about, for its close."""
    async with store.transaction() as db:
        await db.execute(
            "INSERT OR IGNORE INTO statement_proposals (room_id, change, item_id, text,"
            " proposed_by, proposed_at, command_event_id, poll_key, poll_id, poll_event_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                room_id,
                change.kind,
                change.item_id,
                change.text,
                proposed_by,
                proposed_at,
                command_event_id,
                poll.key,
                poll.poll_id,
                poll.event_id,
            ),
        )


async def apply_statement_change(
    store: Store,
    *,
    room_id: RoomID,
    change: StatementChange,
    outcome: Outcome,
    poll: PollRef,
    decided_at: int,
) -> AppliedChange:
    """A statement poll closed: if it passed, the change becomes the statement's next version.

    The only way a statement changes. An amended or dropped item must still be part of the
    statement (another poll may have dropped it meanwhile). Applying the same poll twice
    returns the version it made the first time.
    """
    async with store.transaction() as db:
        row = await _one_row(db, _VERSION_BY_POLL, (poll.key,))
        if row is not None:
            return AppliedChange(_version(row), outcome.words)
        if not outcome.passed:
            await _settle_proposal(db, poll, "not_passed", decided_at)
            return AppliedChange(None, outcome.words)
        items = _items(room_id, await _all_rows(db, _ITEMS_SQL, (room_id,)))
        by_id = {item.id: item for item in items}
        target = by_id.get(change.item_id) if change.item_id is not None else None
        if change.kind != "add" and target is None:
            await _settle_proposal(db, poll, "conflict", decided_at)
            return AppliedChange(None, Words("statements.dropped_meanwhile"))
        row = await _one_row(
            db,
            "SELECT COALESCE(MAX(version), 0) FROM statement_versions WHERE room_id = ?",
            (room_id,),
        )
        version = int(row[0]) + 1
        if change.kind == "add":
            cursor = await db.execute(
                "INSERT INTO statement_items (room_id, text, added_version, changed_version)"
                " VALUES (?, ?, ?, ?)",
                (room_id, change.text, version, version),
            )
            item_id, number, previous = int(cursor.lastrowid or 0), len(items) + 1, None
        else:
            assert target is not None
            item_id, number, previous = target.id, target.number, target.text
            if change.kind == "amend":
                await db.execute(
                    "UPDATE statement_items SET text = ?, changed_version = ? WHERE id = ?",
                    (change.text, version, item_id),
                )
            else:
                await db.execute(
                    "UPDATE statement_items SET dropped_version = ? WHERE id = ?",
                    (version, item_id),
                )
                await db.execute("DELETE FROM statement_links WHERE item_id = ?", (item_id,))
        await db.execute(
            "INSERT INTO statement_versions (room_id, version, change, item_id, item_number,"
            " text, previous_text, poll_key, poll_id, poll_room_id, poll_event_id, decided_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                room_id,
                version,
                change.kind,
                item_id,
                number,
                change.text,
                previous,
                poll.key,
                poll.poll_id,
                poll.room_id,
                poll.event_id,
                decided_at,
            ),
        )
        await _settle_proposal(db, poll, "passed", decided_at)
        row = await _one_row(db, _VERSION_BY_POLL, (poll.key,))
    return AppliedChange(_version(row), outcome.words)


async def _settle_proposal(
    db: aiosqlite.Connection, poll: PollRef, outcome: str, decided_at: int
) -> None:
    await db.execute(
        "UPDATE statement_proposals SET outcome = ?, decided_at = ?"
        " WHERE poll_key = ? AND outcome IS NULL",
        (outcome, decided_at, poll.key),
    )


async def settle_poll(
    store: Store,
    *,
    poll: PollRef,
    outcome: Outcome,
    decided_at: int,
    block_reasons: Sequence[str] = (),
) -> Settled:
    """A consensus poll closed: record its outcome for whatever it was deciding here.

    The single call for the polls module. A poll that decides nothing here returns an empty
    :class:`Settled`.
    """
    stance = await store.fetch_one(
        "SELECT movement_id, objective_id FROM stances WHERE poll_key = ?", (poll.key,)
    )
    if stance is not None:
        record = await record_stance(
            store,
            movement_id=int(stance[0]),
            objective_id=int(stance[1]),
            outcome=outcome,
            poll=poll,
            decided_at=decided_at,
            block_reasons=block_reasons,
        )
        return Settled(stance=record)
    proposal = await store.find_one(
        _proposal,
        f"SELECT {_PROPOSAL} FROM statement_proposals WHERE poll_key = ?",
        (poll.key,),
    )
    if proposal is not None:
        applied = await apply_statement_change(
            store,
            room_id=proposal.room_id,
            change=proposal.change,
            outcome=outcome,
            poll=poll,
            decided_at=decided_at,
        )
        return Settled(change=applied)
    return Settled()


# -- polls still deciding, and outcomes still to tell -------------------------------------------


async def pending_polls(store: Store) -> list[PollRef]:
    """The bot's own polls that an open endorsement or statement proposal waits for."""
    rows = await store.fetch_all(
        "SELECT poll_id, poll_room_id, poll_event_id FROM stances"
        " WHERE state = 'pending' AND poll_id IS NOT NULL"
        " UNION SELECT poll_id, room_id, poll_event_id FROM statement_proposals"
        " WHERE outcome IS NULL AND poll_id IS NOT NULL ORDER BY 1"
    )
    return [_poll(row[0], row[1], row[2]) for row in rows]


async def withdraw_poll(store: Store, poll: PollRef, *, at: int) -> None:
    """The poll was removed before it decided anything: forget what waited for it."""
    async with store.transaction() as db:
        await db.execute(
            "DELETE FROM stances WHERE poll_key = ? AND state = 'pending'", (poll.key,)
        )
        await db.execute(
            "UPDATE statement_proposals SET outcome = 'withdrawn', decided_at = ?, announced = 1"
            " WHERE poll_key = ? AND outcome IS NULL",
            (at, poll.key),
        )


async def stances_to_announce(store: Store) -> list[StanceRecord]:
    """Stances decided by polls the bot opened, not yet told to the room."""
    return await store.find_all(
        _stance,
        f"SELECT {_STANCE} FROM stances WHERE to_announce = 1 AND state != 'pending' ORDER BY id",
    )


async def mark_stance_announced(store: Store, stance_id: int) -> None:
    async with store.transaction() as db:
        await db.execute("UPDATE stances SET to_announce = 0 WHERE id = ?", (stance_id,))


async def proposal_by_event(store: Store, command_event_id: str) -> Proposal | None:
    return await store.find_one(
        _proposal,
        f"SELECT {_PROPOSAL} FROM statement_proposals WHERE command_event_id = ?",
        (command_event_id,),
    )


async def proposals_to_announce(store: Store) -> list[Proposal]:
    """Statement proposals decided by their poll, not yet told to the room."""
    return await store.find_all(
        _proposal,
        f"SELECT {_PROPOSAL} FROM statement_proposals"
        " WHERE outcome IS NOT NULL AND announced = 0 ORDER BY id",
    )


async def mark_proposal_announced(store: Store, proposal_id: int) -> None:
    async with store.transaction() as db:
        await db.execute(
            "UPDATE statement_proposals SET announced = 1 WHERE id = ?", (proposal_id,)
        )


async def version_by_poll(store: Store, poll: PollRef) -> StatementVersion | None:
    return await store.find_one(_version, _VERSION_BY_POLL, (poll.key,))


async def objective_by_id(store: Store, objective_id: int) -> Objective | None:
    return await store.find_one(
        _objective, f"SELECT {_OBJECTIVE} FROM objectives WHERE id = ?", (objective_id,)
    )


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
        row = await _one_row(
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
        rows = await _all_rows(
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


async def move_room(store: Store, old: RoomID, new: RoomID) -> None:
    """A room of an alliance was upgraded: its place in every alliance (commons, movement) and
    its movement's statement go with it. The polls that decided them stay where they were held.
    Rows the new room already has (it asked to join itself, say) are kept; the old ones too."""
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
        ):
            await db.execute(
                f"UPDATE OR IGNORE {table} SET room_id = ? WHERE room_id = ?", (new, old)
            )
