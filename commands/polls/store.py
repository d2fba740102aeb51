"""Storage for polls: one small typed query per statement, returning dataclasses.

The tables are made by `bot/migrations/0002_polls.sql`. Other command families may read the
`polls` table (it is stable: id, room_id, number, kind, question, closed_at, result...), but
should go through the functions here or in `commands.polls` rather than write to it.
Times are milliseconds since the epoch, like Matrix's `origin_server_ts`.

Alliance-wide polls (`bot/migrations/0005_alliance_polls.sql`) are a :class:`PollGroup` and
one ordinary poll per room, linked by a :class:`Seat`. The per-poll deadline and announcement
queries leave those polls out: their group closes and announces them all at once. A poll and
an alliance-wide poll are read, closed and given their final tally by the same statements,
each on its own table (`_Table`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, TypeVar

import aiosqlite

from bot.ids import EventID, RoomID, UserID
from bot.store import Store
from commands.polls.tally import Ballot, Tally
from commands.polls.view import UNREADABLE, Answer

PollKind = Literal["straw", "consensus"]
ClosedVia = Literal["command", "deadline", "end_event", "removed"]

_POLL_COLUMNS = (
    "id, room_id, number, kind, question, answers, max_selections, hidden, creator, created_at,"
    " closes_at, closed_at, closed_by, closed_via, close_event_id, rule, command_event_id,"
    " start_event_id, end_event_id, result, announced, removed, decision"
)


@dataclass(frozen=True)
class Poll:
    """A poll as stored. `number` is what people see; `id` is for code."""

    id: int
    room_id: RoomID
    number: int
    kind: PollKind
    question: str
    answers: tuple[Answer, ...]
    max_selections: int
    hidden: bool
    creator: UserID
    created_at: int
    closes_at: int | None
    closed_at: int | None
    closed_by: UserID | None
    closed_via: ClosedVia | None
    close_event_id: EventID | None
    rule: str | None
    command_event_id: EventID
    start_event_id: EventID | None
    end_event_id: EventID | None
    result: Tally | None
    """The tally at the close (members of the room then); None while open."""
    announced: bool
    removed: bool
    decision: bool = False
    """It decides for the movement of its room: it closes at its deadline, and only the room's
    moderators may close it earlier."""

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def answer_ids(self) -> tuple[str, ...]:
        return tuple(answer.id for answer in self.answers)

    def accepts_vote_at(self, ts: int) -> bool:
        """Whether a vote sent at `ts` is in time: the poll is open and its deadline not past."""
        if self.closed_at is not None:
            return False
        return self.closes_at is None or ts <= self.closes_at


@dataclass(frozen=True)
class NewPoll:
    room_id: RoomID
    kind: PollKind
    question: str
    answers: tuple[Answer, ...]
    max_selections: int
    hidden: bool
    creator: UserID
    created_at: int
    closes_at: int | None
    rule: str | None
    command_event_id: EventID
    decision: bool = False


@dataclass(frozen=True)
class NewSeat:
    """Where a new poll sits in an alliance-wide poll: its group and movement (None: commons)."""

    group_id: int
    movement_id: int | None
    movement_name: str | None


@dataclass(frozen=True)
class RoomRule:
    rule: str
    set_by: UserID
    set_at: int


def tally_to_json(result: Tally) -> str:
    return json.dumps(
        {
            "counts": result.counts,
            "voters": result.voters,
            "spoiled": result.spoiled,
            "choices": {sender: list(chosen) for sender, chosen in result.choices.items()},
        }
    )


def tally_from_json(text: str) -> Tally:
    data = json.loads(text)
    return Tally(
        counts={str(k): int(v) for k, v in data["counts"].items()},
        voters=int(data["voters"]),
        spoiled=int(data["spoiled"]),
        choices={str(k): tuple(v) for k, v in data["choices"].items()},
    )


def _poll(row: aiosqlite.Row | Sequence[Any]) -> Poll:
    answers = tuple(Answer(str(a["id"]), str(a["text"])) for a in json.loads(row[5]))
    return Poll(
        id=int(row[0]),
        room_id=RoomID(row[1]),
        number=int(row[2]),
        kind="consensus" if row[3] == "consensus" else "straw",
        question=str(row[4]),
        answers=answers,
        max_selections=int(row[6]),
        hidden=bool(row[7]),
        creator=UserID(row[8]),
        created_at=int(row[9]),
        closes_at=None if row[10] is None else int(row[10]),
        closed_at=None if row[11] is None else int(row[11]),
        closed_by=None if row[12] is None else UserID(row[12]),
        closed_via=row[13],
        close_event_id=None if row[14] is None else EventID(row[14]),
        rule=row[15],
        command_event_id=EventID(row[16]),
        start_event_id=None if row[17] is None else EventID(row[17]),
        end_event_id=None if row[18] is None else EventID(row[18]),
        result=None if row[19] is None else tally_from_json(row[19]),
        announced=bool(row[20]),
        removed=bool(row[21]),
        decision=bool(row[22]),
    )


_Row = TypeVar("_Row")


@dataclass(frozen=True)
class _Table(Generic[_Row]):
    """A table of things that close once and then keep their tally: polls, alliance-wide polls.

    Both tables share the columns `id`, `closed_at`, `closed_via`, `closed_by`,
    `close_event_id`, `result` and `announced`, so one statement serves both.
    """

    name: Literal["polls", "alliance_polls"]
    columns: str
    row: Callable[[Sequence[Any]], _Row]

    async def one(self, store: Store, where: str, params: Sequence[Any]) -> _Row | None:
        return await store.find_one(
            self.row, f"SELECT {self.columns} FROM {self.name} WHERE {where}", params
        )

    async def many(self, store: Store, where: str, params: Sequence[Any]) -> list[_Row]:
        return await store.find_all(
            self.row, f"SELECT {self.columns} FROM {self.name} WHERE {where}", params
        )

    async def close(
        self,
        store: Store,
        row_id: int,
        *,
        closed_at: int,
        via: ClosedVia,
        closed_by: UserID | None = None,
        close_event_id: EventID | None = None,
    ) -> bool:
        """Close an open row; False if it was closed already. A removal needs no announcing."""
        async with store.transaction() as db:
            cursor = await db.execute(
                f"UPDATE {self.name} SET closed_at = ?, closed_via = ?, closed_by = ?,"
                " close_event_id = ?, announced = ? WHERE id = ? AND closed_at IS NULL",
                (closed_at, via, closed_by, close_event_id, int(via == "removed"), row_id),
            )
            return cursor.rowcount == 1

    async def save_result(self, store: Store, row_id: int, result: Tally) -> None:
        """Keep the tally at the close; the first one kept stays."""
        async with store.transaction() as db:
            await db.execute(
                f"UPDATE {self.name} SET result = ? WHERE id = ? AND result IS NULL",
                (tally_to_json(result), row_id),
            )


_POLLS: Final = _Table("polls", _POLL_COLUMNS, _poll)

_DUE = "closed_at IS NULL AND closes_at IS NOT NULL AND closes_at <= ?"
_UNANNOUNCED = (
    "closed_at IS NOT NULL AND announced = 0 AND (closed_via != 'command' OR closed_at < ?)"
)


# -- polls -----------------------------------------------------------------------------------


async def create_poll(store: Store, new: NewPoll, *, seat: NewSeat | None = None) -> Poll:
    """Add a poll with the room's next number; a second call for the same command finds it.

    With `seat`, the poll is one room's copy of an alliance-wide poll, linked in the same
    transaction.
    """
    answers = json.dumps([{"id": a.id, "text": a.text} for a in new.answers])
    async with store.transaction() as db:
        await db.execute(
            "INSERT OR IGNORE INTO polls (room_id, number, kind, question, answers,"
            " max_selections, hidden, creator, created_at, closes_at, rule, command_event_id,"
            " decision)"
            " VALUES (?, (SELECT COALESCE(MAX(number), 0) + 1 FROM polls WHERE room_id = ?),"
            " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.room_id,
                new.room_id,
                new.kind,
                new.question,
                answers,
                new.max_selections,
                int(new.hidden),
                new.creator,
                new.created_at,
                new.closes_at,
                new.rule,
                new.command_event_id,
                int(new.decision),
            ),
        )
        if seat is not None:
            await db.execute(
                "INSERT OR IGNORE INTO alliance_poll_rooms (group_id, poll_id, room_id,"
                " movement_id, movement_name) SELECT ?, id, room_id, ?, ? FROM polls"
                " WHERE command_event_id = ?",
                (seat.group_id, seat.movement_id, seat.movement_name, new.command_event_id),
            )
    poll = await _POLLS.one(store, "command_event_id = ?", (new.command_event_id,))
    assert poll is not None
    return poll


async def set_start_event(store: Store, poll_id: int, event_id: EventID) -> None:
    async with store.transaction() as db:
        await db.execute("UPDATE polls SET start_event_id = ? WHERE id = ?", (event_id, poll_id))


async def forget_unsent_poll(store: Store, poll_id: int) -> None:
    """Drop a poll whose start event could not be sent (so it never appears in lists)."""
    async with store.transaction() as db:
        await db.execute(
            "DELETE FROM alliance_poll_rooms WHERE poll_id IN"
            " (SELECT id FROM polls WHERE id = ? AND start_event_id IS NULL)",
            (poll_id,),
        )
        await db.execute("DELETE FROM polls WHERE id = ? AND start_event_id IS NULL", (poll_id,))


async def get_poll(store: Store, poll_id: int) -> Poll | None:
    return await _POLLS.one(store, "id = ?", (poll_id,))


async def settled_among(store: Store, poll_ids: Collection[int]) -> set[int]:
    """Of these polls, those closed with their tally kept or taken back (one query)."""
    ids = sorted(set(poll_ids))
    if not ids:
        return set()
    rows = await store.fetch_all(
        f"SELECT id FROM polls WHERE id IN ({', '.join('?' * len(ids))})"
        " AND (result IS NOT NULL OR removed = 1)",
        ids,
    )
    return {int(row[0]) for row in rows}


async def poll_by_number(store: Store, room_id: RoomID, number: int) -> Poll | None:
    return await _POLLS.one(
        store,
        "room_id = ? AND number = ? AND start_event_id IS NOT NULL AND removed = 0",
        (room_id, number),
    )


async def poll_by_start(store: Store, room_id: RoomID, event_id: str) -> Poll | None:
    """The poll whose native start event is `event_id`."""
    return await _POLLS.one(store, "room_id = ? AND start_event_id = ?", (room_id, event_id))


async def poll_closed_by(store: Store, event_id: str) -> Poll | None:
    """The poll that the `!poll close` command or end event `event_id` closed, if any."""
    return await _POLLS.one(store, "close_event_id = ?", (event_id,))


async def latest_poll(
    store: Store, room_id: RoomID, *, open_only: bool, kind: PollKind | None = None
) -> Poll | None:
    where = "room_id = ? AND start_event_id IS NOT NULL AND removed = 0"
    params: list[Any] = [room_id]
    if open_only:
        where += " AND closed_at IS NULL"
    if kind is not None:
        where += " AND kind = ?"
        params.append(kind)
    return await _POLLS.one(store, where + " ORDER BY number DESC LIMIT 1", params)


async def open_polls(store: Store, room_id: RoomID, *, kind: PollKind | None = None) -> list[Poll]:
    where = "room_id = ? AND start_event_id IS NOT NULL AND removed = 0 AND closed_at IS NULL"
    params: list[Any] = [room_id]
    if kind is not None:
        where += " AND kind = ?"
        params.append(kind)
    return await _POLLS.many(store, where + " ORDER BY number", params)


async def recent_polls(
    store: Store, room_id: RoomID, *, closed_since: int, limit: int
) -> list[Poll]:
    """Open polls and those closed since `closed_since`, newest first."""
    return await _POLLS.many(
        store,
        "room_id = ? AND start_event_id IS NOT NULL AND removed = 0"
        " AND (closed_at IS NULL OR closed_at >= ?) ORDER BY number DESC LIMIT ?",
        (room_id, closed_since, limit),
    )


_NOT_IN_A_GROUP = "id NOT IN (SELECT poll_id FROM alliance_poll_rooms)"


async def due_polls(store: Store, now: int) -> list[Poll]:
    """Open polls whose deadline has passed (not alliance-wide ones: see :func:`due_groups`)."""
    return await _POLLS.many(
        store,
        f"{_DUE} AND start_event_id IS NOT NULL AND {_NOT_IN_A_GROUP} ORDER BY closes_at",
        (now,),
    )


async def decided_polls(store: Store, *, kind: PollKind, after_id: int = 0) -> list[Poll]:
    """Closed polls whose tally is kept (their outcome is final), by id, after `after_id`."""
    return await _POLLS.many(
        store,
        "kind = ? AND id > ? AND result IS NOT NULL AND removed = 0 ORDER BY id",
        (kind, after_id),
    )


async def unannounced_polls(store: Store, *, commands_closed_before: int) -> list[Poll]:
    """Closed polls whose close was not told to the room yet.

    A poll closed by `!poll close` is announced by that command's answer; it is listed here
    only when it closed before `commands_closed_before` (the command must have failed).
    Alliance-wide polls are announced by their group (:func:`unannounced_groups`).
    """
    return await _POLLS.many(
        store, f"{_UNANNOUNCED} AND {_NOT_IN_A_GROUP} ORDER BY closed_at", (commands_closed_before,)
    )


close_poll: Final = _POLLS.close
"""Close an open poll; False if it was closed already (someone else got there first).

