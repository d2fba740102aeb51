"""Storage of the council family (tables `council_*`, migration 0011): each alliance's rule and
who may propose, proposals and their rounds, and each movement's seat in a round.

Every write that a command or the reconciler might do twice (after a restart) is keyed: a
proposal and a round by the event of the command that opened it, a seat by its round and
movement, and recording a position or an outcome only fills what is still empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from bot.ids import EventID, RoomID, UserID
from bot.store import Store
from commands.council.rules import PositionKind, Reason

Proposers = Literal["moderators", "members"]
ClosedVia = Literal["deadline", "everyone", "command"]
GivenBy = Literal["poll", "spokes", "closed"]


@dataclass(frozen=True)
class Settings:
    """An alliance's council settings; None where the alliance keeps the default."""

    rule: str | None
    proposers: Proposers | None


@dataclass(frozen=True)
class Proposal:
    id: int
    alliance_id: int
    number: int
    commons_room_id: RoomID
    proposer: UserID
    command_event_id: EventID
    created_at: int
    root_event_id: EventID | None


@dataclass(frozen=True)
class Round:
    id: int
    proposal_id: int
    round: int
    text: str
    rule: str
    opened_by: UserID
    command_event_id: EventID
    opened_at: int
    closes_at: int
    opened_event_id: EventID | None
    closed_at: int | None
    closed_via: ClosedVia | None
    closed_by: UserID | None
    outcome: Literal["passed", "not_passed"] | None
    announced_at: int | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Seat:
    """A movement asked in a round, and what it answered."""

    round_id: int
    movement_id: int
    movement_name: str
    room_id: RoomID
    poll_id: int | None
    asked_at: int | None
    tried_at: int | None
    position: PositionKind | None
    reasons: tuple[Reason, ...]
    voters: int
    given_by: GivenBy | None
    given_by_user: UserID | None
    decided_at: int | None
    told_at: int | None
    reminded_at: int | None = None


_PROPOSAL = (
    "p.id, p.alliance_id, p.number, p.commons_room_id, p.proposer, p.command_event_id,"
    " p.created_at, p.root_event_id"
)
_ROUND = (
    "r.id, r.proposal_id, r.round, r.text, r.rule, r.opened_by, r.command_event_id,"
    " r.opened_at, r.closes_at, r.opened_event_id, r.closed_at, r.closed_via, r.closed_by,"
    " r.outcome, r.announced_at"
)
_SEAT = (
    "s.round_id, s.movement_id, s.movement_name, s.room_id, s.poll_id, s.asked_at, s.tried_at,"
    " s.position, s.reasons, s.voters, s.given_by, s.given_by_user, s.decided_at, s.told_at,"
    " s.reminded_at"
)


def _proposal(row: Sequence[Any]) -> Proposal:
    return Proposal(
        id=row[0],
        alliance_id=row[1],
        number=row[2],
        commons_room_id=RoomID(row[3]),
        proposer=UserID(row[4]),
        command_event_id=EventID(row[5]),
        created_at=row[6],
        root_event_id=None if row[7] is None else EventID(row[7]),
    )


def _round(row: Sequence[Any]) -> Round:
    return Round(
        id=row[0],
        proposal_id=row[1],
        round=row[2],
        text=row[3],
        rule=row[4],
        opened_by=UserID(row[5]),
        command_event_id=EventID(row[6]),
        opened_at=row[7],
        closes_at=row[8],
        opened_event_id=None if row[9] is None else EventID(row[9]),
        closed_at=row[10],
        closed_via=row[11],
        closed_by=None if row[12] is None else UserID(row[12]),
        outcome=row[13],
        announced_at=row[14],
    )


def _reasons(text: str) -> tuple[Reason, ...]:
    return tuple(Reason(str(item["choice"]), item.get("text")) for item in json.loads(text))


