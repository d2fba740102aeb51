"""The polls family: straw polls, consensus polls and each room's decision rule.

Commands: `!poll`, `!poll results [N]`, `!poll list`, `!poll close [N]`, `!vote`,
`!consensus`, `!reason`, `!rules`, `!rules set`.

How a poll lives:

1. `!poll` / `!consensus` stores the poll (keyed by the command's event id, so a re-run after a
   crash finds it) and sends a native poll (`org.matrix.msc3381.poll.start`) with a
   transaction id derived from the command, so it is never posted twice.
2. Votes arrive as poll response events (Element's buttons), caught by a listener, or as
   `!vote` commands. Every response is stored; the tally is computed when needed by
   `commands.tally.tally`, counting only members of the room. Redacting a response withdraws
   it. Voters who stand aside or block are asked for their reason in the poll's thread.
3. A poll closes by `!poll close`, by its deadline (a timer reads deadlines from SQLite, so
   this also happens after a restart, counting only votes sent before the deadline), or by
   a poll end event from someone allowed to redact others' messages (Element offers them
   "End poll"). Closing keeps a snapshot of the tally, sends the native end event and a
   results message.

Alliance-wide straw polls (`!poll --alliance` in an alliance's commons room, by a commons
moderator): the same native poll is posted in the commons and in every active movement room,
one poll per room, grouped (:class:`commands.poll_store.PollGroup`). Each room's start event
is keyed by the command's event id and the room, so a re-run after a crash never posts twice.
Votes are cast in any of the rooms and counted at three levels (`commands.poll_view`): per
movement, overall by person (each person once, their latest vote in any room), and "one
movement, one voice" (a tie splits that movement's voice equally). The group closes as one:
by `!poll close` in the commons (its creator or a commons moderator), by its deadline, or by
an end event in the commons; each room's poll gets its end event, the commons the full results
and each movement room a short result notice. An end event in a movement room ends voting in
that room only. `--hidden` hides the results everywhere until the group closes.

For the next families: :func:`open_consensus_poll` opens a consensus poll from code and
:func:`consensus_outcome` gives the structured outcome of a closed one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from bot.events import Event
from bot.ids import EventID, RoomID, UserID
from bot.permissions import MODERATOR_LEVEL, Power
from bot.store import Store
from commands import alliance_store
from commands import poll_store as db
from commands.deadlines import DeadlineError, format_deadline, parse_deadline
from commands.decision import (
    ConsensusCounts,
    Outcome,
    Rule,
    RuleError,
    decide,
    describe_rule,
    format_rule,
    parse_quorum,
    parse_rule,
)
from commands.poll_input import (
    PollInputError,
    PollRequest,
    check_reason,
    parse_choices,
    parse_poll,
    parse_proposal,
)
from commands.poll_store import Poll, PollGroup, PollKind, Seat
from commands.poll_view import (
    END_TYPE,
    END_TYPES,
    RESPONSE_TYPES,
    START_TYPE,
    Answer,
    RoomVotes,
    consensus_answers,
    end_content,
    end_text,
    objections,
    one_voice,
    one_voice_rows,
    overall_tally,
    referenced_poll,
    response_answers,
    result_rows,
    start_content,
    straw_answers,
    texts_of,
)
from commands.registry import (
    Args,
    Command,
    CommandError,
    Context,
    Flag,
    Listener,
    Param,
    Registry,
    Reply,
    Services,
    Timer,
)
from commands.tally import Tally, tally

log = logging.getLogger(__name__)

DEFAULT_RULE: Final = Rule("consensus", None)
OBJECTING: Final = frozenset({"stand_aside", "block"})
DEADLINE_CHECK_S: Final = 5.0
RECENT_MS: Final = 14 * 24 * 3600 * 1000
LIST_LIMIT: Final = 15
COMMAND_GRACE_MS: Final = 120_000
"""A poll closed by `!poll close` that is still unannounced this long after is announced by
the timer (the command failed half way)."""

CLOSES_HELP: Final = "when it closes: 48h, 3d, 90m, 1w, or a date and time like 2026-12-01 18:00"
VOTES_WAIT_S: Final = 5.0
"""How long closing an alliance-wide poll waits for votes sent before it in other rooms."""
ALLIANCE_POLL_POWER: Final = Power.MODERATOR
"""Who may start an alliance-wide poll: it is posted in every movement's own room, so a
moderator of the commons (not anyone in it) speaks for the alliance there."""


def now_ms() -> int:
    return int(time.time() * 1000)


def _when(ms: int, ctx_or_services: Context | Services) -> str:
    tz = ctx_or_services.config.timezone
    return format_deadline(datetime.fromtimestamp(ms / 1000, UTC), tz)


# -- opening polls -----------------------------------------------------------------------------


async def open_poll(
    services: Services,
    *,
    room_id: RoomID,
    creator: UserID,
    txn_key: EventID,
    kind: PollKind,
    question: str,
    answers: tuple[Answer, ...],
    max_selections: int = 1,
    hidden: bool = False,
    closes_at: int | None = None,
    rule: Rule | None = None,
    seat: db.NewSeat | None = None,
) -> Poll:
    """Store and post a native poll; the same `txn_key` (an event id) never makes two.

    With `seat`, the poll is one room's copy of an alliance-wide poll.
    Raises `CommandError` when the homeserver refuses the poll.
    """
    store = services.store
    poll = await db.create_poll(
        store,
        db.NewPoll(
            room_id=room_id,
            kind=kind,
            question=question,
            answers=answers,
            max_selections=max_selections,
            hidden=hidden,
            creator=creator,
            created_at=now_ms(),
            closes_at=closes_at,
            rule=None if rule is None else format_rule(rule),
            command_event_id=txn_key,
        ),
        seat=seat,
    )
    if poll.start_event_id is not None:
        return poll
    content = start_content(
        poll.question, poll.answers, max_selections=poll.max_selections, hidden=poll.hidden
    )
    event_id = await services.send(
        room_id, event_type=START_TYPE, content=content, txn_key=poll.command_event_id
    )
    if event_id is None:
        await db.forget_unsent_poll(store, poll.id)
        raise CommandError(
            "I could not post the poll in this room. Check that I may send messages here, "
            "then try again."
        )
    await db.set_start_event(store, poll.id, event_id)
    return replace(poll, start_event_id=event_id)


async def open_consensus_poll(
    services: Services,
    *,
    room_id: RoomID,
    proposal: str,
    creator: UserID,
    txn_key: EventID,
    closes_at: int | None = None,
) -> Poll:
    """Open a consensus poll on `proposal` under the room's current decision rule."""
    return await open_poll(
        services,
        room_id=room_id,
        creator=creator,
        txn_key=txn_key,
        kind="consensus",
        question=proposal,
        answers=consensus_answers(),
        closes_at=closes_at,
        rule=await current_rule(services.store, room_id),
    )


