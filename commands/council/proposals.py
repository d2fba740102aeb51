"""Alliance proposals: the commons asks, each movement decides by its own poll in its own room,
and the alliance's rule counts movements, not people (a spokescouncil).

- `!proposal <text>` in the commons opens proposal N, round 1: the bot posts it in the commons as
  the root of its thread, and the reconciler (:func:`reconcile`, a timer) posts it with a
  consensus poll in every movement room that was active at that moment (its seats).
- A movement's position is what its poll settles on under its own room's rule
  (`rules.position_of`); its moderators may close it early, else it closes with the round.
- The round closes when every counted movement has a position, at its deadline, or early by a
  commons moderator (`!proposal close N`: movements still deciding then take no position). The
  outcome under the alliance's rule (`rules.tally_movements`) is posted once in the commons
  thread and once in each movement room.
- `!proposal amend N <text>` opens the next round after one that did not pass or drew
  reservations, showing what changed.

Restart safety: everything is keyed by the command's event (proposal, round, thread root, every
notice's transaction id), a seat's poll is keyed by its round and room, a position or an outcome
is only ever written once, and the reconciler picks up whatever is not done yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from bot.contract import (
    Args,
    CommandError,
    Context,
    Reply,
    Services,
    Words,
    read_number,
    short,
    tokenize,
)
from bot.ids import EventID, RoomID, UserID
from bot.pages import Fit, Layout, page_view, wanted_page
from bot.permissions import Power
from commands import polls
from commands.alliance.shared import commons_alliance, read_alliance
from commands.alliance.store import (
    Alliance,
    Movement,
    alliance_by_id,
    movement_by_id,
    movements_of,
)
from commands.council import store
from commands.council.rules import (
    DEFAULT_RULE,
    AllianceRule,
    CouncilOutcome,
    Position,
    Reason,
    alliance_rule_words,
    format_alliance_rule,
    parse_alliance_rule,
    position_of,
    tally_movements,
    word_diff,
)
from commands.council.spokes import CHANGED, asks_spokes, remind_and_elect
from commands.council.store import Proposal, Round, Seat
from commands.links import event_link

log = logging.getLogger(__name__)

DEFAULT_DAYS: Final = 7
MIN_OPEN_MS: Final = 3600 * 1000
"""A round runs at least an hour: movements need time to decide."""
MAX_TEXT: Final = 1500
RETRY_MS: Final = 60_000
"""How long to wait before posting again in a movement room that refused the last try."""
REMIND_BEFORE_MS: Final = 24 * 3600 * 1000
"""A movement whose spokes have not given its position is reminded this long before the close."""
GIVE_UP_MS: Final = 24 * 3600 * 1000
"""How long to keep trying to tell a movement room the outcome (the bot may be out of it)."""
LATE_MS: Final = 10 * 60 * 1000
"""After its deadline, how long a round waits for its movements' polls to close and be read."""


# -- reading -----------------------------------------------------------------------------------


def rule_of(text: str | None) -> AllianceRule:
    """A stored rule (None: the default)."""
    return DEFAULT_RULE if text is None else parse_alliance_rule(text)


async def alliance_rule(services: Services, alliance_id: int) -> AllianceRule:
    return rule_of((await store.settings(services.store, alliance_id)).rule)


async def _proposal(ctx: Context, alliance: Alliance, number: int) -> Proposal:
    found = await store.proposal_by_number(ctx.store, alliance.id, number)
    if found is None:
        every = await store.proposals_of(ctx.store, alliance.id)
        raise CommandError(
            "council.no_such_proposal", number=number, last=every[-1].number if every else 0
        )
    return found


async def _latest(services: Services, proposal: Proposal) -> Round:
    rounds = await store.rounds_of(services.store, proposal.id)
    return rounds[-1]