`close_poll(store, poll_id, *, closed_at, via, closed_by=None, close_event_id=None)`
"""

save_result: Final = _POLLS.save_result
"""Keep a poll's tally at its close; the first one kept stays.

`save_result(store, poll_id, result)`
"""


async def set_end_event(store: Store, poll_id: int, event_id: EventID) -> None:
    async with store.transaction() as db:
        await db.execute("UPDATE polls SET end_event_id = ? WHERE id = ?", (event_id, poll_id))


async def mark_announced(store: Store, poll_id: int) -> None:
    async with store.transaction() as db:
        await db.execute("UPDATE polls SET announced = 1 WHERE id = ?", (poll_id,))


# -- alliance-wide polls -----------------------------------------------------------------------

_GROUP_COLUMNS = (
    "id, alliance_id, commons_room_id, creator, created_at, closes_at, hidden, command_event_id,"
    " closed_at, closed_by, closed_via, close_event_id, result, announced"
)


@dataclass(frozen=True)
class PollGroup:
    """An alliance-wide poll: the same poll in the commons and in each movement room."""

    id: int
    alliance_id: int
    commons_room_id: RoomID
    creator: UserID
    created_at: int
    closes_at: int | None
    hidden: bool
    command_event_id: EventID
    closed_at: int | None
    closed_by: UserID | None
    closed_via: ClosedVia | None
    close_event_id: EventID | None
    result: Tally | None
    """The tally by person across the rooms, kept at the close; None while open."""
    announced: bool

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class NewGroup:
    alliance_id: int
    commons_room_id: RoomID
    creator: UserID
    created_at: int
    closes_at: int | None
    hidden: bool
    command_event_id: EventID


@dataclass(frozen=True)
class Seat:
    """One room's poll in an alliance-wide poll."""

    group_id: int
    poll: Poll
    movement_id: int | None
    movement_name: str | None
    """The movement's name when the poll opened; None for the commons."""

    @property
    def is_commons(self) -> bool:
        return self.movement_id is None