async def current_rule(store: Store, room_id: RoomID) -> Rule:
    """The room's decision rule for new consensus polls."""
    stored = await db.room_rule(store, room_id)
    return DEFAULT_RULE if stored is None else parse_rule(stored.rule)


def rule_of(poll: Poll) -> Rule:
    """The rule a consensus poll is decided by: the one in force when it opened."""
    return DEFAULT_RULE if poll.rule is None else parse_rule(poll.rule)


async def consensus_outcome(store: Store, poll_id: int) -> Outcome | None:
    """The outcome of a closed consensus poll; None while it is open, or for other polls.

    Decided from the tally kept at the close (the room's members then) under the rule in
    force when the poll opened, so it never changes afterwards.
    """
    result = await consensus_result(store, poll_id)
    return None if result is None else result.outcome


@dataclass(frozen=True)
class Objection:
    """Someone who blocked, stood aside or agreed with reservations, and their reason."""

    sender: UserID
    choice: str
    """The answer id: `block`, `stand_aside` or `reservations`."""
    reason: str | None


@dataclass(frozen=True)
class ConsensusResult:
    """Everything decided by a closed consensus poll, for code that acts on it."""

    poll: Poll
    outcome: Outcome
    objections: tuple[Objection, ...]
    """Blocks, then stand-asides, then reservations, each with the voter's latest reason."""


async def consensus_result(store: Store, poll_id: int) -> ConsensusResult | None:
    """The outcome of a closed consensus poll with its objections; None as for the outcome."""
    poll = await db.get_poll(store, poll_id)
    if poll is None or poll.kind != "consensus" or poll.removed or poll.result is None:
        return None
    outcome = decide(rule_of(poll), ConsensusCounts.from_mapping(poll.result.counts))
    reasons = await db.reasons(store, poll.id)
    found = [
        Objection(UserID(sender), choice, reasons.get(sender))
        for choice in ("block", "stand_aside", "reservations")
        for sender, chosen in poll.result.choices.items()
        if choice in chosen
    ]
    return ConsensusResult(poll=poll, outcome=outcome, objections=tuple(found))


async def decided_consensus_polls(store: Store, *, after_id: int = 0) -> list[Poll]:
    """Closed consensus polls with an outcome, by id, from `after_id` on (to act on them)."""
    return await db.decided_polls(store, kind="consensus", after_id=after_id)


def _deadline(text: str | None, ctx: Context) -> int | None:
    if text is None:
        return None
    when = parse_deadline(text, now=datetime.now(UTC), tz=ctx.config.timezone)
    return int(when.timestamp() * 1000)


def _usage(ctx: Context, name: str, problem: str) -> Reply:
    command = ctx.registry.lookup(name)
    usage = command.usage(ctx.prefix) if command else ctx.prefix + name
    return Reply("usage_error", {"problem": problem, "usage": usage, "name": name})


async def create_straw_poll(ctx: Context, args: Args) -> Reply:
    try:
        request = parse_poll(args.text("question"), flags=args.flags)
        closes_at = _deadline(request.closes, ctx)
    except (PollInputError, DeadlineError) as exc:
        return _usage(ctx, "poll", str(exc))
    if request.alliance:
        return await create_alliance_poll(ctx, request, closes_at)
    poll = await open_poll(
        ctx.services,
        room_id=ctx.event.room_id,
        creator=ctx.event.sender,
        txn_key=ctx.event.event_id,
        kind="straw",
        question=request.question,
        answers=straw_answers(request.options),
        max_selections=request.max_selections,
        hidden=request.hidden,
        closes_at=closes_at,
    )
    return Reply("poll_created", _created_view(ctx, poll))


async def create_consensus_poll(ctx: Context, args: Args) -> Reply:
    try:
        request = parse_proposal(args.text("proposal"), flags=args.flags)
        closes_at = _deadline(request.closes, ctx)
    except (PollInputError, DeadlineError) as exc:
        return _usage(ctx, "consensus", str(exc))
    poll = await open_consensus_poll(
        ctx.services,
        room_id=ctx.event.room_id,
        proposal=request.proposal,
        creator=ctx.event.sender,
        txn_key=ctx.event.event_id,
        closes_at=closes_at,
    )
    view = _created_view(ctx, poll)
    view["rule"] = describe_rule(rule_of(poll))
    return Reply("consensus_created", view)