def _closes_at(ctx: Context, requested: str | None) -> int:
    now = ctx.services.now_ms()  # not the sender's server's stamp, which it may set at will
    if requested is None:
        return now + DEFAULT_DAYS * 24 * 3600 * 1000
    try:
        when = polls.parse_deadline(requested, now=_utc(now), tz=ctx.config.timezone)
    except polls.DeadlineError as exc:
        raise CommandError(exc.words.key, **exc.words.data) from None
    closes_at = int(when.timestamp() * 1000)
    if closes_at < now + MIN_OPEN_MS:
        raise CommandError("council.closes_too_soon")
    return closes_at


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True)
class Standing:
    """A round's seats as they stand, and which of them count (their movement is still in
    the alliance): read in two queries whatever the alliance's size."""

    seats: list[Seat]
    counted: frozenset[int]
    active: list[Movement]

    @property
    def counted_seats(self) -> list[Seat]:
        return [seat for seat in self.seats if seat.movement_id in self.counted]

    def outcome(self, round_: Round, *, final: bool) -> CouncilOutcome:
        return tally_movements(
            rule_of(round_.rule), _positions(self.seats), sorted(self.counted), final=final
        )


async def standing(services: Services, round_: Round, alliance_id: int) -> Standing:
    seats = await store.seats_of(services.store, round_.id)
    active = await movements_of(services.store, alliance_id, statuses=("active",))
    ids = {m.id for m in active}
    return Standing(seats, frozenset(s.movement_id for s in seats if s.movement_id in ids), active)


def _positions(seats: Sequence[Seat]) -> dict[int, Position]:
    return {
        seat.movement_id: Position(seat.position, seat.reasons, given_by=seat.given_by or "poll")
        for seat in seats
        if seat.position is not None
    }


# -- commands ----------------------------------------------------------------------------------


async def proposal_command(fit: Fit, ctx: Context, args: Args) -> Reply:
    """`!proposal <text>` opens a proposal; `!proposal N` shows one (in pages that each fit
    one event, at any size of alliance)."""
    text = args.text("proposal")
    words = tokenize(text) if len(text) < 20 else []
    number = read_number(words[0]) if len(words) == 1 else None
    if number is not None:
        alliance = await read_alliance(ctx, args.option("alliance"), command="proposal")
        named = args.option("alliance") is not None
        return await show(fit, ctx, alliance, number, page=wanted_page(args), named=named)
    return await open_proposal(ctx, text, args.option("closes"))


async def open_proposal(ctx: Context, text: str, closes: str | None) -> Reply:
    alliance = await commons_alliance(ctx, doing="proposal")
    settings = await store.settings(ctx.store, alliance.id)
    if (settings.proposers or "moderators") == "moderators" and ctx.power < Power.MODERATOR:
        raise CommandError("council.moderators_propose")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise CommandError("council.text_too_long", length=len(text), limit=MAX_TEXT)
    replayed = await store.round_by_event(ctx.store, ctx.event.event_id)
    if replayed is None:
        movements = await movements_of(ctx.store, alliance.id, statuses=("active",))
        if not movements:
            raise CommandError("council.no_movements", alliance=alliance.name)
        proposal, round_ = await store.open_proposal(
            ctx.store,
            alliance_id=alliance.id,
            commons_room_id=ctx.event.room_id,
            proposer=UserID(ctx.sender),
            command_event_id=ctx.event.event_id,
            at=ctx.event.ts,
            text=text,
            rule=format_alliance_rule(rule_of(settings.rule)),
            closes_at=_closes_at(ctx, closes),
            seats=[store.NewSeat(m.id, m.name, m.room_id) for m in movements],
        )
    else:
        round_ = replayed
        found = await store.proposal_by_id(ctx.store, round_.proposal_id)
        assert found is not None
        proposal = found
    await post_root(ctx.services, proposal, round_)
    ctx.services.signal(CHANGED)
    seats = await store.seats_of(ctx.store, round_.id)
    return Reply(
        "council_opened",
        {
            "number": proposal.number,
            "alliance": alliance.name,
            "movements": [seat.movement_name for seat in seats],
            "closes": polls.local_time(round_.closes_at, ctx),
        },
    )


async def close_command(ctx: Context, args: Args) -> Reply:
    alliance = await commons_alliance(ctx, doing="close_proposal")
    proposal = await _proposal(ctx, alliance, args.get("number"))
    round_ = await _latest(ctx.services, proposal)
    if not round_.is_open:
        raise CommandError("council.already_closed", number=proposal.number)
    at = max(ctx.services.now_ms(), ctx.event.ts)
    await settle(ctx.services, proposal, round_, now=at, closing_by=UserID(ctx.sender))
    ctx.services.signal(CHANGED)
    return Reply("council_closing", {"number": proposal.number})


