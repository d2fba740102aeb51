"""Alliance-wide straw polls: one poll in the commons and in every active movement room.

`!poll --alliance` in an alliance's commons room, by a commons moderator, posts the same
native poll in the commons and in every active movement room, one poll per room, grouped
(:class:`commands.polls.store.PollGroup`). Each room's start event is keyed by the command's
event id and the room (:func:`seat_key`), so a re-run after a crash never posts twice.

Votes are cast in any of the rooms and counted at three levels (`commands.polls.view`): per
movement, overall by person (each person once, their latest vote in any room), and "one
movement, one voice" (a tie splits that movement's voice equally).

The group closes as one: by `!poll close` in the commons (its creator or a commons
moderator), by its deadline, or by an end event in the commons; each room's poll gets its end
event, the commons the full results and each movement room a short result notice. An end
event in a movement room ends voting in that room only. Removing the commons' poll withdraws
the group everywhere. `--hidden` hides the results everywhere until the group closes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from bot.contract import CommandError, Context, Registry, Reply, Services, Words
from bot.events import Event
from bot.ids import EventID, RoomID, UserID
from bot.permissions import Power
from bot.store import Store
from commands.polls import store as db
from commands.polls.input import PollRequest
from commands.polls.lifecycle import (
    COMMAND_GRACE_MS,
    close_by_end_event,
    close_refused,
    close_time,
    command_close_time,
    created_view,
    end_time,
    open_poll,
    seal,
    start_event,
)
from commands.polls.results import (
    first_line,
    hidden_results,
    live_tally,
    local_time,
    status,
)
from commands.polls.store import Poll, PollGroup, Seat
from commands.polls.tally import Tally
from commands.polls.view import (
    RoomVotes,
    one_voice,
    one_voice_rows,
    overall_tally,
    result_rows,
    straw_answers,
    texts_of,
)

log = logging.getLogger(__name__)

VOTES_WAIT_S: Final = 5.0
"""How long closing an alliance-wide poll waits for votes sent before it in other rooms."""
ALLIANCE_POLL_POWER: Final = Power.MODERATOR
"""Who may start an alliance-wide poll: it is posted in every movement's own room, so a
moderator of the commons (not anyone in it) speaks for the alliance there."""


@dataclass(frozen=True)
class Member:
    """A movement an alliance-wide poll is posted to."""

    id: int
    name: str
    room_id: RoomID


@dataclass(frozen=True)
class Constituency:
    """Who an alliance-wide poll typed in a commons is for: the alliance and its movements."""

    alliance_id: int
    name: str
    members: list[Member]


@runtime_checkable
class Constituencies(Protocol):
    """What the polls family asks of the family that knows alliances (which provides it in
    the registry as `CONSTITUENCIES`); without it there are no alliance-wide polls."""

    async def of_commons(self, store: Store, room_id: RoomID) -> Constituency | None:
        """The alliance whose commons this room is, with its active movements."""
        ...

    async def names_of_alliances_of(self, store: Store, room_id: RoomID) -> list[str]:
        """The alliances this room is a movement of (asked or approved)."""
        ...

    async def name_of(self, store: Store, alliance_id: int) -> str | None: ...


CONSTITUENCIES: Final = "polls.constituencies"  # the name it is provided under


class _NoAlliances:
    async def of_commons(self, store: Store, room_id: RoomID) -> Constituency | None:
        return None

    async def names_of_alliances_of(self, store: Store, room_id: RoomID) -> list[str]:
        return []

    async def name_of(self, store: Store, alliance_id: int) -> str | None:
        return None


def _constituencies(registry: Registry) -> Constituencies:
    found = registry.provided(CONSTITUENCIES)
    return found if isinstance(found, Constituencies) else _NoAlliances()


async def _alliance_name(services: Services, alliance_id: int) -> Words:
    """The alliance's name as the templates show it (with `say`), also once it is gone."""
    name = await _constituencies(services.registry).name_of(services.store, alliance_id)
    return Words("polls.alliance", {"name": name})


