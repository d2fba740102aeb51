"""Storage for the movements' core statements: their items, versions, and the proposals to
change them.

A statement changes only by a consensus poll (``!statement propose/amend/drop``):
:func:`open_statement_proposal` when the poll opens, :func:`apply_statement_change` when it
closes (`commands.alliance.decisions_store.settle_poll` calls it). Nothing else changes a
statement, and applying the same poll twice returns the version it made the first time.
The tables are made by `bot/migrations/0003_alliances.sql`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiosqlite

from bot.contract import Words
from bot.ids import EventID, RoomID, UserID
from bot.store import Store
from commands.alliance.store import PollRef, all_rows, int_or_none, one_row, poll_ref
from commands.polls.rules import Outcome

ChangeKind = Literal["add", "amend", "drop"]


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


# -- row mapping ------------------------------------------------------------------------------

_VERSION = (
    "room_id, version, change, item_id, item_number, text, previous_text, poll_id, poll_room_id,"
    " poll_event_id, decided_at"
)
_PROPOSAL = (
    "id, room_id, change, item_id, text, proposed_by, command_event_id, poll_id, poll_event_id,"
    " outcome, decided_at"
)
_VERSION_BY_POLL = f"SELECT {_VERSION} FROM statement_versions WHERE poll_key = ?"


def _version(row: Sequence[Any]) -> StatementVersion:
    return StatementVersion(
        room_id=RoomID(row[0]),
        version=int(row[1]),
        change=row[2],
        item_id=int(row[3]),
        item_number=int(row[4]),
        text=row[5],
        previous_text=row[6],
        poll=poll_ref(row[7], row[8], row[9]),
        decided_at=int(row[10]),
    )


def _proposal(row: Sequence[Any]) -> Proposal:
    room_id = RoomID(row[1])
    return Proposal(
        id=int(row[0]),
        room_id=room_id,
        change=StatementChange(row[2], int_or_none(row[3]), row[4]),
        proposed_by=UserID(row[5]),
        command_event_id=EventID(row[6]),
        poll=poll_ref(row[7], room_id, row[8]),
        outcome=row[9],
        decided_at=int_or_none(row[10]),
    )


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
            poll=poll_ref(row[4], row[5], row[6]),
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
        row = await one_row(db, _VERSION_BY_POLL, (poll.key,))
        if row is not None:
            return AppliedChange(_version(row), outcome.words)
        if not outcome.passed:
            await _settle_proposal(db, poll, "not_passed", decided_at)
            return AppliedChange(None, outcome.words)
        items = _items(room_id, await all_rows(db, _ITEMS_SQL, (room_id,)))
        by_id = {item.id: item for item in items}
        target = by_id.get(change.item_id) if change.item_id is not None else None
        if change.kind != "add" and target is None:
            await _settle_proposal(db, poll, "conflict", decided_at)
            return AppliedChange(None, Words("statements.dropped_meanwhile"))
        row = await one_row(
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
        row = await one_row(db, _VERSION_BY_POLL, (poll.key,))
    return AppliedChange(_version(row), outcome.words)


async def _settle_proposal(
    db: aiosqlite.Connection, poll: PollRef, outcome: str, decided_at: int
) -> None:
    await db.execute(
        "UPDATE statement_proposals SET outcome = ?, decided_at = ?"
        " WHERE poll_key = ? AND outcome IS NULL",
        (outcome, decided_at, poll.key),
    )


# -- outcomes still to tell -------------------------------------------------------------------


async def proposal_by_event(store: Store, command_event_id: str) -> Proposal | None:
    return await store.find_one(
        _proposal,
        f"SELECT {_PROPOSAL} FROM statement_proposals WHERE command_event_id = ?",
        (command_event_id,),
    )


async def proposal_by_poll(store: Store, poll: PollRef) -> Proposal | None:
    """The statement proposal this poll decides, if it decides one."""
    return await store.find_one(
        _proposal,
        f"SELECT {_PROPOSAL} FROM statement_proposals WHERE poll_key = ?",
        (poll.key,),
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