async def amend_command(ctx: Context, args: Args) -> Reply:
    alliance = await commons_alliance(ctx, doing="amend_proposal")
    proposal = await _proposal(ctx, alliance, args.get("number"))
    if ctx.sender != proposal.proposer and ctx.power < Power.MODERATOR:
        raise CommandError("council.amend_who")
    text = args.text("text").strip()
    if len(text) > MAX_TEXT:
        raise CommandError("council.text_too_long", length=len(text), limit=MAX_TEXT)
    replayed = await store.round_by_event(ctx.store, ctx.event.event_id)
    if replayed is None:
        latest = await _latest(ctx.services, proposal)
        if latest.is_open:
            raise CommandError("council.amend_open", number=proposal.number, round=latest.round)
        seats = await store.seats_of(ctx.store, latest.id)
        reservations = any(seat.position == "reservations" for seat in seats)
        if latest.outcome == "passed" and not reservations:
            raise CommandError("council.amend_passed", number=proposal.number)
        if " ".join(text.split()) == " ".join(latest.text.split()):
            raise CommandError("council.amend_same", number=proposal.number)
        movements = await movements_of(ctx.store, alliance.id, statuses=("active",))
        if not movements:
            raise CommandError("council.no_movements", alliance=alliance.name)
        settings = await store.settings(ctx.store, alliance.id)
        replayed = await store.open_round(
            ctx.store,
            proposal,
            text=text,
            rule=format_alliance_rule(rule_of(settings.rule)),
            opened_by=UserID(ctx.sender),
            command_event_id=ctx.event.event_id,
            at=ctx.event.ts,
            closes_at=_closes_at(ctx, args.option("closes")),
            seats=[store.NewSeat(m.id, m.name, m.room_id) for m in movements],
        )
    ctx.services.signal(CHANGED)
    return Reply(
        "council_amended",
        {
            "number": proposal.number,
            "round": replayed.round,
            "closes": polls.local_time(replayed.closes_at, ctx),
        },
    )


async def show(
    fit: Fit, ctx: Context, alliance: Alliance, number: int, *, page: int, named: bool
) -> Reply:
    proposal = await _proposal(ctx, alliance, number)
    rounds = await store.rounds_of(ctx.store, proposal.id)
    round_ = rounds[-1]
    now = await standing(ctx.services, round_, alliance.id)
    outcome = now.outcome(round_, final=not round_.is_open)
    asked = {seat.movement_id for seat in now.seats}
    later = [m.name for m in now.active if m.id not in asked]
    views = [
        _seat_view(ctx.services, seat, seat.movement_id in now.counted, ctx.event.room_id)
        for seat in now.seats
    ]
    naming = f" --alliance {alliance.slug}" if named else ""
    written = await store.proposal_outcome(ctx.store, proposal.id)

    def again(n: int) -> str:
        return f"{ctx.prefix}proposal {proposal.number}{naming} --page {n}"

    def build(layout: Layout, number: int, cut: int | None) -> Reply:
        shown, _ = layout.page(number)
        return Reply(
            "council_proposal",
            {
                "number": proposal.number,
                "alliance": alliance.name,
                "round": round_.round,
                "rounds": [{"round": r.round, "outcome": r.outcome} for r in rounds[:-1]],
                "text": round_.text if cut is None else short(round_.text, cut * 10),
                "open": round_.is_open,
                "closes": polls.local_time(round_.closes_at, ctx),
                "closed_via": round_.closed_via,
                "rule": alliance_rule_words(rule_of(round_.rule)),
                "outcome": outcome.words,
                "passed": round_.outcome == "passed",
                "written": None if written is None else written.text,
                "review": None
                if written is None or written.review_at is None
                else polls.local_time(written.review_at, ctx),
                "seats": [_cut_reasons(views[i], cut) for i in shown],
                "joined_later": later,
                "page": page_view(
                    layout,
                    number,
                    again,
                    Words(
                        "council.seats_page",
                        {"first": shown.start + 1, "last": shown.stop, "total": len(views)},
                    ),
                ),
            },
        )

    return fit.page(
        build,
        prefix=ctx.prefix,
        language=ctx.language,
        wanted=page,
        again=again,
        row_weights=[1 + sum(len(r) for r in view["reasons"]) for view in views],
    )


