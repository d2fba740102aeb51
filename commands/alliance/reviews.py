"""Standing review periods: a movement asks itself again, now and then, whether it still stands
by its words and its endorsements (`!rules set review 1y`, its moderators; default off).

When the period has passed since an item of the statement got its current wording (or the
room was last asked about it), the timer :func:`review_due` opens a decision poll in the room,
"Still what we say?", in reply to which it links the poll that agreed it. If it passes, the
item is reaffirmed and its clock starts again; if not, the words stay as they are (nothing is
dropped by silence) and the room is told how to change them. When the period has passed since
the movement decided its stance on an objective, the stance is asked again with a new
endorsement poll, through the same machinery as `!endorse`: its result is the movement's
stance from then on, so a review of an endorsement that does not pass withdraws it (the room
is told by `commands.alliance.decisions`, as for any endorsement poll).

Asked once: a review's poll, its notices and its row are keyed by what it reviews and the
moment its period counted from (`commands.alliance.reviews_store`), and the row, written
last, marks it asked; run again after a crash, the timer finds the same poll and the
homeserver the same notice. Anything superseded in the meantime (a newer wording, a newer
stance, a poll already open on it, the item dropped, the movement gone from its alliance) is
not asked about; a review whose words were changed while it ran says so, and nothing more.
Changing the period moves every next date, counted from the stored times.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

from bot.contract import CommandError, Context, Reply, Services, Words, short
from bot.ids import EventID, RoomID, UserID
from commands import polls
from commands.alliance import objectives_store, reviews_store
from commands.alliance.reviews_store import DueItem, DueStance, ItemReview
from commands.alliance.store import PollRef, movements_of_room
from commands.links import event_link

log = logging.getLogger(__name__)

DAY_MS: Final = 24 * 3600 * 1000
REVIEW_CHECK_S: Final = 60.0
MIN_DAYS: Final = 30
"""A shorter period would keep a movement voting on the same words all the time."""
OFF: Final = frozenset({"off", "no", "never", "none"})
_NOUGHT: Final = re.compile(r"0+\s*[dwmy]")


async def _is_movement(services: Services, room_id: RoomID) -> bool:
    return any(m.status == "active" for m in await movements_of_room(services.store, room_id))


# -- `!rules set review 1y|off` ------------------------------------------------------------------


def period_days(value: str) -> int:
    """`1y` as 365 days (`6m`, `8w`, `90d`: as `!outcome --review` reads them), at least
    :data:`MIN_DAYS`; `off` as 0. Raises `CommandError` saying what to type instead."""
    typed = " ".join(value.lower().split())
    if typed in OFF:
        return 0
    if not typed:
        raise CommandError("alliance.review_is", typed="")
    if _NOUGHT.fullmatch(typed):
        raise CommandError("alliance.review_too_short", least=MIN_DAYS)
    try:
        days = polls.review_days(typed)
    except CommandError as exc:
        if exc.words.key == "polls.review_too_far":
            raise CommandError("alliance.review_too_long", typed=short(value, 20)) from None
        raise CommandError("alliance.review_is", typed=short(value, 20)) from None
    if days < MIN_DAYS:
        raise CommandError("alliance.review_too_short", least=MIN_DAYS)
    return days


class ReviewSetting:
    """`!rules set review 1y` (or `6m`, `off`), in a movement's room."""

    name: Final = "review"

    async def change(self, ctx: Context, value: str) -> Reply:
        room_id = ctx.event.room_id
        if not await _is_movement(ctx.services, room_id):
            raise CommandError("alliance.review_not_a_movement")
        days = period_days(value)
        now = ctx.services.now_ms()
        await reviews_store.set_review_days(ctx.store, room_id, days, by=ctx.sender, at=now)
        first = await _first_due(ctx.services, room_id, days)
        return Reply(
            "alliance_review_set",
            {
                "days": days,
                "first": None if first is None or first <= now else polls.local_time(first, ctx),
                "due": first is not None and first <= now,
            },
        )

    async def shown(self, services: Services, room_id: RoomID) -> Words | None:
        if not await _is_movement(services, room_id):
            return None
        days = await reviews_store.review_days(services.store, room_id)
        return Words("alliance.review_now", {"days": days})


async def _first_due(services: Services, room_id: RoomID, days: int) -> int | None:
    """When the room is first asked again with this period; None if never (off, or nothing
    to ask about yet)."""
    if not days:
        return None
    unbounded = 2**62
    items = await reviews_store.items_due(services.store, room_id, since_before=unbounded)
    stances = await reviews_store.stances_due(services.store, room_id, since_before=unbounded)
    since = [i.since for i in items] + [s.since for s in stances]
    return min(since) + days * DAY_MS if since else None


# -- the timer ------------------------------------------------------------------------------------