def _seat(row: Sequence[Any]) -> Seat:
    return Seat(
        round_id=row[0],
        movement_id=row[1],
        movement_name=row[2],
        room_id=RoomID(row[3]),
        poll_id=row[4],
        asked_at=row[5],
        tried_at=row[6],
        position=row[7],
        reasons=_reasons(row[8]),
        voters=row[9],
        given_by=row[10],
        given_by_user=None if row[11] is None else UserID(row[11]),
        decided_at=row[12],
        told_at=row[13],
        reminded_at=row[14],
    )


# -- settings ----------------------------------------------------------------------------------


async def settings(store: Store, alliance_id: int) -> Settings:
    found = await store.fetch_one(
        "SELECT rule, proposers FROM council_settings WHERE alliance_id = ?", (alliance_id,)
    )
    return Settings(None, None) if found is None else Settings(found[0], found[1])


def _upsert(table: str, key: str, column: str) -> str:
    return (
        f"INSERT INTO {table} ({key}, {column}) VALUES (?, ?) ON CONFLICT ({key})"
        f" DO UPDATE SET {column} = excluded.{column}"
    )


_SET_SQL: Final = {
    "rule": _upsert("council_settings", "alliance_id", "rule"),
    "proposers": _upsert("council_settings", "alliance_id", "proposers"),
    "position_by": _upsert("council_rooms", "room_id", "position_by"),
    "spoke_term_s": _upsert("council_rooms", "room_id", "spoke_term_s"),
}
"""One setting of an alliance (`council_settings`) or a room (`council_rooms`), the others
kept."""


async def _set(store: Store, column: str, key: object, value: object) -> None:
    await store.write(_SET_SQL[column], (key, value))


async def set_rule(store: Store, alliance_id: int, rule: str) -> None:
    await _set(store, "rule", alliance_id, rule)


async def set_proposers(store: Store, alliance_id: int, proposers: Proposers) -> None:
    await _set(store, "proposers", alliance_id, proposers)


# -- proposals and rounds ----------------------------------------------------------------------


@dataclass(frozen=True)
class NewSeat:
    movement_id: int
    movement_name: str
    room_id: RoomID