def _cut_reasons(view: dict[str, Any], cut: int | None) -> dict[str, Any]:
    if cut is None:
        return view
    return {**view, "reasons": [short(reason, cut) for reason in view["reasons"]]}


def _seat_view(services: Services, seat: Seat, counted: bool, reader: RoomID) -> dict[str, Any]:
    hidden = _words_stay(services, seat.room_id, reader)
    return {
        "movement": seat.movement_name,
        "position": Words("council.position", {"kind": seat.position or "deciding"}),
        "decided": seat.position is not None,
        "counted": counted,
        "voters": seat.voters,
        "by_spokes": seat.given_by == "spokes",
        "reasons": [] if hidden else [r.text for r in seat.reasons if r.text],
        "reasons_kept": hidden and any(r.text for r in seat.reasons),
    }


def _words_stay(services: Services, source: RoomID, reader: RoomID) -> bool:
    """Whether what members wrote in `source` must not be shown in `reader` (the trust rule:
    words from an encrypted room stay in encrypted rooms)."""
    return (
        source != reader and services.room(source).encrypted and not services.room(reader).encrypted
    )


async def list_command(ctx: Context, args: Args) -> Reply:
    alliance = await read_alliance(ctx, args.option("alliance"), command="proposals")
    shown = []
    for proposal in reversed(await store.proposals_of(ctx.store, alliance.id)):
        round_ = await _latest(ctx.services, proposal)
        shown.append(
            {
                "number": proposal.number,
                "round": round_.round,
                "text": round_.text,
                "open": round_.is_open,
                "closes": polls.local_time(round_.closes_at, ctx),
                "outcome": round_.outcome,
            }
        )
    return Reply("council_proposals", {"alliance": alliance.name, "proposals": shown[:20]})


class AgreementsForm:
    """`!compare agreements`: where every movement stood on each agreement of the alliance
    (offered to the alliance family as a form of `!compare`)."""

    name: Final = "agreements"

    def __init__(self, fit: Fit) -> None:
        self.fit = fit

    async def compare(self, ctx: Context, alliance: Alliance, *, page: int) -> Reply:
        rows: list[dict[str, Any]] = []
        for proposal in await store.proposals_of(ctx.store, alliance.id):
            rounds = await store.rounds_of(ctx.store, proposal.id)
            passed = [r for r in rounds if r.outcome == "passed"]
            if not passed:
                continue
            seats = await store.seats_of(ctx.store, passed[-1].id)
            rows.append(
                {
                    "number": proposal.number,
                    "text": passed[-1].text,
                    "seats": [
                        {
                            "movement": s.movement_name,
                            "position": Words("council.position", {"kind": s.position or "none"}),
                        }
                        for s in seats
                    ],
                }
            )
        active = await movements_of(ctx.store, alliance.id, statuses=("active",))
        later = sorted(
            {m.name for m in active} - {seat["movement"] for row in rows for seat in row["seats"]}
        )

        def again(n: int) -> str:
            return f"{ctx.prefix}compare agreements --alliance {alliance.slug} --page {n}"

        def build(layout: Layout, number: int, cut: int | None) -> Reply:
            shown, _ = layout.page(number)
            return Reply(
                "council_compare_agreements",
                {
                    "alliance": alliance.name,
                    "agreements": [
                        rows[i] if cut is None else {**rows[i], "text": short(rows[i]["text"], cut)}
                        for i in shown
                    ],
                    "not_asked": later,
                    "page": page_view(
                        layout,
                        number,
                        again,
                        Words(
                            "council.agreements_page",
                            {"first": shown.start + 1, "last": shown.stop, "total": len(rows)},
                        ),
                    ),
                },
            )

        return self.fit.page(
            build,
            prefix=ctx.prefix,
            language=ctx.language,
            wanted=page,
            again=again,
            row_weights=[len(row["text"]) + 30 * len(row["seats"]) for row in rows],
        )