def _group(row: Sequence[Any]) -> PollGroup:
    return PollGroup(
        id=int(row[0]),
        alliance_id=int(row[1]),
        commons_room_id=RoomID(row[2]),
        creator=UserID(row[3]),
        created_at=int(row[4]),
        closes_at=None if row[5] is None else int(row[5]),
        hidden=bool(row[6]),
        command_event_id=EventID(row[7]),
        closed_at=None if row[8] is None else int(row[8]),
        closed_by=None if row[9] is None else UserID(row[9]),
        closed_via=row[10],
        close_event_id=None if row[11] is None else EventID(row[11]),
        result=None if row[12] is None else tally_from_json(row[12]),
        announced=bool(row[13]),
    )


_GROUPS: Final = _Table("alliance_polls", _GROUP_COLUMNS, _group)


async def create_group(store: Store, new: NewGroup) -> PollGroup:
    """Add an alliance-wide poll; a second call for the same command finds the first."""
    async with store.transaction() as db:
        await db.execute(
            "INSERT OR IGNORE INTO alliance_polls (alliance_id, commons_room_id, creator,"
            " created_at, closes_at, hidden, command_event_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                new.alliance_id,
                new.commons_room_id,
                new.creator,
                new.created_at,
                new.closes_at,
                int(new.hidden),
                new.command_event_id,
            ),
        )
    group = await _GROUPS.one(store, "command_event_id = ?", (new.command_event_id,))
    assert group is not None
    return group