def seat_key(command_event_id: str, room_id: str) -> EventID:
    """The key of one room's copy of an alliance-wide poll: its row, and its events' txn ids."""
    return EventID(f"{command_event_id}/alliance-poll/{room_id}")


# -- opening -----------------------------------------------------------------------------------


async def _not_a_commons(ctx: Context) -> CommandError:
    """Why `--alliance` cannot be used in this room, and what to do instead."""
    source = _constituencies(ctx.registry)
    mine = await source.names_of_alliances_of(ctx.store, ctx.event.room_id)
    if mine:
        return CommandError("polls.alliance_from_a_movement", alliances=mine)
    return CommandError("polls.alliance_not_a_commons")


async def create_alliance_poll(ctx: Context, request: PollRequest, closes_at: int | None) -> Reply:
    """`!poll --alliance`: the same poll in the commons and in every active movement room."""
    store = ctx.store
    commons = ctx.event.room_id
    alliance = await _constituencies(ctx.registry).of_commons(store, commons)
    if alliance is None:
        raise await _not_a_commons(ctx)
    if ctx.power < ALLIANCE_POLL_POWER:
        raise CommandError("polls.alliance_moderators_only")
    movements = alliance.members
    group = await db.create_group(
        store,
        db.NewGroup(
            alliance_id=alliance.alliance_id,
            commons_room_id=commons,
            creator=ctx.event.sender,
            created_at=ctx.services.now_ms(),
            closes_at=closes_at,
            hidden=request.hidden,
            command_event_id=ctx.event.event_id,
        ),
    )
    answers = straw_answers(request.options)

    async def post(room_id: RoomID, seat: db.NewSeat) -> Poll:
        return await open_poll(
            ctx.services,
            room_id=room_id,
            creator=ctx.event.sender,
            txn_key=seat_key(ctx.event.event_id, room_id),
            kind="straw",
            question=request.question,
            answers=answers,
            max_selections=request.max_selections,
            hidden=request.hidden,
            closes_at=closes_at,
            seat=seat,
        )

    try:
        poll = await post(commons, db.NewSeat(group.id, None, None))
    except CommandError:
        await db.forget_empty_group(store, group.id)
        raise
    posted: list[str] = []
    missed: list[str] = []
    for movement in movements:
        try:
            copy = await post(movement.room_id, db.NewSeat(group.id, movement.id, movement.name))
        except CommandError:
            log.warning("Could not post alliance poll %d in movement %d", group.id, movement.id)
            missed.append(movement.name)
            continue
        posted.append(movement.name)
        await ctx.services.notice(
            movement.room_id,
            Reply(
                "poll_alliance_intro",
                {
                    "alliance": alliance.name,
                    "movement": movement.name,
                    "creator": ctx.room.display_name(ctx.event.sender),
                    "number": copy.number,
                    "rooms": len(movements) + 1,
                    "closes": None if closes_at is None else local_time(closes_at, ctx),
                    "hidden": request.hidden,
                    "multi": request.max_selections,
                },
            ),
            txn_key=f"{copy.command_event_id}:intro",
            answering=start_event(copy, ctx.services),
        )
    view = created_view(ctx, poll)
    view.update({"alliance": alliance.name, "movements": posted, "missed": missed})
    return Reply("poll_alliance_created", view)


# -- results -----------------------------------------------------------------------------------


async def _group_seats(services: Services, group: PollGroup) -> list[Seat]:
    """The group's rooms whose poll still stands (a poll that was removed no longer counts)."""
    return [seat for seat in await db.seats(services.store, group.id) if not seat.poll.removed]