async def open_proposal(
    store: Store,
    *,
    alliance_id: int,
    commons_room_id: RoomID,
    proposer: UserID,
    command_event_id: EventID,
    at: int,
    text: str,
    rule: str,
    closes_at: int,
    seats: Iterable[NewSeat],
) -> tuple[Proposal, Round]:
    """Open a proposal with its first round and its seats; the same command opens only one."""
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO council_proposals (alliance_id, number, commons_room_id, proposer,"
            " command_event_id, created_at)"
            " SELECT ?, COALESCE(MAX(number), 0) + 1, ?, ?, ?, ? FROM council_proposals"
            " WHERE alliance_id = ?"
            " ON CONFLICT (command_event_id) DO NOTHING",
            (alliance_id, commons_room_id, proposer, command_event_id, at, alliance_id),
        )
        async with db.execute(
            f"SELECT {_PROPOSAL} FROM council_proposals p WHERE command_event_id = ?",
            (command_event_id,),
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        proposal = _proposal(row)
        await _insert_round(
            db,
            proposal_id=proposal.id,
            number=1,
            text=text,
            rule=rule,
            opened_by=proposer,
            command_event_id=command_event_id,
            at=at,
            closes_at=closes_at,
            seats=seats,
        )
    found = await round_by_event(store, command_event_id)
    assert found is not None
    return proposal, found


async def open_round(
    store: Store,
    proposal: Proposal,
    *,
    text: str,
    rule: str,
    opened_by: UserID,
    command_event_id: EventID,
    at: int,
    closes_at: int,
    seats: Iterable[NewSeat],
) -> Round:
    """Open the next round of `proposal` (an amendment); the same command opens only one."""
    async with store.transaction() as db:
        async with db.execute(
            "SELECT COALESCE(MAX(round), 0) + 1 FROM council_rounds WHERE proposal_id = ?",
            (proposal.id,),
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        await _insert_round(
            db,
            proposal_id=proposal.id,
            number=int(row[0]),
            text=text,
            rule=rule,
            opened_by=opened_by,
            command_event_id=command_event_id,
            at=at,
            closes_at=closes_at,
            seats=seats,
        )
    found = await round_by_event(store, command_event_id)
    assert found is not None
    return found


async def _insert_round(
    db: Any,
    *,
    proposal_id: int,
    number: int,
    text: str,
    rule: str,
    opened_by: UserID,
    command_event_id: EventID,
    at: int,
    closes_at: int,
    seats: Iterable[NewSeat],
) -> None:
    async with db.execute(
        "INSERT INTO council_rounds (proposal_id, round, text, rule, opened_by,"
        " command_event_id, opened_at, closes_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (command_event_id) DO NOTHING RETURNING id",
        (proposal_id, number, text, rule, opened_by, command_event_id, at, closes_at),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return  # opened before (the command is handled again after a restart)
    await db.executemany(
        "INSERT INTO council_seats (round_id, movement_id, movement_name, room_id)"
        " VALUES (?, ?, ?, ?)",
        [(row[0], s.movement_id, s.movement_name, s.room_id) for s in seats],
    )


async def set_root(store: Store, proposal_id: int, event_id: EventID) -> None:
    await store.write(
        "UPDATE council_proposals SET root_event_id = ? WHERE id = ? AND root_event_id IS NULL",
        (event_id, proposal_id),
    )


async def set_opened_event(store: Store, round_id: int, event_id: EventID) -> None:
    await store.write(
        "UPDATE council_rounds SET opened_event_id = ? WHERE id = ? AND opened_event_id IS NULL",
        (event_id, round_id),
    )


async def proposal_by_number(store: Store, alliance_id: int, number: int) -> Proposal | None:
    return await store.find_one(
        _proposal,
        f"SELECT {_PROPOSAL} FROM council_proposals p WHERE alliance_id = ? AND number = ?",
        (alliance_id, number),
    )


async def proposal_by_root(store: Store, room_id: RoomID, root: EventID) -> Proposal | None:
    """The proposal whose thread in the commons `room_id` starts at `root`."""
    return await store.find_one(
        _proposal,
        f"SELECT {_PROPOSAL} FROM council_proposals p"
        " WHERE commons_room_id = ? AND root_event_id = ?",
        (room_id, root),
    )


async def proposal_by_id(store: Store, proposal_id: int) -> Proposal | None:
    return await store.find_one(
        _proposal, f"SELECT {_PROPOSAL} FROM council_proposals p WHERE id = ?", (proposal_id,)
    )


async def proposals_of(store: Store, alliance_id: int) -> list[Proposal]:
    return await store.find_all(
        _proposal,
        f"SELECT {_PROPOSAL} FROM council_proposals p WHERE alliance_id = ? ORDER BY number",
        (alliance_id,),
    )


async def round_by_event(store: Store, command_event_id: EventID) -> Round | None:
    return await store.find_one(
        _round,
        f"SELECT {_ROUND} FROM council_rounds r WHERE command_event_id = ?",
        (command_event_id,),
    )


async def rounds_of(store: Store, proposal_id: int) -> list[Round]:
    return await store.find_all(
        _round,
        f"SELECT {_ROUND} FROM council_rounds r WHERE proposal_id = ? ORDER BY round",
        (proposal_id,),
    )


async def open_rounds(store: Store) -> list[Round]:
    return await store.find_all(
        _round, f"SELECT {_ROUND} FROM council_rounds r WHERE closed_at IS NULL ORDER BY id"
    )


async def unannounced_rounds(store: Store) -> list[Round]:
    return await store.find_all(
        _round,
        f"SELECT {_ROUND} FROM council_rounds r"
        " WHERE closed_at IS NOT NULL AND announced_at IS NULL ORDER BY id",
    )


async def close_round(
    store: Store,
    round_id: int,
    *,
    at: int,
    via: ClosedVia,
    by: UserID | None,
    outcome: Literal["passed", "not_passed"],
) -> bool:
    """Close a round with its outcome; False when it was closed already."""
    rows = await store.write(
        "UPDATE council_rounds SET closed_at = ?, closed_via = ?, closed_by = ?, outcome = ?"
        " WHERE id = ? AND closed_at IS NULL RETURNING id",
        (at, via, by, outcome, round_id),
    )
    return bool(rows)


async def mark_announced(store: Store, round_id: int, *, at: int) -> None:
    await store.write(
        "UPDATE council_rounds SET announced_at = ? WHERE id = ? AND announced_at IS NULL",
        (at, round_id),
    )


# -- seats -------------------------------------------------------------------------------------


async def seats_of(store: Store, round_id: int) -> list[Seat]:
    return await store.find_all(
        _seat,
        f"SELECT {_SEAT} FROM council_seats s WHERE round_id = ? ORDER BY movement_name",
        (round_id,),
    )


async def seat_of_poll(store: Store, poll_id: int) -> Seat | None:
    return await store.find_one(
        _seat, f"SELECT {_SEAT} FROM council_seats s WHERE poll_id = ?", (poll_id,)
    )


async def tried(store: Store, seat: Seat, *, at: int) -> None:
    """Remember a try to post the seat's poll (to wait before the next one)."""
    await store.write(
        "UPDATE council_seats SET tried_at = ? WHERE round_id = ? AND movement_id = ?",
        (at, seat.round_id, seat.movement_id),
    )


async def set_asked(store: Store, seat: Seat, *, at: int, poll_id: int | None) -> None:
    """The movement was asked: by its own poll, or (no poll) by a notice to its spokes."""
    await store.write(
        "UPDATE council_seats SET poll_id = ?, asked_at = ? WHERE round_id = ?"
        " AND movement_id = ? AND asked_at IS NULL",
        (poll_id, at, seat.round_id, seat.movement_id),
    )


async def set_position(
    store: Store,
    seat: Seat,
    *,
    position: PositionKind,
    reasons: Sequence[Reason],
    voters: int,
    given_by: GivenBy,
    by: UserID | None,
    at: int,
) -> bool:
    """Record a seat's position; False when it had one already (it is never changed)."""
    rows = await store.write(
        "UPDATE council_seats SET position = ?, reasons = ?, voters = ?, given_by = ?,"
        " given_by_user = ?, decided_at = ?"
        " WHERE round_id = ? AND movement_id = ? AND position IS NULL RETURNING round_id",
        (
            position,
            json.dumps([{"choice": r.choice, "text": r.text} for r in reasons]),
            voters,
            given_by,
            by,
            at,
            seat.round_id,
            seat.movement_id,
        ),
    )
    return bool(rows)


async def mark_seat_reminded(store: Store, seat: Seat, *, at: int) -> None:
    await store.write(
        "UPDATE council_seats SET reminded_at = ? WHERE round_id = ? AND movement_id = ?"
        " AND reminded_at IS NULL",
        (at, seat.round_id, seat.movement_id),
    )


async def mark_told(store: Store, seat: Seat, *, at: int) -> None:
    await store.write(
        "UPDATE council_seats SET told_at = ? WHERE round_id = ? AND movement_id = ?"
        " AND told_at IS NULL",
        (at, seat.round_id, seat.movement_id),
    )


async def open_seats_of_room(store: Store, room_id: RoomID) -> list[tuple[Round, Seat]]:
    """The seats of `room_id` in rounds still open, with their round."""
    rows = await store.fetch_all(
        f"SELECT {_ROUND}, {_SEAT} FROM council_seats s JOIN council_rounds r ON r.id = s.round_id"
        " WHERE s.room_id = ? AND r.closed_at IS NULL ORDER BY r.id",
        (room_id,),
    )
    return [(_round(row[:15]), _seat(row[15:])) for row in rows]


# -- spokes ------------------------------------------------------------------------------------

PositionBy = Literal["poll", "spokes"]


@dataclass(frozen=True)
class RoomSettings:
    """A movement room's council settings; None where it keeps the default."""

    position_by: PositionBy | None
    spoke_term_s: int | None


@dataclass(frozen=True)
class Spoke:
    room_id: RoomID
    user_id: UserID
    added_by: UserID
    added_at: int
    term_ends_at: int
    reminded_at: int | None


_SPOKE = "room_id, user_id, added_by, added_at, term_ends_at, reminded_at"


def _spoke(row: Sequence[Any]) -> Spoke:
    return Spoke(RoomID(row[0]), UserID(row[1]), UserID(row[2]), row[3], row[4], row[5])


async def room_settings(store: Store, room_id: RoomID) -> RoomSettings:
    found = await store.fetch_one(
        "SELECT position_by, spoke_term_s FROM council_rooms WHERE room_id = ?", (room_id,)
    )
    return RoomSettings(None, None) if found is None else RoomSettings(found[0], found[1])


async def set_position_by(store: Store, room_id: RoomID, position_by: PositionBy) -> None:
    await _set(store, "position_by", room_id, position_by)


async def set_spoke_term(store: Store, room_id: RoomID, seconds: int) -> None:
    await _set(store, "spoke_term_s", room_id, seconds)


async def spokes_of(store: Store, room_id: RoomID) -> list[Spoke]:
    return await store.find_all(
        _spoke,
        f"SELECT {_SPOKE} FROM council_spokes WHERE room_id = ? ORDER BY added_at, user_id",
        (room_id,),
    )


async def add_spoke(
    store: Store, room_id: RoomID, user_id: UserID, *, by: UserID, at: int, term_ends_at: int
) -> None:
    """Name a spoke, or renew their term (a new term starts now)."""
    await store.write(
        f"INSERT INTO council_spokes ({_SPOKE}) VALUES (?, ?, ?, ?, ?, NULL)"
        " ON CONFLICT (room_id, user_id) DO UPDATE SET added_by = excluded.added_by,"
        " added_at = excluded.added_at, term_ends_at = excluded.term_ends_at,"
        " reminded_at = NULL",
        (room_id, user_id, by, at, term_ends_at),
    )


async def remove_spoke(store: Store, room_id: RoomID, user_id: UserID) -> bool:
    rows = await store.write(
        "DELETE FROM council_spokes WHERE room_id = ? AND user_id = ? RETURNING user_id",
        (room_id, user_id),
    )
    return bool(rows)


async def terms_ended(store: Store, now: int) -> list[Spoke]:
    """Spokes whose term ended and whose room was not asked to renew or rotate yet."""
    return await store.find_all(
        _spoke,
        f"SELECT {_SPOKE} FROM council_spokes WHERE term_ends_at <= ? AND reminded_at IS NULL",
        (now,),
    )


async def mark_reminded(store: Store, spoke: Spoke, *, at: int) -> None:
    await store.write(
        "UPDATE council_spokes SET reminded_at = ? WHERE room_id = ? AND user_id = ?"
        " AND reminded_at IS NULL",
        (at, spoke.room_id, spoke.user_id),
    )


@dataclass(frozen=True)
class Election:
    poll_id: int
    room_id: RoomID
    user_id: UserID
    asked_by: UserID


async def open_election(
    store: Store, *, poll_id: int, room_id: RoomID, user_id: UserID, asked_by: UserID
) -> None:
    await store.write(
        "INSERT INTO council_elections (poll_id, room_id, user_id, asked_by) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (poll_id) DO NOTHING",
        (poll_id, room_id, user_id, asked_by),
    )


async def open_elections(store: Store) -> list[Election]:
    return await store.find_all(
        lambda row: Election(row[0], RoomID(row[1]), UserID(row[2]), UserID(row[3])),
        "SELECT poll_id, room_id, user_id, asked_by FROM council_elections"
        " WHERE settled_at IS NULL ORDER BY poll_id",
    )


async def settle_election(store: Store, poll_id: int, *, elected: bool, at: int) -> bool:
    rows = await store.write(
        "UPDATE council_elections SET settled_at = ?, elected = ? WHERE poll_id = ?"
        " AND settled_at IS NULL RETURNING poll_id",
        (at, int(elected), poll_id),
    )
    return bool(rows)


async def move_room(store: Store, old: RoomID, new: RoomID) -> None:
    """A room was upgraded: its proposals, seats, spokes and settings follow it."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE council_proposals SET commons_room_id = ? WHERE commons_room_id = ?",
            (new, old),
        )
        await db.execute("UPDATE council_seats SET room_id = ? WHERE room_id = ?", (new, old))
        for table in ("council_rooms", "council_spokes", "council_elections"):
            await db.execute(
                f"UPDATE OR IGNORE {table} SET room_id = ? WHERE room_id = ?", (new, old)
            )


# -- outcomes and reviews ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalOutcome:
    """What a proposal decided, in a sentence, and when the alliance is asked again."""

    proposal_id: int
    text: str
    written_by: UserID
    written_at: int
    review_at: int | None
    reviewed_proposal_id: int | None


_OUTCOME = "proposal_id, text, written_by, written_at, review_at, reviewed_proposal_id"


def _outcome(row: Sequence[Any]) -> ProposalOutcome:
    return ProposalOutcome(int(row[0]), str(row[1]), UserID(row[2]), int(row[3]), row[4], row[5])


async def proposal_outcome(store: Store, proposal_id: int) -> ProposalOutcome | None:
    return await store.find_one(
        _outcome, f"SELECT {_OUTCOME} FROM council_outcomes WHERE proposal_id = ?", (proposal_id,)
    )


async def reviewed_by(store: Store, proposal_id: int) -> ProposalOutcome | None:
    """The outcome whose review `proposal_id` is (the proposal it asks again about)."""
    return await store.find_one(
        _outcome,
        f"SELECT {_OUTCOME} FROM council_outcomes WHERE reviewed_proposal_id = ?",
        (proposal_id,),
    )


async def set_outcome(
    store: Store, proposal_id: int, *, text: str, by: UserID, at: int, review_at: int | None
) -> None:
    """Write (or rewrite) a proposal's outcome; a review already held stays held."""
    async with store.transaction() as db:
        await db.execute(
            f"INSERT INTO council_outcomes ({_OUTCOME}) VALUES (?, ?, ?, ?, ?, NULL)"
            " ON CONFLICT (proposal_id) DO UPDATE SET text = excluded.text,"
            " written_by = excluded.written_by, written_at = excluded.written_at,"
            " review_at = CASE WHEN council_outcomes.reviewed_proposal_id IS NULL"
            " THEN excluded.review_at ELSE council_outcomes.review_at END",
            (proposal_id, text, by, at, review_at),
        )


async def due_reviews(store: Store, now: int) -> list[ProposalOutcome]:
    return await store.find_all(
        _outcome,
        f"SELECT {_OUTCOME} FROM council_outcomes WHERE reviewed_proposal_id IS NULL"
        " AND review_at IS NOT NULL AND review_at <= ? ORDER BY review_at",
        (now,),
    )


async def mark_reviewed(store: Store, proposal_id: int, reviewed_proposal_id: int) -> None:
    """The review is held (`reviewed_proposal_id` 0: there was nothing to ask)."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE council_outcomes SET reviewed_proposal_id = ? WHERE proposal_id = ?"
            " AND reviewed_proposal_id IS NULL",
            (reviewed_proposal_id, proposal_id),
        )