async def agreements_command(ctx: Context, args: Args) -> Reply:
    """The proposals that passed: the alliance's agreements."""
    alliance = await read_alliance(ctx, args.option("alliance"), command="agreements")
    shown = []
    for proposal in await store.proposals_of(ctx.store, alliance.id):
        rounds = await store.rounds_of(ctx.store, proposal.id)
        passed = [r for r in rounds if r.outcome == "passed"]
        if not passed:
            continue
        round_ = passed[-1]
        seats = await store.seats_of(ctx.store, round_.id)
        written = await store.proposal_outcome(ctx.store, proposal.id)
        shown.append(
            {
                "number": proposal.number,
                "text": round_.text,
                "written": None if written is None else written.text,
                "date": polls.local_time(round_.closed_at or round_.closes_at, ctx),
                "rule": alliance_rule_words(rule_of(round_.rule)),
                "agreed": [
                    s.movement_name for s in seats if s.position in ("agree", "reservations")
                ],
                "stood_aside": [s.movement_name for s in seats if s.position == "stand_aside"],
                "blocked": [s.movement_name for s in seats if s.position == "block"],
            }
        )
    return Reply("council_agreements", {"alliance": alliance.name, "agreements": shown})


# -- the reconciler ----------------------------------------------------------------------------

SIDE_BY_SIDE: Final = 8
"""Movement rooms a round writes to at once (its asks, its outcome): the homeserver takes them
side by side, and the bot's outbox still paces each room. One after another, 100 rooms took
3.5 s to be told an outcome (`council.round`)."""

_S = TypeVar("_S")
_R = TypeVar("_R")