def _created_view(ctx: Context, poll: Poll) -> dict[str, Any]:
    return {
        "number": poll.number,
        "closes": None if poll.closes_at is None else _when(poll.closes_at, ctx),
        "multi": poll.max_selections,
        "hidden": poll.hidden,
        "options": len(poll.answers),
    }


# -- finding the poll a command is about ------------------------------------------------------


class _NoPoll(Exception):
    """The command does not lead to a poll; the text says why."""


async def _replied_poll(ctx: Context) -> Poll | None:
    """The poll the command answers: as a reply to it, or in its thread."""
    for event_id in (ctx.event.reply_to, ctx.event.thread_root):
        if event_id is not None:
            poll = await db.poll_by_start(ctx.store, ctx.event.room_id, event_id)
            if poll is not None and not poll.removed:
                return poll
    return None


def _number(text: str) -> int | None:
    cleaned = text.strip().lstrip("#")
    if not cleaned:
        return None
    if not cleaned.isdecimal():
        raise _NoPoll(f"'{text.strip()[:30]}' is not a poll number; give one like 3.")
    return int(cleaned)


async def _named_poll(ctx: Context, text: str, *, fallback_any: bool) -> Poll:
    """The poll named by number, else the one replied to, else the latest open one."""
    room_id = ctx.event.room_id
    number = _number(text)
    if number is not None:
        poll = await db.poll_by_number(ctx.store, room_id, number)
        if poll is None:
            raise _NoPoll(
                f"There is no poll #{number} in this room. "
                f"Type {ctx.prefix}poll list to see the polls here."
            )
        return poll
    poll = await _replied_poll(ctx)
    if poll is None:
        poll = await db.latest_poll(ctx.store, room_id, open_only=True)
    if poll is None and fallback_any:
        poll = await db.latest_poll(ctx.store, room_id, open_only=False)
    if poll is None:
        raise _NoPoll(
            "There is no open poll in this room. Give a poll's number, or start a poll "
            f"with {ctx.prefix}poll."
        )
    return poll


async def _voting_poll(ctx: Context, *, kind: PollKind | None) -> Poll:
    """The poll a `!vote` or `!reason` is for: replied to, in its thread, or the only one open."""
    poll = await _replied_poll(ctx)
    if poll is not None:
        if kind == "consensus" and poll.kind != "consensus":
            raise _NoPoll(f"Poll #{poll.number} is a straw poll; reasons are for consensus polls.")
        return poll
    candidates = await db.open_polls(ctx.store, ctx.event.room_id, kind=kind)
    if len(candidates) == 1:
        return candidates[0]
    what = "consensus poll" if kind == "consensus" else "poll"
    if not candidates:
        raise _NoPoll(f"There is no open {what} in this room.")
    numbers = ", ".join(f"#{p.number}" for p in candidates)
    raise _NoPoll(
        f"Several {what}s are open ({numbers}). Reply to the one you mean, or write in its thread."
    )


def _looks_like_a_poll(text: str) -> bool:
    return "\n" in text.strip() or any(q in text for q in '"“”«»„')


def _typed_word(ctx: Context, rest: str, word: str) -> str:
    """The sub-command word as the person typed it (its case), just before `rest`."""
    body = str(ctx.event.content.get("body", ""))
    index = body.find(rest)
    if index > 0:
        before = body[:index].split()
        if before and before[-1].lower() == word:
            return before[-1]
    return word


async def _maybe_a_question(ctx: Context, args: Args, word: str) -> Reply | None:
    """`!poll close the office?` + options is a poll whose question starts with `close`."""
    rest = args.text("number")
    if not _looks_like_a_poll(rest):
        return None
    question = f"{_typed_word(ctx, rest, word)} {rest}"
    return await create_straw_poll(ctx, replace(args, values={"question": question}))


# -- results -----------------------------------------------------------------------------------


async def live_tally(services: Services, poll: Poll) -> Tally:
    """The poll's tally now (members of the room now), or the one kept at its close."""
    if poll.result is not None:
        return poll.result
    return tally(
        await db.latest_ballots(services.store, poll.id, closed_at=poll.closed_at),
        answer_ids=poll.answer_ids,
        max_selections=poll.max_selections,
        closed_at=poll.closed_at,
        members=services.room(poll.room_id).joined(),
    )


def _status(services: Services, poll: Poll | PollGroup) -> str:
    """Open or closed, until when or since when, and by whom, in one sentence."""
    room = services.room(poll.room_id if isinstance(poll, Poll) else poll.commons_room_id)
    if poll.closed_at is None:
        if poll.closes_at is None:
            return "Open, no deadline."
        return f"Open until {_when(poll.closes_at, services)}."
    if poll.closed_via == "deadline":
        return f"Closed at its deadline, {_when(poll.closed_at, services)}."
    if poll.closed_via == "removed" and isinstance(poll, PollGroup):
        return f"Withdrawn: its poll in the commons was removed, {_when(poll.closed_at, services)}."
    who = room.display_name(poll.closed_by) if poll.closed_by else "someone"
    return f"Closed by {who}, {_when(poll.closed_at, services)}."


async def _results_view(services: Services, poll: Poll, result: Tally) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": poll.number,
        "question": poll.question,
        "consensus": poll.kind == "consensus",
        "closed": not poll.is_open,
        "status": _status(services, poll),
        "rows": result_rows(poll.answers, result),
        "voters": result.voters,
        "spoiled": result.spoiled,
        "multi": poll.max_selections,
        "outcome": None,
        "objections": [],
        "just_closed": False,
    }
    if poll.kind == "consensus":
        rule = rule_of(poll)
        outcome = decide(rule, ConsensusCounts.from_mapping(result.counts))
        data["outcome"] = {
            "passed": outcome.passed,
            "reason": outcome.reason,
            "rule": format_rule(rule),
            "rule_text": describe_rule(rule),
        }
        room = services.room(poll.room_id)
        names = {sender: room.display_name(sender) for sender in result.choices}
        data["objections"] = objections(result, await db.reasons(services.store, poll.id), names)
    return data


