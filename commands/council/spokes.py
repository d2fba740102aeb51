"""Spokes: the people a movement names to speak for it in the alliance.

A movement's moderators name them (`!spokes add @person`, `!spokes remove @person`), or the
movement elects one by a decision poll (`!spokes elect @person`). A spoke serves a term (13 weeks
unless the room sets `!rules set spoke-term 26w`); when it ends, the bot asks the room once to
renew or rotate. In a proposal's thread in the commons, what a spoke writes is marked as
speaking for their movement (a reaction); others speak for themselves. A movement may mandate
its spokes to give its position on the alliance's proposals (`!rules set position spokes`): it
is then asked by a notice instead of a poll, and one of its spokes answers in the commons with
`!position N agree|reservations|stand-aside|block <reason>`. The record says which way each
position was given.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from bot.contract import Args, CommandError, Context, Reply, Services, Words
from bot.events import Event
from bot.ids import RoomID, UserID
from commands import polls
from commands.alliance.shared import read_alliance
from commands.alliance.store import (
    Movement,
    alliance_by_commons,
    movements_of,
    movements_of_room,
)
from commands.council import store
from commands.council.rules import PositionKind, Reason
from commands.council.store import PositionBy, Round, Seat, Spoke

log = logging.getLogger(__name__)

CHANGED: Final = "council changed"
"""The happening that wakes the council's reconciler: a proposal opened, amended, closed or
answered by spokes."""

DEFAULT_TERM_S: Final = 13 * 7 * 24 * 3600
"""A spoke's term unless the room sets another: about three months."""
POSITION_WORDS: Final[dict[str, PositionKind]] = {
    "agree": "agree",
    "reservations": "reservations",
    "agree-with-reservations": "reservations",
    "stand-aside": "stand_aside",
    "stand_aside": "stand_aside",
    "standaside": "stand_aside",
    "block": "block",
}


# -- naming spokes -----------------------------------------------------------------------------


async def _own_movements(ctx: Context) -> list[Movement]:
    found = [
        m for m in await movements_of_room(ctx.store, ctx.event.room_id) if m.status == "active"
    ]
    if not found:
        raise CommandError("council.spokes_in_movement_room")
    return found


def _person(ctx: Context, typed: str) -> UserID:
    """A member of this room, as typed (`@name:server`), or a refusal."""
    user = typed.strip()
    if not (user.startswith("@") and ":" in user):
        raise CommandError("council.say_who", typed=user[:60])
    if user not in ctx.room.joined():
        raise CommandError("council.not_a_member", user=user[:100])
    return UserID(user)


async def _term_s(store_: Any, room_id: RoomID) -> int:
    return (await store.room_settings(store_, room_id)).spoke_term_s or DEFAULT_TERM_S


async def add_command(ctx: Context, args: Args) -> Reply:
    await _own_movements(ctx)
    user = _person(ctx, args.text("person"))
    at = ctx.services.now_ms()  # a term runs by the bot's clock, not the sender's server's
    ends = at + await _term_s(ctx.store, ctx.event.room_id) * 1000
    await store.add_spoke(
        ctx.store, ctx.event.room_id, user, by=UserID(ctx.sender), at=at, term_ends_at=ends
    )
    return Reply(
        "council_spoke_added",
        {"person": ctx.room.display_name(user), "until": polls.local_time(ends, ctx)},
    )


async def remove_command(ctx: Context, args: Args) -> Reply:
    await _own_movements(ctx)
    user = args.text("person").strip()
    if not await store.remove_spoke(ctx.store, ctx.event.room_id, UserID(user)):
        raise CommandError("council.not_a_spoke", user=user[:100])
    return Reply("council_spoke_removed", {"person": ctx.room.display_name(user)})


async def elect_command(ctx: Context, args: Args) -> Reply:
    movements = await _own_movements(ctx)
    user = _person(ctx, args.text("person"))
    question = ctx.services.say(
        ctx.event.room_id,
        Words(
            "council.elect_question",
            {"person": ctx.room.display_name(user), "movement": movements[0].name},
        ),
    )
    poll = await polls.open_consensus_poll(
        ctx.services,
        room_id=ctx.event.room_id,
        proposal=question,
        creator=UserID(ctx.sender),
        txn_key=ctx.event.event_id,
        closes_at=await polls.decision_closes_at(ctx, args.option("closes")),
        decision=True,
    )
    await store.open_election(
        ctx.store,
        poll_id=poll.id,
        room_id=ctx.event.room_id,
        user_id=user,
        asked_by=UserID(ctx.sender),
    )
    return Reply(
        "council_spoke_election",
        {
            "person": ctx.room.display_name(user),
            "number": poll.number,
            "closes": polls.local_time(poll.closes_at or 0, ctx),
        },
    )