async def review_due(services: Services) -> None:
    """Ask again about everything whose period has passed, and tell each room what the
    reviews of its statement decided."""
    now = services.now_ms()
    for room_id, days in await reviews_store.reviewing_rooms(services.store):
        try:
            await _review_room(services, room_id, before=now - days * DAY_MS, now=now)
        except Exception:
            log.exception("The standing reviews of a room failed")
    for review in await reviews_store.item_reviews_to_tell(services.store):
        await _settle_item_review(services, review, now)


async def _review_room(services: Services, room_id: RoomID, *, before: int, now: int) -> None:
    if not await _is_movement(services, room_id):
        return  # no longer a movement (its stances are not due either)
    for item in await reviews_store.items_due(services.store, room_id, since_before=before):
        await _ask_about_item(services, room_id, item, now)
    for stance in await reviews_store.stances_due(services.store, room_id, since_before=before):
        await _ask_about_stance(services, room_id, stance, now)


async def _ask_about_item(services: Services, room_id: RoomID, item: DueItem, now: int) -> None:
    key = f"review:{item.subject}"
    found = await reviews_store.item_now(services.store, room_id, item.item_id)
    number = found[0] if found else 0
    poll = await polls.open_consensus_poll(
        services,
        room_id=room_id,
        proposal=services.say(
            room_id, Words("alliance.review_item_question", {"number": number, "text": item.text})
        ),
        creator=UserID(services.config.user_id),
        txn_key=EventID(key),
        closes_at=now + await polls.decision_deadline_s(services.store, room_id) * 1000,
        decision=True,
    )
    await services.notice(
        room_id,
        Reply(
            "alliance_review_item",
            {
                "number": number,
                "agreed": polls.local_time(item.agreed_at, services),
                "link": _link(services, item.agreed),
                "poll": poll.number,
            },
        ),
        txn_key=f"{key}/notice",
        answering=polls.start_event(poll, services),
    )
    await reviews_store.add_item_review(
        services.store, room_id, item, poll_id=poll.id, opened_at=now
    )


async def _ask_about_stance(
    services: Services, room_id: RoomID, stance: DueStance, now: int
) -> None:
    key = f"review:{stance.subject}"
    poll = await polls.open_consensus_poll(
        services,
        room_id=room_id,
        proposal=services.say(
            room_id,
            Words(
                "objectives.endorse_question",
                {
                    "movement": stance.movement,
                    "number": stance.number,
                    "alliance": stance.alliance,
                    "text": stance.text,
                },
            ),
        ),
        creator=UserID(services.config.user_id),
        txn_key=EventID(key),
        closes_at=now + await polls.decision_deadline_s(services.store, room_id) * 1000,
        decision=True,
    )
    await services.notice(
        room_id,
        Reply(
            "alliance_review_stance",
            {
                "number": stance.number,
                "endorsed": stance.endorsed,
                "decided": polls.local_time(stance.decided_at, services),
                "link": _link(services, stance.decided),
                "poll": poll.number,
            },
        ),
        txn_key=f"{key}/notice",
        answering=polls.start_event(poll, services),
    )
    if not poll.removed:  # removed already (asked before a crash): nothing to wait for
        await objectives_store.open_endorsement(
            services.store,
            movement_id=stance.movement_id,
            objective_id=stance.objective_id,
            poll=PollRef(room_id, poll.id, poll.start_event_id),
            opened_at=now,
            command_event_id=key,
        )
    await reviews_store.add_stance_review(services.store, stance, poll_id=poll.id, opened_at=now)


async def _settle_item_review(services: Services, review: ItemReview, now: int) -> None:
    """Record what the review's poll decided, once it has, and tell the room (once)."""
    store = services.store
    poll = await polls.get_poll(store, review.poll_id)
    outcome = review.outcome
    if outcome is None:
        result = await polls.consensus_result(store, review.poll_id)
        if result is not None:
            outcome = "passed" if result.outcome.passed else "not_passed"
            await reviews_store.settle_item_review(
                store, review.subject, outcome, decided_at=result.poll.closed_at or now
            )
        elif poll is None or poll.removed:  # nothing decided: asked again a period later
            closed_at = poll.closed_at if poll is not None else None
            await reviews_store.settle_item_review(
                store, review.subject, "withdrawn", decided_at=closed_at or now
            )
            return
        else:
            return  # still open
    if outcome == "withdrawn":
        return
    found = await reviews_store.item_now(store, review.room_id, review.item_id)
    changed = found is None or found[1] != review.version
    data: dict[str, Any] = {
        "number": 0 if found is None else found[0],
        "passed": outcome == "passed",
        "changed": changed,
        "poll": 0 if poll is None else poll.number,
        "days": await reviews_store.review_days(store, review.room_id),
    }
    await services.notice(
        review.room_id,
        Reply("alliance_review_decided", data),
        txn_key=f"review:{review.subject}/decided",
        answering=None if poll is None else polls.start_event(poll, services),
    )
    await reviews_store.mark_item_review_told(store, review.subject)


def _link(services: Services, poll: PollRef) -> str | None:
    if not poll.event_id:
        return None
    return event_link(poll.room_id, poll.event_id, services.config.server_name)
