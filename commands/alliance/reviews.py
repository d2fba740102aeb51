"""Standing review periods: a movement asks itself again, now and then, whether it still stands
by its words and its endorsements (`!rules set review 1y`, its moderators; default off).

When the period has passed since an item of the statement got its current wording (or was last
reaffirmed), the timer :func:`review_due` opens a decision poll in the room, "Is this still what
we say?", in reply to which it links the poll that agreed it. If it passes, the item is
reaffirmed and its clock starts again; if not, the words stay as they are (nothing is dropped by
silence) and the room is told how to change them. When the period has passed since the
movement decided its stance on an objective, the endorsement is asked again with a new
endorsement poll, through the same machinery as `!endorse`: its result is the movement's stance
from then on, so a review that does not pass withdraws the endorsement (and the room is told).

Exactly once: every poll's key, every notice's and every row's key comes from the item's
wording and the moment it was agreed, or from the stance it reviews. Anything superseded in the
meantime (a newer wording, a newer stance, a poll already open on it, the item dropped) is not
reviewed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from bot.contract import CommandError, Context, Reply, Services, Words, short
from bot.ids import EventID, RoomID, UserID
from bot.store import Store
from commands import polls
from commands.alliance import objectives_store
from commands.alliance.objectives_store import StanceRecord
from commands.alliance.shared import text_of
from commands.alliance.store import PollRef, alliance_by_id, movements_of_room
from commands.links import event_link

log = logging.getLogger(__name__)

DAY_MS: Final = 24 * 3600 * 1000
REVIEW_CHECK_S: Final = 60.0
MIN_DAYS: Final = 30
"""A shorter period would keep a movement voting on the same words all the time."""


# -- storage ------------------------------------------------------------------------------------


async def review_days(store: Store, room_id: RoomID) -> int:
    row = await store.fetch_one(
        "SELECT review_days FROM room_reviews WHERE room_id = ?", (room_id,)
    )
    return int(row[0]) if row else 0


async def _set_review_days(store: Store, room_id: RoomID, days: int, *, by: str, at: int) -> None:
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO room_reviews (room_id, review_days, set_by, set_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (room_id) DO UPDATE SET review_days = excluded.review_days,"
            " set_by = excluded.set_by, set_at = excluded.set_at",
            (room_id, days, by, at),
        )


async def _reviewing_rooms(store: Store) -> list[tuple[RoomID, int]]:
    rows = await store.fetch_all(
        "SELECT room_id, review_days FROM room_reviews WHERE review_days > 0 ORDER BY room_id"
    )
    return [(RoomID(r[0]), int(r[1])) for r in rows]


async def _is_movement(store: Store, room_id: RoomID) -> bool:
    return any(m.status == "active" for m in await movements_of_room(store, room_id))


async def _items_due(store: Store, room_id: RoomID, before: int) -> Sequence[Sequence[Any]]:
    """Live items whose wording was agreed, or last asked about (whatever the answer: a room
    that did not reaffirm its words is asked again a period later, not at once), before
    `before`, with no review of that wording open: (item id, version, text, agreed at, poll
    room, poll event)."""
    return await store.fetch_all(
        "SELECT i.id, i.changed_version, i.text,"
        " MAX(v.decided_at, COALESCE((SELECT MAX(r.decided_at) FROM statement_reviews r"
        "  WHERE r.item_id = i.id AND r.version = i.changed_version),"
        "  0)) AS agreed, v.poll_room_id, v.poll_event_id"
        " FROM statement_items i JOIN statement_versions v"
        " ON v.room_id = i.room_id AND v.version = i.changed_version"
        " WHERE i.room_id = ? AND i.dropped_version IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM statement_reviews r WHERE r.item_id = i.id"
        "  AND r.version = i.changed_version AND r.outcome IS NULL)"
        " AND NOT EXISTS (SELECT 1 FROM statement_proposals p WHERE p.item_id = i.id"
        "  AND p.outcome IS NULL)"
        " GROUP BY i.id HAVING agreed < ? ORDER BY i.id",
        (room_id, before),
    )


# -- `!rules set review 1y|off` ------------------------------------------------------------------


class ReviewSetting:
    """`!rules set review 1y` (or `6m`, `off`), in a movement's room."""

    name: Final = "review"

    async def change(self, ctx: Context, value: str) -> Reply:
        if not any(
            m.status == "active" for m in await movements_of_room(ctx.store, ctx.event.room_id)
        ):
            raise CommandError("alliance.review_not_a_movement")
        typed = " ".join(value.lower().split())
        if typed in ("off", "no", "never", "none"):
            days = 0
        else:
            try:
                days = polls.review_days(typed)
            except CommandError as exc:
                if exc.words.key == "polls.review_too_far":
                    raise
                raise CommandError("alliance.review_is", typed=short(value, 20)) from None
            if days < MIN_DAYS:
                raise CommandError("alliance.review_too_short", least=MIN_DAYS)
        await _set_review_days(
            ctx.store, ctx.event.room_id, days, by=ctx.sender, at=ctx.services.now_ms()
        )
        return Reply("alliance_review_set", {"days": days})

    async def shown(self, services: Services, room_id: RoomID) -> Words | None:
        if not await _is_movement(services.store, room_id):
            return None
        return Words("alliance.review_now", {"days": await review_days(services.store, room_id)})


