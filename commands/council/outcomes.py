"""Who has not decided yet, what was decided, and when the alliance asks itself again.

For an alliance proposal, in its commons (offered to the polls family's `!whohasnt` and
`!outcome` as a `polls.Subject`):

- `!whohasnt proposal N`, or `!whohasnt` in the proposal's thread (or, in a commons with no
  open poll of its own, about the latest open proposal): the movements without a position
  yet, and their spokes. Which movements decided what is the alliance's business, so anyone
  in the commons may ask.
- When a proposal's round closes, its outcome in the commons thread asks whoever opened it for
  a sentence saying what was decided: `!outcome <text>` in the thread (them or a commons
  moderator), kept in the record and shown with the proposal. `--review 1y` sets a date on
  which the reconciler opens a new proposal asking every movement whether it still agrees
  (:func:`review_due`), once: its key comes from the old proposal's.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.contract import CommandError, Context, Reply, Services, Words, read_number, short
from bot.ids import EventID, UserID
from bot.permissions import Power
from commands import polls
from commands.alliance.store import Alliance, alliance_by_commons, alliance_by_id, movements_of
from commands.council import store
from commands.council.proposals import (
    DEFAULT_DAYS,
    alliance_rule,
    post_root,
    reconcile,
    standing,
)
from commands.council.rules import format_alliance_rule
from commands.council.spokes import CHANGED
from commands.council.store import Proposal

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000


class ProposalSubject:
    """Alliance proposals, for `!whohasnt` and `!outcome` in the commons."""

    async def who_hasnt(self, ctx: Context, text: str) -> Reply | None:
        words = text.split()
        named = len(words) == 2 and words[0].lower() in ("proposal", "proposals")
        alliance = await alliance_by_commons(ctx.store, ctx.event.room_id)
        if alliance is None:
            if named:
                raise CommandError("council.whohasnt_in_commons")
            return None
        proposal: Proposal | None
        if named:
            number = read_number(words[1])
            if number is None:
                raise CommandError("council.not_a_number", typed=short(words[1], 20))
            proposal = await _numbered(ctx, alliance, number)
        else:
            proposal = await _in_thread(ctx, alliance)
            if proposal is None and not text.strip():
                proposal = await _latest_open(ctx, alliance)
        if proposal is None:
            return None
        return await _who_hasnt(ctx, proposal)

    async def outcome(self, ctx: Context, text: str, review: str | None) -> Reply | None:
        alliance = await alliance_by_commons(ctx.store, ctx.event.room_id)
        if alliance is None:
            return None
        proposal = await _in_thread(ctx, alliance)
        if proposal is None:
            return None
        rounds = await store.rounds_of(ctx.store, proposal.id)
        if rounds[-1].is_open:
            raise CommandError("council.outcome_after_close", number=proposal.number)
        if ctx.sender != proposal.proposer and ctx.power < Power.MODERATOR:
            name = ctx.room.display_name(proposal.proposer)
            raise CommandError("council.outcome_who", number=proposal.number, proposer=name)
        text = text.strip()
        if not text:
            raise CommandError("council.outcome_empty", number=proposal.number)
        if len(text) > polls.MAX_OUTCOME:
            raise CommandError(
                "council.outcome_too_long", length=len(text), limit=polls.MAX_OUTCOME
            )
        now = ctx.services.now_ms()
        review_at = None if review is None else now + polls.review_days(review) * DAY_MS
        await store.set_outcome(
            ctx.store, proposal.id, text=text, by=UserID(ctx.sender), at=now, review_at=review_at
        )
        return Reply(
            "council_outcome_written",
            {
                "number": proposal.number,
                "review": None if review_at is None else polls.local_time(review_at, ctx),
            },
        )


async def _numbered(ctx: Context, alliance: Alliance, number: int) -> Proposal:
    found = await store.proposal_by_number(ctx.store, alliance.id, number)
    if found is None:
        every = await store.proposals_of(ctx.store, alliance.id)
        raise CommandError(
            "council.no_such_proposal", number=number, last=every[-1].number if every else 0
        )
    return found


async def _in_thread(ctx: Context, alliance: Alliance) -> Proposal | None:
    """The proposal whose commons thread the command is in, or whose root it replies to."""
    for event_id in (ctx.event.thread_root, ctx.event.reply_to):
        if event_id is not None:
            found = await store.proposal_by_root(ctx.store, ctx.event.room_id, event_id)
            if found is not None and found.alliance_id == alliance.id:
                return found
    return None


async def _latest_open(ctx: Context, alliance: Alliance) -> Proposal | None:
    """The latest open proposal, unless the commons has an open poll of its own (then a bare
    `!whohasnt` is about that poll, as in any room)."""
    if await polls.open_polls(ctx.store, ctx.event.room_id):
        return None
    for proposal in reversed(await store.proposals_of(ctx.store, alliance.id)):
        if (await store.rounds_of(ctx.store, proposal.id))[-1].is_open:
            return proposal
    return None


async def _who_hasnt(ctx: Context, proposal: Proposal) -> Reply:
    round_ = (await store.rounds_of(ctx.store, proposal.id))[-1]
    found = await standing(ctx.services, round_, proposal.alliance_id)
    wanted = "none" if not round_.is_open else None
    waiting: list[dict[str, Any]] = []
    for seat in found.counted_seats:
        if seat.position != wanted:
            continue
        room = ctx.services.room(seat.room_id)
        spokes = await store.spokes_of(ctx.store, seat.room_id)
        waiting.append(
            {
                "movement": seat.movement_name,
                "spokes": [room.display_name(s.user_id) for s in spokes],
            }
        )
    return Reply(
        "council_whohasnt",
        {
            "number": proposal.number,
            "round": round_.round,
            "open": round_.is_open,
            "closes": polls.local_time(round_.closes_at, ctx),
            "waiting": waiting,
            "counted": len(found.counted_seats),
        },
    )


# -- reviews, by the reconciler ----------------------------------------------------------------


async def keep_up(services: Services) -> None:
    """The council's timer: what `proposals.reconcile` does, then the reviews that are due."""
    await reconcile(services)
    await review_due(services, services.now_ms())