async def show_results(ctx: Context, args: Args) -> Reply:
    if (question := await _maybe_a_question(ctx, args, "results")) is not None:
        return question
    try:
        poll = await _named_poll(ctx, args.text("number"), fallback_any=True)
    except _NoPoll as exc:
        return _usage(ctx, "poll results", str(exc))
    group = await db.group_of(ctx.store, poll.id)
    if group is not None:
        return await _show_group_results(ctx, poll, group)
    if poll.hidden and poll.is_open:
        return Reply(
            "poll_hidden",
            {
                "number": poll.number,
                "closes": None if poll.closes_at is None else _when(poll.closes_at, ctx),
            },
        )
    result = await live_tally(ctx.services, poll)
    return Reply("poll_results", await _results_view(ctx.services, poll, result))


async def list_polls(ctx: Context, args: Args) -> Reply:
    polls = await db.recent_polls(
        ctx.store, ctx.event.room_id, closed_since=now_ms() - RECENT_MS, limit=LIST_LIMIT
    )
    grouped = await db.grouped_poll_ids(ctx.store, [poll.id for poll in polls])
    rows = []
    for poll in polls:
        hidden = poll.hidden and poll.is_open
        rows.append(
            {
                "number": poll.number,
                "question": _first_line(poll.question),
                "consensus": poll.kind == "consensus",
                "alliance": poll.id in grouped,
                "status": _status(ctx.services, poll),
                "voters": None if hidden else (await live_tally(ctx.services, poll)).voters,
                "open": poll.is_open,
            }
        )
    return Reply("poll_list", {"polls": rows})


def _first_line(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else f"{line[: limit - 1]}…"


# -- closing ----------------------------------------------------------------------------------


async def _seal(services: Services, poll: Poll) -> Poll:
    """After the close: keep the tally and send the native end event (each only once)."""
    store = services.store
    if poll.result is None:
        result = await live_tally(services, poll)
        await db.save_result(store, poll.id, result)
        poll = replace(poll, result=result)
    assert poll.result is not None
    if poll.end_event_id is None and poll.closed_via in ("command", "deadline"):
        assert poll.start_event_id is not None
        content = end_content(poll.start_event_id, end_text(poll.answers, poll.result))
        end_id = await services.send(
            poll.room_id, event_type=END_TYPE, content=content, txn_key=poll.command_event_id
        )
        if end_id is not None:
            await db.set_end_event(store, poll.id, end_id)
            poll = replace(poll, end_event_id=end_id)
    return poll


def _start_event(poll: Poll, services: Services) -> Event:
    """The poll's start event, enough of it to answer it."""
    assert poll.start_event_id is not None
    return Event(
        event_id=poll.start_event_id,
        room_id=poll.room_id,
        sender=services.config.user_id,
        type=START_TYPE,
        ts=poll.created_at,
        content={},
    )


async def announce_close(services: Services, poll: Poll) -> None:
    """Seal a closed poll and post its results as an answer to the poll."""
    if poll.announced or poll.closed_at is None or poll.start_event_id is None:
        return
    poll = await _seal(services, poll)
    assert poll.result is not None
    view = await _results_view(services, poll, poll.result)
    view["just_closed"] = True
    await services.notice(
        poll.room_id,
        Reply("poll_results", view),
        txn_key=f"{poll.command_event_id}:results",
        answering=_start_event(poll, services),
    )
    await db.mark_announced(services.store, poll.id)


async def close_poll(ctx: Context, args: Args) -> Reply:
    if (question := await _maybe_a_question(ctx, args, "close")) is not None:
        return question
    poll = await db.poll_closed_by(ctx.store, ctx.event.event_id)  # handled before a crash
    if poll is None:
        try:
            poll = await _named_poll(ctx, args.text("number"), fallback_any=False)
        except _NoPoll as exc:
            return _usage(ctx, "poll close", str(exc))
    group = await db.group_of(ctx.store, poll.id)
    if group is not None:
        return await _close_group_command(ctx, poll, group)
    if poll.closed_at is not None and poll.close_event_id != ctx.event.event_id:
        return Reply("poll_closed", {"number": poll.number, "action": "close"})
    if poll.closed_at is None:
        if ctx.event.sender != poll.creator and ctx.power < Power.MODERATOR:
            return Reply(
                "poll_close_refused",
                {"number": poll.number, "creator": ctx.room.display_name(poll.creator)},
            )
        # The homeserver's clock (the command's timestamp) if ours is behind it.
        closed_at = max(now_ms(), ctx.event.ts)
        if poll.closes_at is not None:
            closed_at = min(closed_at, poll.closes_at)
        closed = await db.close_poll(
            ctx.store,
            poll.id,
            closed_at=closed_at,
            via="command",
            closed_by=ctx.event.sender,
            close_event_id=ctx.event.event_id,
        )
        reloaded = await db.get_poll(ctx.store, poll.id)
        assert reloaded is not None
        poll = reloaded
        if not closed:
            return Reply("poll_closed", {"number": poll.number, "action": "close"})
    poll = await _seal(ctx.services, poll)
    await db.mark_announced(ctx.store, poll.id)
    assert poll.result is not None
    view = await _results_view(ctx.services, poll, poll.result)
    view["just_closed"] = True
    return Reply("poll_results", view)


async def close_due_polls(services: Services) -> None:
    """The deadline timer: close polls whose deadline passed, announce unannounced closes."""
    store = services.store
    now = now_ms()
    for poll in await db.due_polls(store, now):
        assert poll.closes_at is not None
        if await db.waiting_events_before(store, poll.room_id, poll.closes_at):
            continue  # votes cast in time are still waiting to be read
        if await db.close_poll(store, poll.id, closed_at=poll.closes_at, via="deadline"):
            log.info("Poll %d in %s reached its deadline", poll.number, poll.room_id)
    for poll in await db.unannounced_polls(store, commands_closed_before=now - COMMAND_GRACE_MS):
        try:
            await announce_close(services, poll)
        except Exception:
            log.exception("Announcing the close of poll %d in %s failed", poll.number, poll.room_id)
    await _close_due_groups(services, now)


# -- alliance-wide polls -------------------------------------------------------------------------


def seat_key(command_event_id: str, room_id: str) -> EventID:
    """The key of one room's copy of an alliance-wide poll: its row, and its events' txn ids."""
    return EventID(f"{command_event_id}/alliance-poll/{room_id}")


async def _not_a_commons(ctx: Context) -> str:
    """Why `--alliance` cannot be used in this room, and what to do instead."""
    mine = await alliance_store.alliances_of_room(ctx.store, ctx.event.room_id)
    if mine:
        names = " and ".join(a.name for a in mine)
        return (
            f"Alliance-wide polls start in the commons room of {names}; this room is a movement "
            f"of it. Ask there, or start a poll for this room alone: {ctx.prefix}poll without "
            "--alliance."
        )
    return (
        "This room is not an alliance's commons room, so there is no alliance to poll. "
        f"Start a poll for this room alone with {ctx.prefix}poll without --alliance. To start "
        f"an alliance, a bot admin types {ctx.prefix}alliance create <name> in the room that "
        "will be its commons."
    )


async def create_alliance_poll(ctx: Context, request: PollRequest, closes_at: int | None) -> Reply:
    """`!poll --alliance`: the same poll in the commons and in every active movement room."""
    store = ctx.store
    commons = ctx.event.room_id
    alliance = await alliance_store.alliance_by_commons(store, commons)
    if alliance is None:
        raise CommandError(await _not_a_commons(ctx))
    if ctx.power < ALLIANCE_POLL_POWER:
        raise CommandError(
            "Only a moderator of this commons room (power level 50 or more) may start an "
            "alliance-wide poll, because it is posted in every movement's own room. Ask one of "
            f"them, or start a poll for this room alone: {ctx.prefix}poll without --alliance."
        )
    movements = await alliance_store.movements_of(store, alliance.id, statuses=("active",))
    group = await db.create_group(
        store,
        db.NewGroup(
            alliance_id=alliance.id,
            commons_room_id=commons,
            creator=ctx.event.sender,
            created_at=now_ms(),
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
                    "closes": None if closes_at is None else _when(closes_at, ctx),
                    "hidden": request.hidden,
                    "multi": request.max_selections,
                },
            ),
            txn_key=f"{copy.command_event_id}:intro",
            answering=_start_event(copy, ctx.services),
        )
    view = _created_view(ctx, poll)
    view.update({"alliance": alliance.name, "movements": posted, "missed": missed})
    return Reply("poll_alliance_created", view)