# -- the timer ------------------------------------------------------------------------------------


async def review_due(services: Services) -> None:
    """Open every review that is due, and tell each room what its statement reviews decided."""
    now = services.now_ms()
    for room_id, days in await _reviewing_rooms(services.store):
        try:
            await _review_room(services, room_id, now - days * DAY_MS, now)
        except Exception:
            log.exception("The standing reviews of a room failed")
    await _settle(services, now)


async def _review_room(services: Services, room_id: RoomID, before: int, now: int) -> None:
    movements = [
        m for m in await movements_of_room(services.store, room_id) if m.status == "active"
    ]
    if not movements:
        return
    for row in await _items_due(services.store, room_id, before):
        await _review_item(services, room_id, row, now)
    for movement in movements:
        alliance = await alliance_by_id(services.store, movement.alliance_id)
        if alliance is None:
            continue
        for objective in await objectives_store.objectives_of(services.store, alliance.id):
            stance = await objectives_store.latest_stance(
                services.store, movement_id=movement.id, objective_id=objective.id
            )
            if stance is None or stance.state == "pending" or stance.decided_at is None:
                continue
            if stance.decided_at < before:
                await _review_stance(services, room_id, movement.name, alliance.name, stance, now)


async def _review_item(services: Services, room_id: RoomID, row: Sequence[Any], now: int) -> None:
    item_id, version, text, agreed, poll_room, poll_event = row
    subject = f"item:{item_id}:{version}:{agreed}"
    number = await _item_number(services.store, room_id, int(item_id))
    poll = await polls.open_consensus_poll(
        services,
        room_id=room_id,
        proposal=text_of(Words("alliance.review_item_question", {"number": number, "text": text})),
        creator=UserID(services.config.user_id),
        txn_key=EventID(f"review:{subject}"),
        closes_at=now + await _decision_s(services, room_id) * 1000,
        decision=True,
    )
    async with services.store.transaction() as db:
        await db.execute(
            "INSERT INTO statement_reviews (subject, room_id, item_id, version, poll_id, opened_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subject) DO NOTHING",
            (subject, room_id, item_id, version, poll.id, now),
        )
    await services.notice(
        room_id,
        Reply(
            "alliance_review_item",
            {
                "number": number,
                "agreed": polls.local_time(int(agreed), services),
                "link": _link(services, poll_room, poll_event),
                "poll": poll.number,
            },
        ),
        txn_key=f"review:{subject}/notice",
        answering=polls.start_event(poll, services),
    )