async def review_due(services: Services, now: int) -> None:
    """Open the review of every proposal whose outcome's review date has come (once each)."""
    for outcome in await store.due_reviews(services.store, now):
        try:
            await _review(services, outcome, now)
        except Exception:
            log.exception("The review of council proposal %d failed", outcome.proposal_id)


async def _review(services: Services, outcome: store.ProposalOutcome, now: int) -> None:
    old = await store.proposal_by_id(services.store, outcome.proposal_id)
    alliance = None if old is None else await alliance_by_id(services.store, old.alliance_id)
    if old is None or alliance is None:
        await store.mark_reviewed(services.store, outcome.proposal_id, 0)
        return
    key = EventID(f"{old.command_event_id}/review")
    replayed = await store.round_by_event(services.store, key)
    if replayed is None:
        movements = await movements_of(services.store, alliance.id, statuses=("active",))
        if not movements:
            log.info("No movement to ask again about proposal %d of an alliance", old.number)
            await store.mark_reviewed(services.store, old.id, 0)
            return
        latest = (await store.rounds_of(services.store, old.id))[-1]
        proposal, round_ = await store.open_proposal(
            services.store,
            alliance_id=alliance.id,
            commons_room_id=old.commons_room_id,
            proposer=UserID(services.config.user_id),
            command_event_id=key,
            at=now,
            text=services.say(
                old.commons_room_id,
                Words("council.review_text", {"number": old.number, "text": latest.text}),
            ),
            rule=format_alliance_rule(await alliance_rule(services, alliance.id)),
            closes_at=now + DEFAULT_DAYS * DAY_MS,
            seats=[store.NewSeat(m.id, m.name, m.room_id) for m in movements],
        )
    else:
        round_ = replayed
        found = await store.proposal_by_id(services.store, round_.proposal_id)
        assert found is not None
        proposal = found
    await store.mark_reviewed(services.store, old.id, proposal.id)
    await post_root(services, proposal, round_)
    services.signal(CHANGED)