async def forget_empty_group(store: Store, group_id: int) -> None:
    """Drop an alliance-wide poll that has no room's poll (its commons poll was refused)."""
    async with store.transaction() as db:
        await db.execute(
            "DELETE FROM alliance_polls WHERE id = ? AND NOT EXISTS"
            " (SELECT 1 FROM alliance_poll_rooms WHERE group_id = ?)",
            (group_id, group_id),
        )


async def get_group(store: Store, group_id: int) -> PollGroup | None:
    return await _GROUPS.one(store, "id = ?", (group_id,))


async def group_of(store: Store, poll_id: int) -> PollGroup | None:
    """The alliance-wide poll this poll is one room's copy of, if any."""
    return await _GROUPS.one(
        store, "id = (SELECT group_id FROM alliance_poll_rooms WHERE poll_id = ?)", (poll_id,)
    )


async def group_closed_by(store: Store, event_id: str) -> PollGroup | None:
    """The alliance-wide poll that the `!poll close` command `event_id` closed, if any."""
    return await _GROUPS.one(store, "close_event_id = ?", (event_id,))


async def seats(store: Store, group_id: int) -> list[Seat]:
    """Every room's poll of the group that was posted: by movement name, the commons last."""
    rows = await store.fetch_all(
        "SELECT s.group_id, s.movement_id, s.movement_name,"
        f" {', '.join('p.' + c.strip() for c in _POLL_COLUMNS.split(','))}"
        " FROM alliance_poll_rooms s JOIN polls p ON p.id = s.poll_id"
        " WHERE s.group_id = ? AND p.start_event_id IS NOT NULL"
        " ORDER BY s.movement_id IS NULL, s.movement_name COLLATE NOCASE, p.id",
        (group_id,),
    )
    return [
        Seat(
            group_id=int(row[0]),
            poll=_poll(row[3:]),
            movement_id=None if row[1] is None else int(row[1]),
            movement_name=None if row[2] is None else str(row[2]),
        )
        for row in rows
    ]


