"""Storage of standing reviews (`commands.alliance.reviews`): each movement room's review
period, what is due to be asked again, and the reviews asked so far.

A review's "since" is the moment its period counts from: when the item got its current
wording or the stance was decided, or when the room was last asked about it, whatever it
answered (a room that said no, or whose poll was removed, is asked again a period later, not
at once). Every row of a review is keyed by what it reviews and its "since", so asking again
after a crash finds the row instead of adding a second one. The tables are made by
`bot/migrations/0017_standing_reviews.sql` and `0018_stance_reviews.sql`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.ids import RoomID
from bot.store import Store
from commands.alliance.store import PollRef, poll_ref

ReviewOutcome = Literal["passed", "not_passed", "withdrawn"]


@dataclass(frozen=True)
class DueItem:
    """An item of a statement whose period has passed."""

    item_id: int
    version: int
    """The version that gave the item its current wording: the one asked about."""
    text: str
    since: int
    agreed_at: int
    agreed: PollRef
    """The poll that agreed the current wording, at `agreed_at`."""

    @property
    def subject(self) -> str:
        return f"item:{self.item_id}:{self.version}:{self.since}"


@dataclass(frozen=True)
class DueStance:
    """A movement's stance on an objective whose period has passed."""

    stance_id: int
    movement_id: int
    movement: str
    alliance: str
    objective_id: int
    number: int
    """The objective's number in its alliance."""
    text: str
    endorsed: bool
    decided_at: int
    since: int
    decided: PollRef
    """The poll that decided the stance."""

    @property
    def subject(self) -> str:
        return f"stance:{self.stance_id}:{self.since}"


@dataclass(frozen=True)
class ItemReview:
    """A poll asking again about an item's wording, until the room is told its outcome."""

    subject: str
    room_id: RoomID
    item_id: int
    version: int
    poll_id: int
    outcome: ReviewOutcome | None


# -- periods --------------------------------------------------------------------------------------


async def review_days(store: Store, room_id: RoomID) -> int:
    """The room's review period in days; 0: off (the default)."""
    row = await store.fetch_one(
        "SELECT review_days FROM room_reviews WHERE room_id = ?", (room_id,)
    )
    return int(row[0]) if row else 0


async def set_review_days(store: Store, room_id: RoomID, days: int, *, by: str, at: int) -> None:
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO room_reviews (room_id, review_days, set_by, set_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (room_id) DO UPDATE SET review_days = excluded.review_days,"
            " set_by = excluded.set_by, set_at = excluded.set_at",
            (room_id, days, by, at),
        )


async def reviewing_rooms(store: Store) -> list[tuple[RoomID, int]]:
    """Every room with a review period, and its period in days."""
    rows = await store.fetch_all(
        "SELECT room_id, review_days FROM room_reviews WHERE review_days > 0 ORDER BY room_id"
    )
    return [(RoomID(r[0]), int(r[1])) for r in rows]


# -- what is due -----------------------------------------------------------------------------------

# Live items whose wording was agreed, or last asked about, before the bound; not while a
# review of that wording or a proposal to change the item is open.
_ITEMS_DUE = (
    "WITH items AS (SELECT i.id, i.changed_version, i.text, v.decided_at, v.poll_id,"
    " v.poll_room_id, v.poll_event_id, MAX(v.decided_at, COALESCE((SELECT MAX(r.decided_at)"
    "  FROM statement_reviews r WHERE r.item_id = i.id AND r.version = i.changed_version), 0))"
    "  AS since"
    " FROM statement_items i JOIN statement_versions v"
    " ON v.room_id = i.room_id AND v.version = i.changed_version"
    " WHERE i.room_id = ? AND i.dropped_version IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM statement_reviews r WHERE r.item_id = i.id"
    "  AND r.version = i.changed_version AND r.outcome IS NULL)"
    " AND NOT EXISTS (SELECT 1 FROM statement_proposals p WHERE p.item_id = i.id"
    "  AND p.outcome IS NULL))"
    " SELECT id, changed_version, text, since, decided_at, poll_id, poll_room_id, poll_event_id"
    " FROM items"
    " WHERE since < ? ORDER BY id"
)


async def items_due(store: Store, room_id: RoomID, *, since_before: int) -> list[DueItem]:
    rows = await store.fetch_all(_ITEMS_DUE, (room_id, since_before))
    return [
        DueItem(
            item_id=int(r[0]),
            version=int(r[1]),
            text=str(r[2]),
            since=int(r[3]),
            agreed_at=int(r[4]),
            agreed=poll_ref(r[5], r[6], r[7]),
        )
        for r in rows
    ]