async def _overall(services: Services, seats: list[Seat], poll: Poll) -> Tally:
    """Everyone's votes across the rooms, each person once (see `view.overall_tally`).

    `poll` is any room's copy (they all have the same options).
    """
    rooms = [
        RoomVotes(
            await db.ballots(services.store, seat.poll.id),
            closed_at=seat.poll.closed_at,
            members=services.room(seat.poll.room_id).joined(),
        )
        for seat in seats
    ]
    return overall_tally(rooms, answer_ids=poll.answer_ids, max_selections=poll.max_selections)


async def _group_view(
    services: Services, group: PollGroup, here: Poll, seats: list[Seat] | None = None
) -> dict[str, Any]:
    """Everything the results of an alliance-wide poll show, as seen from the room of `here`."""
    if seats is None:
        seats = await _group_seats(services, group)
    alliance = await _alliance_name(services, group.alliance_id)
    answers = here.answers
    overall = group.result if group.result is not None else await _overall(services, seats, here)
    rooms: list[dict[str, Any]] = []
    movement_results: list[Tally] = []
    for seat in seats:
        result = await live_tally(services, seat.poll)
        if not seat.is_commons:
            movement_results.append(result)
        leading = result.leading()
        rooms.append(
            {
                "name": seat.movement_name,  # None: the commons
                "commons": seat.is_commons,
                "here": seat.poll.room_id == here.room_id,
                "voters": result.voters,
                "counts": [
                    {"text": answer.text, "count": result.counts.get(answer.id, 0)}
                    for answer in answers
                ],
                "leading": texts_of(answers, leading),
                "ended_early": seat.poll.closed_via == "end_event" and group.is_open,
            }
        )
    voice = one_voice(movement_results, answer_ids=here.answer_ids)
    commons = next((seat.poll for seat in seats if seat.is_commons), here)
    return {
        "number": here.number,
        "commons_number": commons.number,
        "in_commons": here.room_id == group.commons_room_id,
        "alliance": alliance,
        "question": here.question,
        "status": status(services, group),
        "closed": not group.is_open,
        "just_closed": False,
        "rows": result_rows(answers, overall),
        "voters": overall.voters,
        "spoiled": overall.spoiled,
        "multi": here.max_selections,
        "leading": texts_of(answers, overall.leading()),
        "options": [answer.text for answer in answers],
        "voice_rows": one_voice_rows(answers, voice),
        "voice_leading": texts_of(answers, voice.leading()),
        "voiced": voice.voiced,
        "movement_count": voice.movements,
        "rooms": rooms,
    }


async def show_group_results(ctx: Context, poll: Poll, group: PollGroup) -> Reply:
    """`!poll results` on a room's copy of an alliance-wide poll: the whole group's results."""
    if group.hidden and group.is_open:
        return hidden_results(ctx, number=poll.number, closes_at=group.closes_at)
    return Reply("poll_alliance_results", await _group_view(ctx.services, group, poll))


# -- closing -----------------------------------------------------------------------------------


async def close_group(
    services: Services,
    group: PollGroup,
    *,
    closed_at: int,
    via: db.ClosedVia,
    closed_by: UserID | None = None,
    close_event_id: EventID | None = None,
) -> bool:
    """Close an alliance-wide poll and every room's poll of it (each only once).

    The commons' poll records how the group closed (and the closing command, to find it
    again after a crash); the movement rooms' polls are closed by the bot on its behalf.
    Returns whether this call closed the group.
    """
    store = services.store
    closed = await db.close_group(
        store,
        group.id,
        closed_at=closed_at,
        via=via,
        closed_by=closed_by,
        close_event_id=close_event_id,
    )
    for seat in await db.seats(store, group.id):
        poll = seat.poll
        if not poll.is_open:
            continue
        await db.close_poll(
            store,
            poll.id,
            closed_at=close_time(closed_at, poll.closes_at),
            via=via if seat.is_commons else ("deadline" if via == "deadline" else "command"),
            closed_by=closed_by,
            close_event_id=close_event_id if seat.is_commons else None,
        )
    return closed