async def _group_seats(services: Services, group: PollGroup) -> list[Seat]:
    """The group's rooms whose poll still stands (a poll that was removed no longer counts)."""
    return [seat for seat in await db.seats(services.store, group.id) if not seat.poll.removed]


async def _overall(services: Services, seats: list[Seat], poll: Poll) -> Tally:
    """Everyone's votes across the rooms, each person once (see `poll_view.overall_tally`).

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
    alliance = await alliance_store.alliance_by_id(services.store, group.alliance_id)
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
                "name": seat.movement_name or "The commons",
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
        "alliance": alliance.name if alliance else "the alliance",
        "question": here.question,
        "status": _status(services, group),
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


async def _show_group_results(ctx: Context, poll: Poll, group: PollGroup) -> Reply:
    if group.hidden and group.is_open:
        return Reply(
            "poll_hidden",
            {
                "number": poll.number,
                "closes": None if group.closes_at is None else _when(group.closes_at, ctx),
            },
        )
    return Reply("poll_alliance_results", await _group_view(ctx.services, group, poll))


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
            closed_at=closed_at if poll.closes_at is None else min(closed_at, poll.closes_at),
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
            await _seal(services, seat.poll)
    seats = await _group_seats(services, group)
    if group.result is None and seats:
        await db.save_group_result(store, group.id, await _overall(services, seats, seats[0].poll))
    reloaded = await db.get_group(store, group.id)
    assert reloaded is not None
    return reloaded


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
                    "question": _first_line(seat.poll.question),
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
            answering=_start_event(seat.poll, services),
        )


async def announce_group_close(services: Services, group: PollGroup) -> None:
    """Seal a closed alliance-wide poll; results in the commons, a notice in each movement room."""
    if group.announced or group.closed_at is None:
        return
    group = await seal_group(services, group)
    seats = await _group_seats(services, group)
    commons = next((seat.poll for seat in seats if seat.is_commons), None)
    if commons is not None:
        await _tell_movements(services, group, seats)
        view = await _group_view(services, group, commons, seats)
        view["just_closed"] = True
        await services.notice(
            commons.room_id,
            Reply("poll_alliance_results", view),
            txn_key=f"{commons.command_event_id}:results",
            answering=_start_event(commons, services),
        )
    await db.mark_group_announced(services.store, group.id)


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
        waiting = False
        for room in rooms:
            if await db.waiting_events_before(services.store, room, before):
                waiting = True
                break
        if not waiting:
            return
        await asyncio.sleep(0.1)
    log.info("Closing alliance poll %d with votes still unread in a movement room", group.id)


async def _close_group_command(ctx: Context, poll: Poll, group: PollGroup) -> Reply:
    """`!poll close` on a room's copy of an alliance-wide poll: only in the commons."""
    if group.closed_at is not None and group.close_event_id != ctx.event.event_id:
        return Reply("poll_closed", {"number": poll.number, "action": "close"})
    commons_polls = [s.poll for s in await db.seats(ctx.store, group.id) if s.is_commons]
    if poll.room_id != group.commons_room_id:
        alliance = await alliance_store.alliance_by_id(ctx.store, group.alliance_id)
        return Reply(
            "poll_alliance_close_elsewhere",
            {
                "number": poll.number,
                "alliance": alliance.name if alliance else "the alliance",
                "commons_number": commons_polls[0].number if commons_polls else poll.number,
                "creator": ctx.services.room(group.commons_room_id).display_name(group.creator),
            },
        )
    if group.closed_at is None:
        if ctx.event.sender != group.creator and ctx.power < Power.MODERATOR:
            return Reply(
                "poll_close_refused",
                {"number": poll.number, "creator": ctx.room.display_name(group.creator)},
            )
        closed_at = max(now_ms(), ctx.event.ts)
        if group.closes_at is not None:
            closed_at = min(closed_at, group.closes_at)
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
    view = await _group_view(ctx.services, group, poll, seats)
    view["just_closed"] = True
    return Reply("poll_alliance_results", view)