# The latest stance of each active movement of the room on each objective, decided (not
# pending: a poll on it is open) before the bound, and not asked about since.
_STANCES_DUE = (
    "WITH latest AS (SELECT s.id, s.movement_id, s.objective_id, s.state, s.decided_at,"
    " s.poll_id, s.poll_room_id, s.poll_event_id, m.name AS movement, a.name AS alliance,"
    " MAX(s.decided_at, COALESCE((SELECT MAX(r.opened_at) FROM stance_reviews r"
    "  WHERE r.stance_id = s.id), 0)) AS since"
    " FROM stances s JOIN movements m ON m.id = s.movement_id"
    " JOIN alliances a ON a.id = m.alliance_id"
    " WHERE m.room_id = ? AND m.status = 'active' AND s.state != 'pending'"
    " AND s.id = (SELECT MAX(l.id) FROM stances l WHERE l.movement_id = s.movement_id"
    "  AND l.objective_id = s.objective_id))"
    " SELECT l.id, l.movement_id, l.movement, l.alliance, o.id, o.number, o.text, l.state,"
    " l.decided_at, l.since, l.poll_id, l.poll_room_id, l.poll_event_id"
    " FROM latest l JOIN objectives o ON o.id = l.objective_id"
    " WHERE l.since < ? ORDER BY l.movement_id, o.number"
)


async def stances_due(store: Store, room_id: RoomID, *, since_before: int) -> list[DueStance]:
    rows = await store.fetch_all(_STANCES_DUE, (room_id, since_before))
    return [
        DueStance(
            stance_id=int(r[0]),
            movement_id=int(r[1]),
            movement=str(r[2]),
            alliance=str(r[3]),
            objective_id=int(r[4]),
            number=int(r[5]),
            text=str(r[6]),
            endorsed=r[7] == "endorsed",
            decided_at=int(r[8]),
            since=int(r[9]),
            decided=poll_ref(r[10], r[11], r[12]),
        )
        for r in rows
    ]


# -- reviews asked --------------------------------------------------------------------------------


async def add_item_review(
    store: Store, room_id: RoomID, item: DueItem, *, poll_id: int, opened_at: int
) -> None:
    """The room is being asked again about `item` (a second call changes nothing)."""
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO statement_reviews (subject, room_id, item_id, version, poll_id, opened_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subject) DO NOTHING",
            (item.subject, room_id, item.item_id, item.version, poll_id, opened_at),
        )


async def add_stance_review(
    store: Store, stance: DueStance, *, poll_id: int, opened_at: int
) -> None:
    """The room is being asked again about `stance` (a second call changes nothing)."""
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO stance_reviews (stance_id, since, poll_id, opened_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (stance_id, since) DO NOTHING",
            (stance.stance_id, stance.since, poll_id, opened_at),
        )


async def item_reviews_to_tell(store: Store) -> list[ItemReview]:
    """Reviews of items whose room has not been told the outcome yet (open ones too)."""
    rows = await store.fetch_all(
        "SELECT subject, room_id, item_id, version, poll_id, outcome FROM statement_reviews"
        " WHERE announced = 0 AND poll_id IS NOT NULL ORDER BY opened_at, subject"
    )
    return [
        ItemReview(
            subject=str(r[0]),
            room_id=RoomID(r[1]),
            item_id=int(r[2]),
            version=int(r[3]),
            poll_id=int(r[4]),
            outcome=r[5],
        )
        for r in rows
    ]


async def settle_item_review(
    store: Store, subject: str, outcome: ReviewOutcome, *, decided_at: int
) -> None:
    """Record the outcome (the first one recorded stays); a withdrawn one needs no telling."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE statement_reviews SET outcome = ?, decided_at = ?, announced = ?"
            " WHERE subject = ? AND outcome IS NULL",
            (outcome, decided_at, int(outcome == "withdrawn"), subject),
        )


async def mark_item_review_told(store: Store, subject: str) -> None:
    async with store.transaction() as db:
        await db.execute("UPDATE statement_reviews SET announced = 1 WHERE subject = ?", (subject,))


async def item_now(store: Store, room_id: RoomID, item_id: int) -> tuple[int, int] | None:
    """The item's number in the statement as it reads now and the version of its wording;
    None once dropped."""
    rows = await store.fetch_all(
        "SELECT id, changed_version FROM statement_items"
        " WHERE room_id = ? AND dropped_version IS NULL ORDER BY id",
        (room_id,),
    )
    for number, row in enumerate(rows, start=1):
        if int(row[0]) == item_id:
            return number, int(row[1])
    return None