async def grouped_poll_ids(store: Store, poll_ids: Sequence[int]) -> set[int]:
    """Which of these polls are rooms' copies of an alliance-wide poll."""
    if not poll_ids:
        return set()
    marks = ", ".join("?" for _ in poll_ids)
    rows = await store.fetch_all(
        f"SELECT poll_id FROM alliance_poll_rooms WHERE poll_id IN ({marks})", list(poll_ids)
    )
    return {int(row[0]) for row in rows}


close_group: Final = _GROUPS.close
"""Close an open alliance-wide poll (not yet its rooms' polls); False if already closed.

`close_group(store, group_id, *, closed_at, via, closed_by=None, close_event_id=None)`
"""

save_group_result: Final = _GROUPS.save_result
"""Keep an alliance-wide poll's overall tally at its close; the first one kept stays.

`save_group_result(store, group_id, result)`
"""


async def mark_group_announced(store: Store, group_id: int) -> None:
    """The close was told everywhere: the group and each room's poll."""
    async with store.transaction() as db:
        await db.execute("UPDATE alliance_polls SET announced = 1 WHERE id = ?", (group_id,))
        await db.execute(
            "UPDATE polls SET announced = 1 WHERE id IN"
            " (SELECT poll_id FROM alliance_poll_rooms WHERE group_id = ?)",
            (group_id,),
        )


async def due_groups(store: Store, now: int) -> list[PollGroup]:
    """Open alliance-wide polls whose deadline has passed."""
    return await _GROUPS.many(store, f"{_DUE} ORDER BY closes_at", (now,))


async def unannounced_groups(store: Store, *, commands_closed_before: int) -> list[PollGroup]:
    """Closed alliance-wide polls whose close was not told yet (as :func:`unannounced_polls`)."""
    return await _GROUPS.many(
        store, f"{_UNANNOUNCED} ORDER BY closed_at", (commands_closed_before,)
    )


# -- responses -------------------------------------------------------------------------------


async def add_response(
    store: Store,
    *,
    event_id: EventID,
    poll_id: int,
    sender: UserID,
    answers: Sequence[str] | None,
    ts: int,
    via: Literal["poll", "text"],
) -> None:
    """Keep a response (None: unreadable, it spoils). The same event is kept once."""
    async with store.transaction() as db:
        await db.execute(
            "INSERT OR IGNORE INTO poll_responses (event_id, poll_id, sender, answers, ts, via)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                event_id,
                poll_id,
                sender,
                None if answers is None else json.dumps(list(answers)),
                ts,
                via,
            ),
        )