async def _group_end(
    services: Services, event: Event, poll: Poll, group: PollGroup
) -> Reply | None:
    """A poll end event (Element's "End poll") on a room's copy of an alliance-wide poll.

    In the commons it closes the alliance-wide poll everywhere. In a movement room it ends
    voting in that room only (as Element there now shows); the rest of the alliance votes on.
    """
    if not group.is_open:
        return None
    closed_at = event.ts if poll.closes_at is None else min(event.ts, poll.closes_at)
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
    if not await db.close_poll(
        services.store,
        poll.id,
        closed_at=closed_at,
        via="end_event",
        closed_by=event.sender,
        close_event_id=event.event_id,
    ):
        return None
    await db.mark_announced(services.store, poll.id)
    alliance = await alliance_store.alliance_by_id(services.store, group.alliance_id)
    return Reply(
        "poll_alliance_room_ended",
        {
            "number": poll.number,
            "alliance": alliance.name if alliance else "the alliance",
            "name": services.room(poll.room_id).display_name(event.sender),
        },
    )


async def _close_due_groups(services: Services, now: int) -> None:
    """The deadline timer's part for alliance-wide polls: close them whole, then announce."""
    store = services.store
    for group in await db.due_groups(store, now):
        assert group.closes_at is not None
        waiting = False
        for seat in await db.seats(store, group.id):
            if await db.waiting_events_before(store, seat.poll.room_id, group.closes_at):
                waiting = True  # votes cast in time are still waiting to be read
                break
        if waiting:
            continue
        if await close_group(services, group, closed_at=group.closes_at, via="deadline"):
            log.info("Alliance poll %d reached its deadline", group.id)
    for group in await db.unannounced_groups(store, commands_closed_before=now - COMMAND_GRACE_MS):
        try:
            await announce_group_close(services, group)
        except Exception:
            log.exception("Announcing the close of alliance poll %d failed", group.id)


# -- votes and reasons -------------------------------------------------------------------------


def _option_names(poll: Poll) -> list[list[str]]:
    names = [[answer.text] for answer in poll.answers]
    if poll.kind == "consensus":
        for names_of, answer in zip(names, poll.answers, strict=True):
            names_of.append(answer.id)
    return names


async def _ask_for_reason(services: Services, poll: Poll, sender: UserID, *, trigger: str) -> None:
    """Ask, in the poll's thread, a person who stands aside or blocks for their reason (once)."""
    store = services.store
    if await db.was_asked_for_reason(store, poll.id, sender):
        return
    if sender in await db.reasons(store, poll.id):
        return
    assert poll.start_event_id is not None
    result = await live_tally(services, poll)
    chosen = result.choices.get(sender, ())
    label = next((a.text for a in poll.answers if a.id in chosen), "Stand aside or Block")
    await services.notice(
        poll.room_id,
        Reply(
            "consensus_reason_ask",
            {
                "name": services.room(poll.room_id).display_name(sender),
                "choice": label,
                "number": poll.number,
            },
        ),
        txn_key=f"{trigger}:reason",
        thread_root=poll.start_event_id,
    )
    await db.mark_asked_for_reason(store, poll.id, sender)


async def vote(ctx: Context, args: Args) -> Reply:
    try:
        poll = await _voting_poll(ctx, kind=None)
    except _NoPoll as exc:
        return _usage(ctx, "vote", str(exc))
    if not poll.accepts_vote_at(ctx.event.ts):
        return Reply("poll_closed", {"number": poll.number, "action": "vote"})
    try:
        indexes = parse_choices(
            args.text("choices"), _option_names(poll), max_selections=poll.max_selections
        )
    except PollInputError as exc:
        return _usage(ctx, "vote", str(exc))
    answers = [poll.answers[index].id for index in indexes]
    await db.add_response(
        ctx.store,
        event_id=ctx.event.event_id,
        poll_id=poll.id,
        sender=ctx.event.sender,
        answers=answers,
        ts=ctx.event.ts,
        via="text",
    )
    wants_reason = (
        poll.kind == "consensus"
        and bool(answers)
        and answers[0] in OBJECTING
        and ctx.event.sender not in await db.reasons(ctx.store, poll.id)
    )
    if wants_reason:
        await db.mark_asked_for_reason(ctx.store, poll.id, ctx.event.sender)
    return Reply(
        "poll_vote_counted",
        {
            "number": poll.number,
            "chosen": [poll.answers[index].text for index in indexes],
            "ask_reason": wants_reason,
        },
    )