async def _review_stance(
    services: Services,
    room_id: RoomID,
    movement: str,
    alliance: str,
    stance: StanceRecord,
    now: int,
) -> None:
    objective = await objectives_store.objective_by_id(services.store, stance.objective_id)
    if objective is None:
        return
    key = EventID(f"review:stance:{stance.id}")
    poll = await polls.open_consensus_poll(
        services,
        room_id=room_id,
        proposal=text_of(
            Words(
                "objectives.endorse_question",
                {
                    "movement": movement,
                    "number": objective.number,
                    "alliance": alliance,
                    "text": objective.text,
                },
            )
        ),
        creator=UserID(services.config.user_id),
        txn_key=key,
        closes_at=now + await _decision_s(services, room_id) * 1000,
        decision=True,
    )
    await objectives_store.open_endorsement(
        services.store,
        movement_id=stance.movement_id,
        objective_id=stance.objective_id,
        poll=PollRef(room_id, poll.id, poll.start_event_id),
        opened_at=now,
        command_event_id=key,
    )
    assert stance.decided_at is not None
    await services.notice(
        room_id,
        Reply(
            "alliance_review_stance",
            {
                "number": objective.number,
                "endorsed": stance.state == "endorsed",
                "decided": polls.local_time(stance.decided_at, services),
                "link": _link(services, stance.poll.room_id, stance.poll.event_id),
                "poll": poll.number,
            },
        ),
        txn_key=f"{key}/notice",
        answering=polls.start_event(poll, services),
    )


async def _settle(services: Services, now: int) -> None:
    rows = await services.store.fetch_all(
        "SELECT subject, room_id, item_id, poll_id, outcome FROM statement_reviews"
        " WHERE announced = 0 ORDER BY opened_at"
    )
    for subject, room_id, item_id, poll_id, outcome in rows:
        if outcome is None:
            result = await polls.consensus_result(services.store, int(poll_id))
            if result is None:
                poll = await polls.get_poll(services.store, int(poll_id))
                if poll is not None and not poll.removed:
                    continue  # still open
                outcome, decided_at = "withdrawn", now
            else:
                outcome = "passed" if result.outcome.passed else "not_passed"
                decided_at = result.poll.closed_at or now
            async with services.store.transaction() as db:
                await db.execute(
                    "UPDATE statement_reviews SET outcome = ?, decided_at = ? WHERE subject = ?",
                    (outcome, decided_at, subject),
                )
        if outcome != "withdrawn":
            poll = await polls.get_poll(services.store, int(poll_id))
            await services.notice(
                RoomID(room_id),
                Reply(
                    "alliance_review_decided",
                    {
                        "number": await _item_number(services.store, RoomID(room_id), item_id),
                        "passed": outcome == "passed",
                        "days": await review_days(services.store, RoomID(room_id)),
                    },
                ),
                txn_key=f"review:{subject}/decided",
                answering=None if poll is None else polls.start_event(poll, services),
            )
        async with services.store.transaction() as db:
            await db.execute(
                "UPDATE statement_reviews SET announced = 1 WHERE subject = ?", (subject,)
            )


async def _item_number(store: Store, room_id: RoomID, item_id: int) -> int:
    rows = await store.fetch_all(
        "SELECT id FROM statement_items WHERE room_id = ? AND dropped_version IS NULL ORDER BY id",
        (room_id,),
    )
    ids = [int(r[0]) for r in rows]
    return ids.index(item_id) + 1 if item_id in ids else 0


async def _decision_s(services: Services, room_id: RoomID) -> int:
    """How long the room's polls that decide for the movement stay open (`!rules set deadline`)."""
    return await polls.decision_deadline_s(services.store, room_id)


def _link(services: Services, room_id: str | None, event_id: str | None) -> str | None:
    if not room_id or not event_id:
        return None
    return event_link(room_id, event_id, services.config.server_name)