def _ballots(rows: Sequence[Sequence[Any]]) -> list[Ballot]:
    """Response rows (event_id, sender, answers, ts) as the tally reads them.

    A poll's responses repeat a handful of answer lists: each distinct one is parsed once.
    """
    parsed: dict[str | None, tuple[str, ...]] = {None: (UNREADABLE,)}
    made = []
    for event_id, sender, answers, ts in rows:
        chosen = parsed.get(answers)
        if chosen is None:
            chosen = parsed[answers] = tuple(json.loads(answers))
        made.append(Ballot(event_id=str(event_id), sender=str(sender), answers=chosen, ts=int(ts)))
    return made


async def ballots(store: Store, poll_id: int) -> list[Ballot]:
    """The poll's responses that were not redacted, in the order they were sent."""
    rows = await store.fetch_all(
        "SELECT event_id, sender, answers, ts FROM poll_responses"
        " WHERE poll_id = ? AND redacted = 0 ORDER BY ts, rowid",
        (poll_id,),
    )
    return _ballots(rows)


async def latest_ballots(store: Store, poll_id: int, *, closed_at: int | None) -> list[Ballot]:
    """Each voter's latest response made by `closed_at`: exactly what `tally` would count.

    The choice is made in SQL, so a poll of 10,000 responses from 2,000 voters reads 2,000
    rows instead of 10,000 (the tally of a big poll spends its time building rows). Ties on
    `ts` go to the later stored response, as in `tally`.
    """
    rows = await store.fetch_all(
        "SELECT event_id, sender, answers, ts FROM poll_responses AS r"
        " WHERE poll_id = ?1 AND redacted = 0 AND (?2 IS NULL OR ts <= ?2)"
        " AND NOT EXISTS (SELECT 1 FROM poll_responses AS newer"  # poll_responses_voter
        " WHERE newer.poll_id = ?1 AND newer.sender = r.sender AND newer.redacted = 0"
        " AND (?2 IS NULL OR newer.ts <= ?2)"
        " AND (newer.ts > r.ts OR (newer.ts = r.ts AND newer.rowid > r.rowid)))"
        " ORDER BY ts, rowid",
        (poll_id, closed_at),
    )
    return _ballots(rows)


# -- reasons ---------------------------------------------------------------------------------


async def add_reason(
    store: Store, *, event_id: EventID, poll_id: int, sender: UserID, reason: str, ts: int
) -> None:
    async with store.transaction() as db:
        await db.execute(
            "INSERT OR IGNORE INTO poll_reasons (event_id, poll_id, sender, reason, ts)"
            " VALUES (?, ?, ?, ?, ?)",
            (event_id, poll_id, sender, reason, ts),
        )


async def reasons(store: Store, poll_id: int) -> dict[str, str]:
    """Each person's latest reason that was not redacted."""
    rows = await store.fetch_all(
        "SELECT sender, reason FROM poll_reasons WHERE poll_id = ? AND redacted = 0"
        " ORDER BY ts, rowid",
        (poll_id,),
    )
    return {str(row[0]): str(row[1]) for row in rows}


async def was_asked_for_reason(store: Store, poll_id: int, sender: str) -> bool:
    row = await store.fetch_one(
        "SELECT 1 FROM poll_reason_requests WHERE poll_id = ? AND sender = ?", (poll_id, sender)
    )
    return row is not None


async def mark_asked_for_reason(store: Store, poll_id: int, sender: str) -> None:
    async with store.transaction() as db:
        await db.execute(
            "INSERT OR IGNORE INTO poll_reason_requests (poll_id, sender) VALUES (?, ?)",
            (poll_id, sender),
        )


# -- redactions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedactionTarget:
    """What a redacted event was to the polls of its room, and who sent it."""

    kind: Literal["response", "reason", "start"]
    event_id: EventID
    sender: UserID
    """The response's or reason's voter; for a poll's start, the bot that sent it."""


async def withdraw(
    store: Store, poll_id: int, *, at: int, by: UserID, command_event_id: EventID
) -> bool:
    """Withdraw an open poll: closed and removed, so it decides nothing; False if it was closed
    already. The command is kept as the close's event, so running it again is recognised."""
    async with store.transaction() as db:
        cursor = await db.execute(
            "UPDATE polls SET closed_at = ?, closed_via = 'removed', closed_by = ?,"
            " close_event_id = ?, announced = 1, removed = 1 WHERE id = ? AND closed_at IS NULL",
            (at, by, command_event_id, poll_id),
        )
        return cursor.rowcount == 1