async def give_reason(ctx: Context, args: Args) -> Reply:
    try:
        poll = await _voting_poll(ctx, kind="consensus")
        reason = check_reason(args.text("reason"))
    except _NoPoll as exc:
        return _usage(ctx, "reason", str(exc))
    except PollInputError as exc:
        return _usage(ctx, "reason", str(exc))
    if not poll.accepts_vote_at(ctx.event.ts):
        return Reply("poll_closed", {"number": poll.number, "action": "reason"})
    await db.add_reason(
        ctx.store,
        event_id=ctx.event.event_id,
        poll_id=poll.id,
        sender=ctx.event.sender,
        reason=reason,
        ts=ctx.event.ts,
    )
    return Reply(
        "consensus_reason_noted",
        {"number": poll.number, "name": ctx.room.display_name(ctx.event.sender)},
    )


# -- listeners: native votes, ends and redactions ---------------------------------------------


async def on_response(services: Services, event: Event) -> Reply | None:
    start = referenced_poll(event.content)
    if start is None:
        return None
    poll = await db.poll_by_start(services.store, event.room_id, start)
    if poll is None or poll.removed:
        return None
    answers = response_answers(event.content)
    await db.add_response(
        services.store,
        event_id=event.event_id,
        poll_id=poll.id,
        sender=event.sender,
        answers=answers,
        ts=event.ts,
        via="poll",
    )
    objecting = (
        poll.kind == "consensus"
        and poll.accepts_vote_at(event.ts)
        and bool(answers)
        and answers is not None
        and set(answers) <= set(poll.answer_ids)
        and answers[0] in OBJECTING
    )
    if objecting:
        await _ask_for_reason(services, poll, event.sender, trigger=event.event_id)
    return None


def _may_end_polls(services: Services, room_id: RoomID, user_id: str) -> bool:
    """Whether `user_id` may end the bot's polls: allowed to redact others' events."""
    room = services.room(room_id)
    raw = (room.power_levels or {}).get("redact", MODERATOR_LEVEL)
    needed = raw if isinstance(raw, int) and not isinstance(raw, bool) else MODERATOR_LEVEL
    return room.level(user_id) >= needed


async def on_end(services: Services, event: Event) -> Reply | None:
    start = referenced_poll(event.content)
    if start is None:
        return None
    poll = await db.poll_by_start(services.store, event.room_id, start)
    if poll is None or poll.removed or not poll.is_open:
        return None
    if not _may_end_polls(services, event.room_id, event.sender):
        log.info("Ignored a poll end from someone who may not end poll %d", poll.number)
        return None
    group = await db.group_of(services.store, poll.id)
    if group is not None:
        return await _group_end(services, event, poll, group)
    closed_at = event.ts if poll.closes_at is None else min(event.ts, poll.closes_at)
    if await db.close_poll(
        services.store,
        poll.id,
        closed_at=closed_at,
        via="end_event",
        closed_by=event.sender,
        close_event_id=event.event_id,
    ):
        closed = await db.get_poll(services.store, poll.id)
        if closed is not None:
            await announce_close(services, closed)
    return None


async def on_redaction(services: Services, event: Event) -> Reply | None:
    if event.redacts is None:
        return None
    poll = await db.redact(services.store, event.redacts)
    if poll is not None and poll.is_open:
        await db.close_poll(services.store, poll.id, closed_at=event.ts, via="removed")
        group = await db.group_of(services.store, poll.id)
        if group is not None and group.is_open and poll.room_id == group.commons_room_id:
            # The commons' poll is gone: the alliance-wide poll is withdrawn everywhere.
            await close_group(services, group, closed_at=event.ts, via="removed")
            await seal_group(services, group)
            await db.mark_group_announced(services.store, group.id)
    return None


# -- decision rules ----------------------------------------------------------------------------


async def show_rules(ctx: Context, args: Args) -> Reply:
    stored = await db.room_rule(ctx.store, ctx.event.room_id)
    rule = DEFAULT_RULE if stored is None else parse_rule(stored.rule)
    return Reply(
        "rules_show",
        {
            "rule": format_rule(rule),
            "description": describe_rule(rule),
            "is_default": stored is None,
            "set_by": None if stored is None else ctx.room.display_name(stored.set_by),
            "set_at": None if stored is None else _when(stored.set_at, ctx),
            "can_set": ctx.power >= Power.MODERATOR,
        },
    )


async def set_rules(ctx: Context, args: Args) -> Reply:
    text = args.text("rule")
    try:
        if text.split()[0].lower() == "quorum":
            rule = (await current_rule(ctx.store, ctx.event.room_id)).with_quorum(
                parse_quorum(text)
            )
        else:
            rule = parse_rule(text)
    except RuleError as exc:
        return _usage(ctx, "rules set", str(exc))
    await db.set_room_rule(
        ctx.store,
        ctx.event.room_id,
        rule=format_rule(rule),
        set_by=ctx.event.sender,
        set_at=now_ms(),
    )
    return Reply("rules_set", {"rule": format_rule(rule), "description": describe_rule(rule)})


