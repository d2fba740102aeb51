"""The polls family's command handlers; `commands.polls` registers them.

`!poll`, `!consensus`, `!poll results`, `!poll list`, `!poll close`, `!vote`, `!reason`,
`!rules` and `!rules set`. Each returns its reply. A command about an existing poll finds it
by number, as a reply to the poll or in its thread, or else as the room's latest open poll;
`!poll results` and `!poll close` followed by a question and options start a poll instead
(its question starts with that word). A room's copy of an alliance-wide poll is handed over
to `commands.polls.groups`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from bot.contract import (
    Args,
    CommandError,
    Context,
    Refusal,
    Reply,
    UsageError,
    Words,
    read_number,
    short,
)
from bot.permissions import Power
from commands.polls import store as db
from commands.polls.deadlines import DeadlineError, duration_words, parse_deadline, parse_duration
from commands.polls.groups import close_group_command, create_alliance_poll, show_group_results
from commands.polls.input import (
    PollInputError,
    check_reason,
    parse_choices,
    parse_poll,
    parse_proposal,
)
from commands.polls.lifecycle import (
    CLOSED,
    close_refused,
    closed_view,
    command_close_time,
    created_view,
    decision_deadline_s,
    open_consensus_poll,
    open_poll,
    seal,
)
from commands.polls.outcomes import write_outcome
from commands.polls.reminders import reminder_words, set_remind, set_reminder, who_hasnt
from commands.polls.results import (
    DEFAULT_RULE,
    OBJECTING,
    current_rule,
    first_line,
    hidden_results,
    live_tally,
    local_time,
    results_view,
    rule_of,
    status,
)
from commands.polls.rules import RuleError, format_rule, parse_quorum, parse_rule, rule_words
from commands.polls.settings import room_settings
from commands.polls.store import Poll, PollKind
from commands.polls.subjects import subjects
from commands.polls.view import straw_answers

RECENT_MS: Final = 14 * 24 * 3600 * 1000
LIST_LIMIT: Final = 15


def _deadline(text: str | None, ctx: Context) -> int | None:
    if text is None:
        return None
    now = datetime.fromtimestamp(ctx.services.now_ms() / 1000, UTC)
    when = parse_deadline(text, now=now, tz=ctx.config.timezone)
    return int(when.timestamp() * 1000)


def _usage(ctx: Context, name: str, problem: Words) -> Reply:
    command = ctx.registry.lookup(name)
    usage = command.usage(ctx.prefix) if command else ctx.prefix + name
    return Reply("usage_error", {"problem": problem, "usage": usage, "name": name})


# -- opening polls -----------------------------------------------------------------------------


async def create_straw_poll(ctx: Context, args: Args) -> Reply:
    try:
        request = parse_poll(args.text("question"), flags=args.flags)
        closes_at = _deadline(request.closes, ctx)
    except (PollInputError, DeadlineError) as exc:
        return _usage(ctx, "poll", exc.words)
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
    return Reply("poll_created", created_view(ctx, poll))


async def create_consensus_poll(ctx: Context, args: Args) -> Reply:
    try:
        request = parse_proposal(args.text("proposal"), flags=args.flags)
        closes_at = _deadline(request.closes, ctx)
    except (PollInputError, DeadlineError) as exc:
        return _usage(ctx, "consensus", exc.words)
    poll = await open_consensus_poll(
        ctx.services,
        room_id=ctx.event.room_id,
        proposal=request.proposal,
        creator=ctx.event.sender,
        txn_key=ctx.event.event_id,
        closes_at=closes_at,
    )
    view = created_view(ctx, poll)
    view["rule"] = rule_words(rule_of(poll))
    return Reply("consensus_created", view)


# -- finding the poll a command is about ------------------------------------------------------


class _NoPoll(Refusal):
    """The command does not lead to a poll; its `words` say why."""


async def _replied_poll(ctx: Context) -> Poll | None:
    """The poll the command answers: as a reply to it, or in its thread."""
    for event_id in (ctx.event.reply_to, ctx.event.thread_root):
        if event_id is not None:
            poll = await db.poll_by_start(ctx.store, ctx.event.room_id, event_id)
            if poll is not None and not poll.removed:
                return poll
    return None


def _number(text: str) -> int | None:
    if not text.strip().lstrip("#"):
        return None
    try:
        number = read_number(text)
    except UsageError as exc:
        raise _NoPoll(exc.words.key, **exc.words.data) from None
    if number is None:
        raise _NoPoll("polls.not_a_poll_number", typed=short(text.strip(), 30))
    return number


async def _named_poll(ctx: Context, text: str, *, fallback_any: bool) -> Poll:
    """The poll named by number, else the one replied to, else the latest open one."""
    room_id = ctx.event.room_id
    number = _number(text)
    if number is not None:
        poll = await db.poll_by_number(ctx.store, room_id, number)
        if poll is None:
            raise _NoPoll("polls.no_such_poll", number=number)
        return poll
    poll = await _replied_poll(ctx)
    if poll is None:
        poll = await db.latest_poll(ctx.store, room_id, open_only=True)
    if poll is None and fallback_any:
        poll = await db.latest_poll(ctx.store, room_id, open_only=False)
    if poll is None:
        raise _NoPoll("polls.no_open_poll")
    return poll


async def _voting_poll(ctx: Context, *, kind: PollKind | None) -> Poll:
    """The poll a `!vote` or `!reason` is for: replied to, in its thread, or the only one open."""
    poll = await _replied_poll(ctx)
    if poll is not None:
        if kind == "consensus" and poll.kind != "consensus":
            raise _NoPoll("polls.straw_poll_reason", number=poll.number)
        return poll
    candidates = await db.open_polls(ctx.store, ctx.event.room_id, kind=kind)
    if len(candidates) == 1:
        return candidates[0]
    consensus = kind == "consensus"
    if not candidates:
        raise _NoPoll("polls.none_open", consensus=consensus)
    numbers = [p.number for p in candidates]
    raise _NoPoll("polls.several_open", consensus=consensus, numbers=numbers)


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


async def show_results(ctx: Context, args: Args) -> Reply:
    if (question := await _maybe_a_question(ctx, args, "results")) is not None:
        return question
    try:
        poll = await _named_poll(ctx, args.text("number"), fallback_any=True)
    except _NoPoll as exc:
        return _usage(ctx, "poll results", exc.words)
    group = await db.group_of(ctx.store, poll.id)
    if group is not None:
        return await show_group_results(ctx, poll, group)
    if poll.hidden and poll.is_open:
        return hidden_results(ctx, number=poll.number, closes_at=poll.closes_at)
    result = await live_tally(ctx.services, poll)
    return Reply("poll_results", await results_view(ctx.services, poll, result))


async def list_polls(ctx: Context, args: Args) -> Reply:
    polls = await db.recent_polls(
        ctx.store,
        ctx.event.room_id,
        closed_since=ctx.services.now_ms() - RECENT_MS,
        limit=LIST_LIMIT,
    )
    grouped = await db.grouped_poll_ids(ctx.store, [poll.id for poll in polls])
    rows = []
    for poll in polls:
        hidden = poll.hidden and poll.is_open
        rows.append(
            {
                "number": poll.number,
                "question": first_line(poll.question),
                "consensus": poll.kind == "consensus",
                "alliance": poll.id in grouped,
                "status": status(ctx.services, poll),
                "voters": None if hidden else (await live_tally(ctx.services, poll)).voters,
                "open": poll.is_open,
            }
        )
    return Reply("poll_list", {"polls": rows})


# -- closing ----------------------------------------------------------------------------------


async def withdraw_poll(ctx: Context, args: Args) -> Reply:
    """The person who opened a poll takes it back: it closes and decides nothing."""
    try:
        poll = await _named_poll(ctx, args.text("number"), fallback_any=False)
    except _NoPoll as exc:
        return _usage(ctx, "poll withdraw", exc.words)
    if await db.group_of(ctx.store, poll.id) is not None:
        problem = Words("polls.withdraw_alliance_poll", {"number": poll.number})
        return _usage(ctx, "poll withdraw", problem)
    if ctx.event.sender != poll.creator:
        return Reply(
            "poll_withdraw_refused",
            {"number": poll.number, "creator": ctx.room.display_name(poll.creator)},
        )
    if poll.closed_at is not None and poll.close_event_id != ctx.event.event_id:
        return Reply("poll_closed", {"number": poll.number, "action": "withdraw"})
    await db.withdraw(
        ctx.store,
        poll.id,
        at=command_close_time(ctx, None),
        by=ctx.event.sender,
        command_event_id=ctx.event.event_id,
    )
    if poll.start_event_id is not None:  # gone from Element too
        await ctx.services.redact(
            poll.room_id, poll.start_event_id, reason=None, txn_key=f"{ctx.event.event_id}:withdraw"
        )
    services = ctx.services

    async def withdrawn() -> None:  # what waited on the poll's outcome lets go of it now
        services.signal(CLOSED)

    return Reply(
        "poll_withdrawn", {"number": poll.number, "decision": poll.decision}, then=withdrawn
    )


async def give_outcome(ctx: Context, args: Args) -> Reply:
    for subject in subjects(ctx.registry):
        answer = await subject.outcome(ctx, args.text("text"), args.option("review"))
        if answer is not None:
            return answer
    poll = await _replied_poll(ctx)
    if poll is None:
        raise CommandError("polls.outcome_where")
    return await write_outcome(ctx, poll, args.text("text"), args.option("review"))


async def who_hasnt_voted(ctx: Context, args: Args) -> Reply:
    for subject in subjects(ctx.registry):
        answer = await subject.who_hasnt(ctx, args.text("number"))
        if answer is not None:
            return answer
    try:
        poll = await _named_poll(ctx, args.text("number"), fallback_any=False)
    except _NoPoll as exc:
        return _usage(ctx, "whohasnt", exc.words)
    return await who_hasnt(ctx, args, poll)


async def close_poll(ctx: Context, args: Args) -> Reply:
    if (question := await _maybe_a_question(ctx, args, "close")) is not None:
        return question
    poll = await db.poll_closed_by(ctx.store, ctx.event.event_id)  # handled before a crash
    if poll is None:
        try:
            poll = await _named_poll(ctx, args.text("number"), fallback_any=False)
        except _NoPoll as exc:
            return _usage(ctx, "poll close", exc.words)
    group = await db.group_of(ctx.store, poll.id)
    if group is not None:
        return await close_group_command(ctx, poll, group)
    if poll.closed_at is not None and poll.close_event_id != ctx.event.event_id:
        return Reply("poll_closed", {"number": poll.number, "action": "close"})
    if poll.closed_at is None:
        refused = close_refused(
            ctx,
            number=poll.number,
            creator=poll.creator,
            decision=poll.decision,
            closes_at=poll.closes_at,
        )
        if refused is not None:
            return refused
        closed = await db.close_poll(
            ctx.store,
            poll.id,
            closed_at=command_close_time(ctx, poll.closes_at),
            via="command",
            closed_by=ctx.event.sender,
            close_event_id=ctx.event.event_id,
        )
        reloaded = await db.get_poll(ctx.store, poll.id)
        assert reloaded is not None
        poll = reloaded
        if not closed:
            return Reply("poll_closed", {"number": poll.number, "action": "close"})
    poll = await seal(ctx.services, poll)
    await db.mark_announced(ctx.store, poll.id)
    services = ctx.services

    async def posted() -> None:  # the results are out: what waits on the outcome may act
        services.signal(CLOSED)

    return Reply("poll_results", await closed_view(ctx.services, poll), then=posted)


# -- votes and reasons -------------------------------------------------------------------------


def _option_names(poll: Poll) -> list[list[str]]:
    names = [[answer.text] for answer in poll.answers]
    if poll.kind == "consensus":
        for names_of, answer in zip(names, poll.answers, strict=True):
            names_of.append(answer.id)
    return names


async def vote(ctx: Context, args: Args) -> Reply:
    try:
        poll = await _voting_poll(ctx, kind=None)
    except _NoPoll as exc:
        return _usage(ctx, "vote", exc.words)
    if not poll.accepts_vote_at(ctx.event.ts):
        return Reply("poll_closed", {"number": poll.number, "action": "vote"})
    try:
        indexes = parse_choices(
            args.text("choices"), _option_names(poll), max_selections=poll.max_selections
        )
    except PollInputError as exc:
        return _usage(ctx, "vote", exc.words)
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
    except (_NoPoll, PollInputError) as exc:
        return _usage(ctx, "reason", exc.words)
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


# -- decision rules ----------------------------------------------------------------------------


async def show_rules(ctx: Context, args: Args) -> Reply:
    stored = await db.room_rule(ctx.store, ctx.event.room_id)
    deadline = await decision_deadline_s(ctx.store, ctx.event.room_id)
    rule = DEFAULT_RULE if stored is None else parse_rule(stored.rule)
    return Reply(
        "rules_show",
        {
            "rule": format_rule(rule),
            "description": rule_words(rule),
            "is_default": stored is None,
            "set_by": None if stored is None else ctx.room.display_name(stored.set_by),
            "set_at": None if stored is None else local_time(stored.set_at, ctx),
            "can_set": ctx.power >= Power.MODERATOR,
            "deadline": duration_words(deadline),
            "settings": [
                await reminder_words(ctx.store, ctx.event.room_id),
                *[
                    words
                    for setting in room_settings(ctx.registry)
                    if (words := await setting.shown(ctx.services, ctx.event.room_id)) is not None
                ],
            ],
        },
    )


async def set_rules(ctx: Context, args: Args) -> Reply:
    text = args.text("rule")
    first, *rest = text.split(maxsplit=1)
    if first.lower() == "deadline":
        return await _set_deadline(ctx, rest)
    if first.lower() == "reminder":
        return await set_reminder(ctx, rest[0] if rest else "")
    if first.lower() == "remind":
        return await set_remind(ctx, rest[0] if rest else "")
    for setting in room_settings(ctx.registry):
        if setting.name == first.lower():
            return await setting.change(ctx, rest[0] if rest else "")
    try:
        if text.split()[0].lower() == "quorum":
            rule = (await current_rule(ctx.store, ctx.event.room_id)).with_quorum(
                parse_quorum(text)
            )
        else:
            rule = parse_rule(text)
    except RuleError as exc:
        return _usage(ctx, "rules set", exc.words)
    await db.set_room_rule(
        ctx.store,
        ctx.event.room_id,
        rule=format_rule(rule),
        set_by=ctx.event.sender,
        set_at=ctx.services.now_ms(),
    )
    return Reply("rules_set", {"rule": format_rule(rule), "description": rule_words(rule)})


async def _set_deadline(ctx: Context, rest: list[str]) -> Reply:
    """`!rules set deadline 3d`: how long this room's decision polls stay open from now on."""
    try:
        duration = parse_duration(rest[0] if rest else "")
    except DeadlineError as exc:
        return _usage(ctx, "rules set", exc.words)
    seconds = int(duration.total_seconds())
    await db.set_room_deadline(
        ctx.store,
        ctx.event.room_id,
        seconds=seconds,
        set_by=ctx.event.sender,
        set_at=ctx.services.now_ms(),
    )
    return Reply("rules_deadline_set", {"deadline": duration_words(seconds)})