async def redaction_target(
    store: Store, *, room_id: RoomID, event_id: EventID
) -> RedactionTarget | None:
    """The vote, reason or poll start `event_id` is in `room_id`, if it is one (in one trip)."""
    row = await store.fetch_one(
        "SELECT 'response', r.sender FROM poll_responses r JOIN polls p ON p.id = r.poll_id"
        " WHERE r.event_id = ? AND p.room_id = ?"
        " UNION ALL SELECT 'reason', r.sender FROM poll_reasons r JOIN polls p ON p.id = r.poll_id"
        " WHERE r.event_id = ? AND p.room_id = ?"
        " UNION ALL SELECT 'start', '' FROM polls WHERE start_event_id = ? AND room_id = ?"
        " LIMIT 1",
        (event_id, room_id) * 3,
    )
    if row is None:
        return None
    kind: Literal["response", "reason", "start"] = row[0]
    return RedactionTarget(kind, event_id, UserID(str(row[1])))


async def redact(store: Store, target: RedactionTarget) -> Poll | None:
    """Forget a redacted response or reason. Returns the poll if the target was its start."""
    table, column, flag = {
        "response": ("poll_responses", "event_id", "redacted"),
        "reason": ("poll_reasons", "event_id", "redacted"),
        "start": ("polls", "start_event_id", "removed"),
    }[target.kind]
    async with store.transaction() as db:
        await db.execute(f"UPDATE {table} SET {flag} = 1 WHERE {column} = ?", (target.event_id,))
    if target.kind != "start":
        return None
    return await _POLLS.one(store, "start_event_id = ?", (target.event_id,))


# -- decision rules --------------------------------------------------------------------------


async def room_rule(store: Store, room_id: RoomID) -> RoomRule | None:
    row = await store.fetch_one(
        "SELECT rule, set_by, set_at FROM room_rules WHERE room_id = ?", (room_id,)
    )
    return None if row is None else RoomRule(str(row[0]), UserID(row[1]), int(row[2]))


async def set_room_rule(
    store: Store, room_id: RoomID, *, rule: str, set_by: UserID, set_at: int
) -> None:
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO room_rules (room_id, rule, set_by, set_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (room_id) DO UPDATE SET rule = excluded.rule,"
            " set_by = excluded.set_by, set_at = excluded.set_at",
            (room_id, rule, set_by, set_at),
        )


# -- how long decision polls stay open ----------------------------------------------------------


async def room_deadline(store: Store, room_id: RoomID) -> int | None:
    """The seconds a room's decision polls stay open, if its moderators set it."""
    row = await store.fetch_one("SELECT seconds FROM room_deadlines WHERE room_id = ?", (room_id,))
    return None if row is None else int(row[0])


async def set_room_deadline(
    store: Store, room_id: RoomID, *, seconds: int, set_by: UserID, set_at: int
) -> None:
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO room_deadlines (room_id, seconds, set_by, set_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (room_id) DO UPDATE SET seconds = excluded.seconds,"
            " set_by = excluded.set_by, set_at = excluded.set_at",
            (room_id, seconds, set_by, set_at),
        )


# -- reminders -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomReminder:
    """A room's reminder setting: seconds before a poll closes (None: the default; 0: off),
    and whether it mentions those who have not voted."""

    before_s: int | None = None
    mention: bool = False


async def room_reminder(store: Store, room_id: RoomID) -> RoomReminder:
    row = await store.fetch_one(
        "SELECT before_s, mention FROM room_reminders WHERE room_id = ?", (room_id,)
    )
    if row is None:
        return RoomReminder()
    return RoomReminder(None if row[0] is None else int(row[0]), bool(row[1]))


async def set_room_reminder(
    store: Store,
    room_id: RoomID,
    *,
    before_s: int | None = None,
    mention: bool | None = None,
    set_by: UserID,
    set_at: int,
) -> None:
    """Change the room's reminder setting; what is None stays as it was."""
    await store.write(
        "INSERT INTO room_reminders (room_id, before_s, mention, set_by, set_at)"
        " VALUES (?, ?, COALESCE(?, 0), ?, ?)"
        " ON CONFLICT (room_id) DO UPDATE SET"
        " before_s = COALESCE(excluded.before_s, room_reminders.before_s),"
        " mention = COALESCE(?, room_reminders.mention),"
        " set_by = excluded.set_by, set_at = excluded.set_at",
        (
            room_id,
            before_s,
            None if mention is None else int(mention),
            set_by,
            set_at,
            None if mention is None else int(mention),
        ),
    )