# -- registration -------------------------------------------------------------------------------


def register(registry: Registry) -> None:
    registry.family("polls", "Polls and decisions", order=10)
    number = Param("number", kind="text", optional=True)
    registry.add(
        Command(
            name="poll",
            family="polls",
            summary="Start a straw poll that people answer with Element's poll buttons",
            handler=create_straw_poll,
            params=(Param("question", kind="text"),),
            flags=(
                Flag("multi", "N", "people may choose up to N options"),
                Flag("closes", "WHEN", CLOSES_HELP),
                Flag("hidden", None, "show the results only when the poll closes"),
                Flag(
                    "alliance",
                    None,
                    "in a commons room: post the poll in the commons and in every movement "
                    "room of the alliance (commons moderators)",
                ),
            ),
            help=(
                "Write the question on the first line and each option on its own line "
                "below it (Shift+Enter makes a new line), or put the question and the options "
                "in quotes on one line. "
                "A poll has 2 to 20 options. Times are in the bot's time zone. "
                "With --alliance, a moderator of an alliance's commons room asks every "
                "movement at once: votes from all the rooms are counted together, by "
                "movement, by person (each person once) and as one movement, one voice. "
                "It closes everywhere at once, from the commons."
            ),
            examples=(
                '{prefix}poll "Where do we meet?" "Park" "Library" "Online"',
                '{prefix}poll --multi 2 --closes 48h "Which days?" "Mon" "Tue" "Wed"',
                '{prefix}poll --alliance --closes 3d "Join the march?" "Yes" "No" "Not sure"',
            ),
        )
    )
    registry.add(
        Command(
            name="poll results",
            family="polls",
            summary="Show a poll's results so far (the latest open poll, or poll number N)",
            handler=show_results,
            params=(number,),
            help=(
                "Without a number, shows the poll you reply to, or else the latest open poll. "
                "Hidden polls show their results only once they close."
            ),
            examples=("{prefix}poll results", "{prefix}poll results 3"),
        )
    )
    registry.add(
        Command(
            name="poll list",
            family="polls",
            summary="List this room's open and recently closed polls",
            handler=list_polls,
            examples=("{prefix}poll list",),
        )
    )
    registry.add(
        Command(
            name="poll close",
            family="polls",
            summary="Close a poll now and post its results (its creator or a moderator)",
            handler=close_poll,
            params=(number,),
            help=(
                "Without a number, closes the poll you reply to, or else the latest open poll. "
                "The person who started the poll or a moderator may close it. An alliance-wide "
                "poll closes everywhere at once, from the commons room."
            ),
            examples=("{prefix}poll close", "{prefix}poll close 3"),
        )
    )
    registry.add(
        Command(
            name="vote",
            family="polls",
            summary="Vote by text, for apps without poll buttons (reply to the poll)",
            handler=vote,
            params=(Param("choices", kind="text"),),
            help=(
                "Reply to the poll (or write in its thread) with the number of your choice, "
                "or several numbers for polls that allow them. Voting again changes your vote; "
                "'{prefix}vote none' withdraws it."
            ),
            examples=("{prefix}vote 2", "{prefix}vote 1,3", "{prefix}vote block"),
        )
    )
    registry.add(
        Command(
            name="consensus",
            family="polls",
            summary="Put a proposal to a consensus poll (Agree, Reservations, Stand aside, Block)",
            handler=create_consensus_poll,
            params=(Param("proposal", kind="text"),),
            flags=(Flag("closes", "WHEN", CLOSES_HELP),),
            help=(
                "The proposal is decided by the room's decision rule (see {prefix}rules) "
                "as it is when the poll opens. People who stand aside or block are asked "
                "for their reason."
            ),
            examples=(
                "{prefix}consensus We join the climate march on Saturday",
                "{prefix}consensus --closes 3d We co-sign the open letter",
            ),
        )
    )
    registry.add(
        Command(
            name="reason",
            family="polls",
            summary="Give the reason for your vote in a consensus poll (in its thread)",
            handler=give_reason,
            params=(Param("reason", kind="text"),),
            help=(
                "Write it in the poll's thread or as a reply to the poll. Your latest reason "
                "is listed with the result."
            ),
            examples=("{prefix}reason The route is not accessible for wheelchairs",),
        )
    )
    registry.add(
        Command(
            name="rules",
            family="polls",
            summary="Show how this room decides consensus polls",
            handler=show_rules,
            examples=("{prefix}rules",),
        )
    )
    registry.add(
        Command(
            name="rules set",
            family="polls",
            summary="Change how this room decides consensus polls",
            handler=set_rules,
            params=(Param("rule", kind="text"),),
            power=Power.MODERATOR,
            help=(
                "Rules: consensus (no Block and at least one Agree), modified-consensus 90% "
                "(a Block is heard, but it passes with 90% Agree or Reservations), majority, "
                "supermajority 2/3; each may add a quorum (minimum voters). "
                "'{prefix}rules set quorum 5' changes only the quorum. Polls already open "
                "keep the rule they opened with."
            ),
            examples=(
                "{prefix}rules set consensus",
                "{prefix}rules set modified-consensus 90%",
                "{prefix}rules set supermajority 2/3 quorum 5",
                "{prefix}rules set quorum 3",
            ),
        )
    )
    registry.listen(Listener("poll responses", RESPONSE_TYPES, on_response))
    registry.listen(Listener("poll ends", END_TYPES, on_end))
    registry.listen(Listener("poll redactions", frozenset({"m.room.redaction"}), on_redaction))
    registry.every(Timer("poll deadlines", DEADLINE_CHECK_S, close_due_polls))