async def side_by_side(items: Sequence[_S], act: Callable[[_S], Awaitable[_R]]) -> list[_R]:
    """`act` on every item, `SIDE_BY_SIDE` at a time; the results in the items' order."""
    gate = asyncio.Semaphore(SIDE_BY_SIDE)

    async def one(item: _S) -> _R:
        async with gate:
            return await act(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def reconcile(services: Services) -> None:
    """Do what is due: post what is not posted, record positions, close and announce rounds;
    remind rooms of spokes' ended terms and settle spoke elections."""
    now = services.now_ms()
    try:
        await remind_and_elect(services, now)
    except Exception:
        log.exception("Spokes' terms or elections could not be settled")
    for round_ in await store.open_rounds(services.store):
        try:
            await _advance(services, round_, now)
        except Exception:
            log.exception("Council round %d could not advance", round_.id)
    for round_ in await store.unannounced_rounds(services.store):
        try:
            await announce(services, round_, now)
        except Exception:
            log.exception("Council round %d could not be announced", round_.id)


async def _advance(services: Services, round_: Round, now: int) -> None:
    proposal = await store.proposal_by_id(services.store, round_.proposal_id)
    assert proposal is not None
    if not await post_root(services, proposal, round_):
        return
    remind = round_.closes_at - REMIND_BEFORE_MS <= now < round_.closes_at
    long_enough = round_.closes_at - round_.opened_at > REMIND_BEFORE_MS

    async def advance_seat(seat: Seat) -> None:
        if seat.asked_at is None and seat.position is None:
            await _ask(services, proposal, round_, seat, now)
        elif remind and long_enough and _waits_for_spokes(seat):
            await _remind_spokes(services, proposal, round_, seat, now)

    await side_by_side(await store.seats_of(services.store, round_.id), advance_seat)
    await settle(services, proposal, round_, now=now, closing_by=None)


def _waits_for_spokes(seat: Seat) -> bool:
    """A movement asked without a poll (its spokes answer) that has not answered or been
    reminded. A movement asked by its poll is reminded by the poll's own reminder."""
    return (
        seat.asked_at is not None
        and seat.poll_id is None
        and seat.position is None
        and seat.reminded_at is None
    )


async def _remind_spokes(
    services: Services, proposal: Proposal, round_: Round, seat: Seat, now: int
) -> None:
    await services.notice(
        seat.room_id,
        Reply(
            "council_spokes_reminder",
            {
                "number": proposal.number,
                "movement": seat.movement_name,
                "closes": polls.local_time(round_.closes_at, services),
            },
        ),
        txn_key=f"{round_.command_event_id}/council/{seat.room_id}/reminder",
    )
    await store.mark_seat_reminded(services.store, seat, at=now)


async def post_root(services: Services, proposal: Proposal, round_: Round) -> bool:
    """The proposal in the commons (its thread's root), and each later round in that thread;
    False while the commons has not taken them."""
    if proposal.root_event_id is None:
        alliance = await alliance_by_id(services.store, proposal.alliance_id)
        assert alliance is not None
        reviewing = await store.reviewed_by(services.store, proposal.id)
        reviewed = (
            None
            if reviewing is None
            else await store.proposal_by_id(services.store, reviewing.proposal_id)
        )
        root = await services.notice(
            proposal.commons_room_id,
            Reply(
                "council_root",
                {
                    "reviews": None if reviewed is None else reviewed.number,
                    "outcome": None if reviewing is None else reviewing.text,
                    "number": proposal.number,
                    "alliance": alliance.name,
                    "text": round_.text,
                    "proposer": services.room(proposal.commons_room_id).display_name(
                        proposal.proposer
                    ),
                    "closes": polls.local_time(round_.closes_at, services),
                    "rule": alliance_rule_words(rule_of(round_.rule)),
                },
            ),
            txn_key=f"{proposal.command_event_id}/council/root",
        )
        if root is None:
            return False
        await store.set_root(services.store, proposal.id, root)
        proposal = await store.proposal_by_id(services.store, proposal.id) or proposal
    if round_.round > 1 and round_.opened_event_id is None:
        rounds = await store.rounds_of(services.store, proposal.id)
        before = next(r for r in rounds if r.round == round_.round - 1)
        opened = await services.notice(
            proposal.commons_room_id,
            Reply(
                "council_round",
                {
                    "number": proposal.number,
                    "round": round_.round,
                    "diff": word_diff(before.text, round_.text),
                    "closes": polls.local_time(round_.closes_at, services),
                },
            ),
            txn_key=f"{round_.command_event_id}/council/round",
            thread_root=proposal.root_event_id,
        )
        if opened is None:
            return False
        await store.set_opened_event(services.store, round_.id, opened)
    return True


async def _ask(services: Services, proposal: Proposal, round_: Round, seat: Seat, now: int) -> None:
    """Post the proposal and the movement's own poll in its room (again after a refusal)."""
    if seat.tried_at is not None and now - seat.tried_at < RETRY_MS:
        return
    movement = await movement_by_id(services.store, seat.movement_id)
    if movement is None or movement.status != "active":
        return
    alliance = await alliance_by_id(services.store, proposal.alliance_id)
    assert alliance is not None
    assert proposal.root_event_id is not None
    await store.tried(services.store, seat, at=now)
    key = f"{round_.command_event_id}/council/{seat.room_id}"
    link = event_link(proposal.commons_room_id, proposal.root_event_id, services.config.server_name)
    view = {
        "number": proposal.number,
        "round": round_.round,
        "alliance": alliance.name,
        "movement": seat.movement_name,
        "link": link,
        "closes": polls.local_time(round_.closes_at, services),
        "rule": alliance_rule_words(rule_of(round_.rule)),
        "text": round_.text,
    }
    if await asks_spokes(services, seat.room_id):
        asked = await services.notice(
            seat.room_id, Reply("council_ask_spokes", view), txn_key=f"{key}/spokes"
        )
        if asked is not None:
            await store.set_asked(services.store, seat, at=now, poll_id=None)
        return
    question = services.say(
        seat.room_id,
        Words(
            "council.poll_question",
            {"alliance": alliance.name, "number": proposal.number, "text": round_.text},
        ),
    )
    try:
        poll = await polls.open_consensus_poll(
            services,
            room_id=seat.room_id,
            proposal=question,
            creator=UserID(services.config.user_id),
            txn_key=EventID(f"{key}/poll"),
            closes_at=round_.closes_at,
            decision=True,
        )
    except CommandError:
        log.warning("Could not post proposal %d in movement %d", proposal.id, seat.movement_id)
        return
    await store.set_asked(services.store, seat, at=now, poll_id=poll.id)
    await services.notice(
        seat.room_id,
        Reply("council_ask", {**view, "poll": poll.number}),
        txn_key=f"{key}/intro",
        answering=polls.start_event(poll, services),
    )


async def settle(
    services: Services, proposal: Proposal, round_: Round, *, now: int, closing_by: UserID | None
) -> None:
    """Record every position the movements' polls settled on, then close the round if it is
    done: every counted movement answered, its deadline passed, or `closing_by` closes it."""
    waiting = [
        seat
        for seat in await store.seats_of(services.store, round_.id)
        if seat.position is None and seat.poll_id is not None
    ]
    settled = await polls.settled_among(services.store, [s.poll_id for s in waiting if s.poll_id])
    for seat in waiting:
        if seat.poll_id in settled:
            await _read_position(services, seat, now)
    found = await standing(services, round_, proposal.alliance_id)
    seats, counted = found.seats, found.counted_seats
    everyone = all(seat.position is not None for seat in counted)
    if closing_by is None and not everyone:
        if now < round_.closes_at:
            return
        waiting = [s for s in counted if s.position is None and s.poll_id is not None]
        if waiting and now < round_.closes_at + LATE_MS:
            return  # the polls close at the same time: wait for them to be read
    for seat in counted:
        if seat.position is None:
            await store.set_position(
                services.store,
                seat,
                position="none",
                reasons=(),
                voters=0,
                given_by="closed",
                by=None,
                at=now,
            )
    outcome = (await standing(services, round_, proposal.alliance_id)).outcome(round_, final=True)
    via: store.ClosedVia = "command" if closing_by else ("everyone" if everyone else "deadline")
    at = min(now, round_.closes_at)
    closed = await store.close_round(
        services.store,
        round_.id,
        at=at,
        via=via,
        by=closing_by,
        outcome="passed" if outcome.state == "passed" else "not_passed",
    )
    if closed and closing_by is not None:
        for seat in seats:
            if seat.poll_id is not None:
                await polls.close_for(services, seat.poll_id, at=at, by=closing_by)


async def _read_position(services: Services, seat: Seat, now: int) -> None:
    assert seat.poll_id is not None
    result = await polls.consensus_result(services.store, seat.poll_id)
    if result is None:
        return  # still open (or its close is not read yet)
    reasons = [Reason(o.choice, o.reason) for o in result.objections]
    position = position_of(result.outcome, reasons)
    await store.set_position(
        services.store,
        seat,
        position=position.kind,
        reasons=position.reasons,
        voters=result.outcome.counts.total,
        given_by="poll",
        by=None,
        at=result.poll.closed_at or now,
    )


async def announce(services: Services, round_: Round, now: int) -> None:
    """The outcome, once in the commons thread and once in each movement room asked."""
    proposal = await store.proposal_by_id(services.store, round_.proposal_id)
    assert proposal is not None
    alliance = await alliance_by_id(services.store, proposal.alliance_id)
    assert alliance is not None
    found = await standing(services, round_, proposal.alliance_id)
    outcome = found.outcome(round_, final=True)
    seats, counted = found.seats, found.counted

    commons_room = services.room(proposal.commons_room_id)
    asked = proposal.proposer != services.config.user_id

    def view(reader: RoomID) -> dict[str, Any]:
        in_commons = reader == proposal.commons_room_id
        return {
            "ask_outcome": commons_room.display_name(proposal.proposer)
            if in_commons and asked
            else None,
            "number": proposal.number,
            "round": round_.round,
            "alliance": alliance.name,
            "text": round_.text,
            "passed": round_.outcome == "passed",
            "outcome": outcome.words,
            "closed_via": round_.closed_via,
            "seats": [
                _seat_view(services, seat, seat.movement_id in counted, reader) for seat in seats
            ],
        }

    commons = await services.notice(
        proposal.commons_room_id,
        Reply("council_outcome", view(proposal.commons_room_id)),
        txn_key=f"{round_.command_event_id}/council/outcome",
        thread_root=proposal.root_event_id,
        mentions=[proposal.proposer] if asked else [],
    )
    if commons is None:
        return
    given_up = now - (round_.closed_at or now) > GIVE_UP_MS

    async def tell(seat: Seat) -> bool:
        if seat.told_at is not None or seat.movement_id not in counted:
            return True
        answering = None
        if seat.poll_id is not None:
            poll = await polls.get_poll(services.store, seat.poll_id)
            if poll is not None and poll.start_event_id is not None:
                answering = polls.start_event(poll, services)
        told = await services.notice(
            seat.room_id,
            Reply("council_outcome", view(seat.room_id)),
            txn_key=f"{round_.command_event_id}/council/{seat.room_id}/outcome",
            answering=answering,
        )
        if told is None:
            return False
        await store.mark_told(services.store, seat, at=now)
        return True

    all_told = all(await side_by_side(seats, tell))
    if all_told or given_up:
        await store.mark_announced(services.store, round_.id, at=now)