async def seal_group(services: Services, group: PollGroup) -> PollGroup:
    """After the close: keep each room's tally and the overall one, send each end event (once)."""
    store = services.store
    seats = await _group_seats(services, group)
    for seat in seats:
        if seat.poll.closed_at is not None:
            await seal(services, seat.poll)
    seats = await _group_seats(services, group)
    if group.result is None and seats:
        await db.save_group_result(store, group.id, await _overall(services, seats, seats[0].poll))
    reloaded = await db.get_group(store, group.id)
    assert reloaded is not None
    return reloaded


async def withdraw_group(services: Services, group: PollGroup, *, at: int) -> None:
    """The commons' poll was removed: the alliance-wide poll is withdrawn everywhere."""
    await close_group(services, group, closed_at=at, via="removed")
    await seal_group(services, group)
    await db.mark_group_announced(services.store, group.id)


async def _tell_movements(services: Services, group: PollGroup, seats: list[Seat]) -> None:
    """A short result notice in each movement room, as an answer to its poll."""
    commons = next((seat.poll for seat in seats if seat.is_commons), None)
    if commons is None:
        return
    view = await _group_view(services, group, commons, seats)
    for seat, room in zip(seats, view["rooms"], strict=True):
        if seat.is_commons:
            continue
        await services.notice(
            seat.poll.room_id,
            Reply(
                "poll_alliance_closed_notice",
                {
                    "number": seat.poll.number,
                    "question": first_line(seat.poll.question),
                    "alliance": view["alliance"],
                    "status": view["status"],
                    "leading": view["leading"],
                    "voters": view["voters"],
                    "voice_leading": view["voice_leading"],
                    "voiced": view["voiced"],
                    "movement_count": view["movement_count"],
                    "movement": room["name"],
                    "own_leading": room["leading"],
                    "own_voters": room["voters"],
                },
            ),
            txn_key=f"{seat.poll.command_event_id}:closed",
            answering=start_event(seat.poll, services),
        )


async def _closed_group_view(
    services: Services, group: PollGroup, here: Poll, seats: list[Seat]
) -> dict[str, Any]:
    """The results of an alliance-wide poll just sealed, as its close announces them."""
    view = await _group_view(services, group, here, seats)
    view["just_closed"] = True
    return view


async def announce_group_close(services: Services, group: PollGroup) -> None:
    """Seal a closed alliance-wide poll; results in the commons, a notice in each movement room."""
    if group.announced or group.closed_at is None:
        return
    group = await seal_group(services, group)
    seats = await _group_seats(services, group)
    commons = next((seat.poll for seat in seats if seat.is_commons), None)
    if commons is not None:
        await _tell_movements(services, group, seats)
        await services.notice(
            commons.room_id,
            Reply(
                "poll_alliance_results", await _closed_group_view(services, group, commons, seats)
            ),
            txn_key=f"{commons.command_event_id}:results",
            answering=start_event(commons, services),
        )
    await db.mark_group_announced(services.store, group.id)


async def _votes_waiting(store: Store, room_ids: Iterable[RoomID], before: int) -> bool:
    """Whether any of these rooms has events sent by `before` that are not read yet.

    A deadline waits for them: they may be votes cast in time while the bot was away.
    """
    for room_id in room_ids:
        if await store.has_pending(room_id, sent_at_or_before=before):
            return True
    return False


async def _votes_read_elsewhere(services: Services, group: PollGroup, before: int) -> None:
    """Wait a little (bounded) for votes sent in the movement rooms before `before` to be read.

    Each room's events are handled by its own worker, so a vote cast in a movement room just
    before the close in the commons may still be waiting. The deadline timer waits for them
    without a bound; a command only waits up to `VOTES_WAIT_S`, then counts what it has.
    """
    until = time.monotonic() + VOTES_WAIT_S
    rooms = [seat.poll.room_id for seat in await db.seats(services.store, group.id)]
    rooms = [room for room in rooms if room != group.commons_room_id]
    while time.monotonic() < until:
        if not await _votes_waiting(services.store, rooms, before):
            return
        await asyncio.sleep(0.1)
    log.info("Closing alliance poll %d with votes still unread in a movement room", group.id)