async def list_command(ctx: Context, args: Args) -> Reply:
    mine = [
        m for m in await movements_of_room(ctx.store, ctx.event.room_id) if m.status == "active"
    ]
    if mine and args.option("alliance") is None:
        rooms = [(mine[0].name, ctx.event.room_id)]
    else:
        alliance = await read_alliance(ctx, args.option("alliance"), command="spokes")
        rooms = [
            (m.name, m.room_id)
            for m in await movements_of(ctx.store, alliance.id, statuses=("active",))
        ]
    shown = []
    for name, room_id in rooms:
        room = ctx.services.room(room_id)
        settings = await store.room_settings(ctx.store, room_id)
        shown.append(
            {
                "movement": name,
                "by_spokes": settings.position_by == "spokes",
                "spokes": [
                    {
                        "person": room.display_name(s.user_id),
                        "until": polls.local_time(s.term_ends_at, ctx),
                        "ended": s.term_ends_at <= ctx.services.now_ms(),
                    }
                    for s in await store.spokes_of(ctx.store, room_id)
                ],
            }
        )
    return Reply("council_spokes", {"movements": shown, "here": bool(mine)})


# -- giving a movement's position ------------------------------------------------------------


async def position_command(ctx: Context, args: Args) -> Reply:
    """`!position N block <reason>` in the commons, by a spoke of a movement that mandates its
    spokes."""
    alliance = await alliance_by_commons(ctx.store, ctx.event.room_id)
    if alliance is None:
        raise CommandError("council.position_in_commons")
    number = args.get("number")
    proposal = await store.proposal_by_number(ctx.store, alliance.id, number)
    if proposal is None:
        raise CommandError("council.no_such_proposal", number=number, last=0)
    rounds = await store.rounds_of(ctx.store, proposal.id)
    round_ = rounds[-1]
    if not round_.is_open:
        raise CommandError("council.already_closed", number=number)
    kind = POSITION_WORDS.get(str(args.get("position", "")).lower())
    if kind is None:
        raise CommandError("council.say_position", number=number)
    seats = await _spoken_for(ctx, round_, args.option("movement"))
    reason = args.text("reason").strip()
    if len(reason) > 2000:
        raise CommandError("council.reason_too_long", limit=2000)
    seat = seats[0]
    recorded = await store.set_position(
        ctx.store,
        seat,
        position=kind,
        reasons=(Reason(kind, reason),) if reason else (),
        voters=0,
        given_by="spokes",
        by=UserID(ctx.sender),
        at=max(ctx.services.now_ms(), ctx.event.ts),
    )
    if not recorded:
        raise CommandError("council.position_given", movement=seat.movement_name, number=number)
    ctx.services.signal(CHANGED)
    return Reply(
        "council_position_given",
        {
            "movement": seat.movement_name,
            "number": number,
            "position": Words("council.position", {"kind": kind}),
        },
    )


async def _spoken_for(ctx: Context, round_: Round, wanted: str | None) -> list[Seat]:
    """The seat of the movement the sender speaks for in this round (refused otherwise)."""
    mine: list[Seat] = []
    for seat in await store.seats_of(ctx.store, round_.id):
        spokes = {
            s.user_id
            for s in await store.spokes_of(ctx.store, seat.room_id)
            if s.term_ends_at > ctx.services.now_ms()
        }
        if ctx.sender in spokes:
            mine.append(seat)
    if wanted:
        mine = [s for s in mine if _same_name(wanted, s.movement_name)]
    if not mine:
        raise CommandError("council.not_a_spoke_here")
    if len(mine) > 1:
        raise CommandError("council.spoke_of_several", movements=[s.movement_name for s in mine])
    seat = mine[0]
    settings = await store.room_settings(ctx.store, seat.room_id)
    if settings.position_by != "spokes" or seat.poll_id is not None:
        raise CommandError("council.decided_by_poll", movement=seat.movement_name)
    if seat.position is not None:
        raise CommandError("council.position_given", movement=seat.movement_name, number=0)
    return mine


def _same_name(typed: str, name: str) -> bool:
    def key(text: str) -> str:
        return "".join(c for c in text.casefold() if c.isalnum())

    return key(typed) == key(name)


# -- the room's settings (`!rules set position spokes`, `!rules set spoke-term 26w`) -----------