async def due_reminders(store: Store, now: int, *, default_before_s: int) -> list[Poll]:
    """Open polls whose reminder is due: their room's reminder time before the close has come,
    they were not reminded of yet, and they run longer than that time (a poll that closes
    within it was only just posted)."""
    before = f"COALESCE(r.before_s, {int(default_before_s)}) * 1000"
    columns = ", ".join(f"p.{c.strip()}" for c in _POLL_COLUMNS.split(","))
    return await store.find_all(
        _poll,
        f"SELECT {columns} FROM polls p LEFT JOIN room_reminders r ON r.room_id = p.room_id"
        " WHERE p.closed_at IS NULL AND p.removed = 0 AND p.reminded_at IS NULL"
        " AND p.start_event_id IS NOT NULL AND p.closes_at IS NOT NULL"
        f" AND COALESCE(r.before_s, 1) != 0 AND p.closes_at - {before} <= ?"
        f" AND p.closes_at - p.created_at > {before} AND p.closes_at > ?"
        " ORDER BY p.closes_at",
        (now, now),
    )


async def mark_reminded(store: Store, poll_id: int, *, at: int) -> None:
    await store.write(
        "UPDATE polls SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL", (at, poll_id)
    )


# -- outcomes and reviews ---------------------------------------------------------------------


@dataclass(frozen=True)
class PollOutcome:
    poll_id: int
    text: str
    written_by: UserID
    written_at: int
    review_at: int | None
    reviewed_poll_id: int | None


_OUTCOME = "poll_id, text, written_by, written_at, review_at, reviewed_poll_id"


def _outcome(row: Sequence[Any]) -> PollOutcome:
    return PollOutcome(int(row[0]), str(row[1]), UserID(row[2]), int(row[3]), row[4], row[5])


async def poll_outcome(store: Store, poll_id: int) -> PollOutcome | None:
    return await store.find_one(
        _outcome, f"SELECT {_OUTCOME} FROM poll_outcomes WHERE poll_id = ?", (poll_id,)
    )


async def set_outcome(
    store: Store, poll_id: int, *, text: str, by: UserID, at: int, review_at: int | None
) -> None:
    """Write (or rewrite) a poll's outcome; a review already held stays held."""
    await store.write(
        f"INSERT INTO poll_outcomes ({_OUTCOME}) VALUES (?, ?, ?, ?, ?, NULL)"
        " ON CONFLICT (poll_id) DO UPDATE SET text = excluded.text,"
        " written_by = excluded.written_by, written_at = excluded.written_at,"
        " review_at = CASE WHEN poll_outcomes.reviewed_poll_id IS NULL"
        " THEN excluded.review_at ELSE poll_outcomes.review_at END",
        (poll_id, text, by, at, review_at),
    )


async def due_reviews(store: Store, now: int) -> list[PollOutcome]:
    return await store.find_all(
        _outcome,
        f"SELECT {_OUTCOME} FROM poll_outcomes"
        " WHERE reviewed_poll_id IS NULL AND review_at IS NOT NULL AND review_at <= ?"
        " ORDER BY review_at",
        (now,),
    )


async def mark_reviewed(store: Store, poll_id: int, reviewed_poll_id: int) -> None:
    await store.write(
        "UPDATE poll_outcomes SET reviewed_poll_id = ? WHERE poll_id = ?"
        " AND reviewed_poll_id IS NULL",
        (reviewed_poll_id, poll_id),
    )


async def move_room_rules(store: Store, old: RoomID, new: RoomID) -> None:
    """A room was upgraded: its decision rule, deadline and reminders hold in its replacement
    (unless that room set its own already)."""
    async with store.transaction() as db:
        for table in ("room_rules", "room_deadlines", "room_reminders"):
            await db.execute(
                f"UPDATE OR IGNORE {table} SET room_id = ? WHERE room_id = ?", (new, old)
            )


async def polls_withdrawn_by(store: Store, close_event_id: EventID) -> list[Poll]:
    """The polls withdrawn by this close (a command, or a room upgrade), by number."""
    return await _POLLS.many(
        store, "close_event_id = ? AND closed_via = 'removed' ORDER BY number", [close_event_id]
    )