async def close_group_command(ctx: Context, poll: Poll, group: PollGroup) -> Reply:
    """`!poll close` on a room's copy of an alliance-wide poll: only in the commons."""
    if group.closed_at is not None and group.close_event_id != ctx.event.event_id:
        return Reply("poll_closed", {"number": poll.number, "action": "close"})
    commons_polls = [s.poll for s in await db.seats(ctx.store, group.id) if s.is_commons]
    if poll.room_id != group.commons_room_id:
        return Reply(
            "poll_alliance_close_elsewhere",
            {
                "number": poll.number,
                "alliance": await _alliance_name(ctx.services, group.alliance_id),
                "commons_number": commons_polls[0].number if commons_polls else poll.number,
                "creator": ctx.services.room(group.commons_room_id).display_name(group.creator),
            },
        )
    if group.closed_at is None:
        refused = close_refused(ctx, number=poll.number, creator=group.creator)
        if refused is not None:
            return refused
        closed_at = command_close_time(ctx, group.closes_at)
        await _votes_read_elsewhere(ctx.services, group, closed_at)
        if not await close_group(
            ctx.services,
            group,
            closed_at=closed_at,
            via="command",
            closed_by=ctx.event.sender,
            close_event_id=ctx.event.event_id,
        ):
            return Reply("poll_closed", {"number": poll.number, "action": "close"})
    group = await seal_group(ctx.services, group)
    seats = await _group_seats(ctx.services, group)
    await _tell_movements(ctx.services, group, seats)
    await db.mark_group_announced(ctx.store, group.id)
    return Reply(
        "poll_alliance_results", await _closed_group_view(ctx.services, group, poll, seats)
    )


async def group_end(services: Services, event: Event, poll: Poll, group: PollGroup) -> Reply | None:
    """A poll end event (Element's "End poll") on a room's copy of an alliance-wide poll.

    In the commons it closes the alliance-wide poll everywhere. In a movement room it ends
    voting in that room only (as Element there now shows); the rest of the alliance votes on.
    """
    if not group.is_open:
        return None
    closed_at = end_time(event, poll, now=services.now_ms())
    if poll.room_id == group.commons_room_id:
        await _votes_read_elsewhere(services, group, closed_at)
        if await close_group(
            services,
            group,
            closed_at=closed_at,
            via="end_event",
            closed_by=event.sender,
            close_event_id=event.event_id,
        ):
            reloaded = await db.get_group(services.store, group.id)
            if reloaded is not None:
                await announce_group_close(services, reloaded)
        return None
    if not await close_by_end_event(services.store, poll, event, now=services.now_ms()):
        return None
    await db.mark_announced(services.store, poll.id)
    return Reply(
        "poll_alliance_room_ended",
        {
            "number": poll.number,
            "alliance": await _alliance_name(services, group.alliance_id),
            "name": services.room(poll.room_id).display_name(event.sender),
        },
    )


async def close_due_groups(services: Services, now: int) -> None:
    """The deadline timer's part for alliance-wide polls: close them whole, then announce."""
    store = services.store
    for group in await db.due_groups(store, now):
        assert group.closes_at is not None
        rooms = [seat.poll.room_id for seat in await db.seats(store, group.id)]
        if await _votes_waiting(store, rooms, group.closes_at):
            continue  # votes cast in time are still waiting to be read
        if await close_group(services, group, closed_at=group.closes_at, via="deadline"):
            log.info("Alliance poll %d reached its deadline", group.id)
    for group in await db.unannounced_groups(store, commands_closed_before=now - COMMAND_GRACE_MS):
        try:
            await announce_group_close(services, group)
        except Exception:
            log.exception("Announcing the close of alliance poll %d failed", group.id)