class PositionSetting:
    name: Final = "position"

    async def change(self, ctx: Context, value: str) -> Reply:
        await _own_movements(ctx)
        word = value.strip().lower()
        if word not in ("poll", "spokes"):
            raise CommandError("council.position_by_is")
        by: PositionBy = "spokes" if word == "spokes" else "poll"
        await store.set_position_by(ctx.store, ctx.event.room_id, by)
        return Reply("council_position_by_set", {"spokes": by == "spokes"})

    async def shown(self, services: Services, room_id: RoomID) -> Words | None:
        if not [
            m for m in await movements_of_room(services.store, room_id) if m.status == "active"
        ]:
            return None
        settings = await store.room_settings(services.store, room_id)
        term = settings.spoke_term_s or DEFAULT_TERM_S
        return Words(
            "council.room_settings_now",
            {"spokes": settings.position_by == "spokes", "term": polls.duration_words(term)},
        )


class TermSetting:
    name: Final = "spoke-term"

    async def change(self, ctx: Context, value: str) -> Reply:
        await _own_movements(ctx)
        try:
            seconds = int(polls.parse_duration(value).total_seconds())
        except polls.DeadlineError as exc:
            raise CommandError(exc.words.key, **exc.words.data) from None
        if seconds < 7 * 24 * 3600:
            raise CommandError("council.term_too_short")
        await store.set_spoke_term(ctx.store, ctx.event.room_id, seconds)
        return Reply("council_term_set", {"term": polls.duration_words(seconds)})

    async def shown(self, services: Services, room_id: RoomID) -> Words | None:
        return None  # shown with the position setting


# -- the reconciler's part ---------------------------------------------------------------------


async def remind_and_elect(services: Services, now: int) -> None:
    """Ask each room once to renew or rotate a spoke whose term ended; settle elections."""
    for spoke in await store.terms_ended(services.store, now):
        await _remind(services, spoke, now)
    for election in await store.open_elections(services.store):
        result = await polls.consensus_result(services.store, election.poll_id)
        if result is None:
            poll = await polls.get_poll(services.store, election.poll_id)
            if poll is None or poll.removed:
                await store.settle_election(services.store, election.poll_id, elected=False, at=now)
            continue
        elected = result.outcome.passed
        if elected:
            ends = now + await _term_s(services.store, election.room_id) * 1000
            await store.add_spoke(
                services.store,
                election.room_id,
                election.user_id,
                by=election.asked_by,
                at=now,
                term_ends_at=ends,
            )
        if await store.settle_election(services.store, election.poll_id, elected=elected, at=now):
            room = services.room(election.room_id)
            await services.notice(
                election.room_id,
                Reply(
                    "council_spoke_elected",
                    {"person": room.display_name(election.user_id), "elected": elected},
                ),
                txn_key=f"{result.poll.command_event_id}/council/elected",
                answering=polls.start_event(result.poll, services),
            )


async def _remind(services: Services, spoke: Spoke, now: int) -> None:
    room = services.room(spoke.room_id)
    told = await services.notice(
        spoke.room_id,
        Reply(
            "council_term_ended",
            {"person": room.display_name(spoke.user_id), "user": spoke.user_id},
        ),
        txn_key=f"council/term/{spoke.room_id}/{spoke.user_id}/{spoke.added_at}",
    )
    if told is not None or now - spoke.term_ends_at > 24 * 3600 * 1000:
        await store.mark_reminded(services.store, spoke, at=now)


# -- marking what spokes say in a proposal's thread -----------------------------------------

REACTION: Final = "m.reaction"


async def on_thread_message(services: Services, event: Event) -> Reply | None:
    """A message in a proposal's thread in the commons, from a spoke of a movement asked in its
    latest round: the bot marks it (a reaction, as Element shows them) as speaking for that
    movement. Everyone else speaks for themselves, unmarked."""
    root = event.thread_root
    if root is None or event.sender == services.config.user_id:
        return None
    proposal = await store.proposal_by_root(services.store, event.room_id, root)
    if proposal is None:
        return None
    rounds = await store.rounds_of(services.store, proposal.id)
    for seat in await store.seats_of(services.store, rounds[-1].id):
        spokes = await store.spokes_of(services.store, seat.room_id)
        now = services.now_ms()
        if not any(s.user_id == event.sender and s.term_ends_at > now for s in spokes):
            continue
        key = services.say(
            event.room_id, Words("council.speaks_for", {"movement": seat.movement_name})
        )
        relation = {"rel_type": "m.annotation", "event_id": event.event_id, "key": key}
        await services.send(
            event.room_id,
            event_type=REACTION,
            content={"m.relates_to": relation},
            txn_key=f"{event.event_id}/council/speaks/{seat.movement_id}",
        )
    return None


async def asks_spokes(services: Services, room_id: RoomID) -> bool:
    """Whether the movement in `room_id` gives its positions by its spokes."""
    return (await store.room_settings(services.store, room_id)).position_by == "spokes"
