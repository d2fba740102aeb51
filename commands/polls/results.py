"""What a poll's results say, and what a closed consensus poll decided.

Shared by the polls family's modules (`commands.polls` says which does what): the clock and
how times are shown, the decision rule a consensus poll is decided by, the live tally, and
the values the result templates are filled with.

For the next families (re-exported by `commands.polls`): :func:`consensus_result` and
:func:`consensus_outcome` give the structured outcome of a closed consensus poll,
:func:`decided_consensus_polls` lists the polls that have one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from bot.contract import Context, Reply, Services, Words
from bot.ids import RoomID, UserID
from bot.store import Store
from commands.polls import store as db
from commands.polls.deadlines import format_deadline
from commands.polls.rules import (
    ConsensusCounts,
    Outcome,
    Rule,
    decide,
    format_rule,
    parse_rule,
    rule_words,
)
from commands.polls.store import Poll, PollGroup
from commands.polls.tally import Tally, tally
from commands.polls.view import objections, result_rows

DEFAULT_RULE: Final = Rule("consensus", None)
OBJECTING: Final = frozenset({"stand_aside", "block"})
"""The consensus answers whose voters are asked for their reason."""


def local_time(ms: int, ctx_or_services: Context | Services) -> str:
    """The time `ms` as people read it, in the bot's time zone."""
    tz = ctx_or_services.config.timezone
    return format_deadline(datetime.fromtimestamp(ms / 1000, UTC), tz)


def first_line(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else f"{line[: limit - 1]}…"


# -- decision rules ----------------------------------------------------------------------------


async def current_rule(store: Store, room_id: RoomID) -> Rule:
    """The room's decision rule for new consensus polls."""
    stored = await db.room_rule(store, room_id)
    return DEFAULT_RULE if stored is None else parse_rule(stored.rule)


def rule_of(poll: Poll) -> Rule:
    """The rule a consensus poll is decided by: the one in force when it opened."""
    return DEFAULT_RULE if poll.rule is None else parse_rule(poll.rule)


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


def status(services: Services, poll: Poll | PollGroup) -> Words:
    """Open or closed, until when or since when, and by whom, in one sentence."""
    room = services.room(poll.room_id if isinstance(poll, Poll) else poll.commons_room_id)
    if poll.closed_at is None:
        if poll.closes_at is None:
            return Words("polls.open_no_deadline")
        return Words("polls.open_until", {"when": local_time(poll.closes_at, services)})
    when = local_time(poll.closed_at, services)
    if poll.closed_via == "deadline":
        return Words("polls.closed_at_deadline", {"when": when})
    if poll.closed_via == "removed" and isinstance(poll, PollGroup):
        return Words("polls.withdrawn_from_commons", {"when": when})
    who = room.display_name(poll.closed_by) if poll.closed_by else None
    return Words("polls.closed_by", {"who": who, "when": when})


def hidden_results(ctx: Context, *, number: int, closes_at: int | None) -> Reply:
    """The answer to `!poll results` while a poll with hidden results is open."""
    return Reply(
        "poll_hidden",
        {
            "number": number,
            "closes": None if closes_at is None else local_time(closes_at, ctx),
        },
    )


async def results_view(services: Services, poll: Poll, result: Tally) -> dict[str, Any]:
    """What the `poll_results` templates show of a poll with this tally."""
    data: dict[str, Any] = {
        "number": poll.number,
        "question": poll.question,
        "consensus": poll.kind == "consensus",
        "closed": not poll.is_open,
        "status": status(services, poll),
        "rows": result_rows(poll.answers, result),
        "voters": result.voters,
        "spoiled": result.spoiled,
        "multi": poll.max_selections,
        "outcome": None,
        "objections": [],
        "just_closed": False,
        "decided": None,
        "ask_outcome": False,
        "creator": "",
    }
    if poll.kind == "consensus":
        rule = rule_of(poll)
        outcome = decide(rule, ConsensusCounts.from_mapping(result.counts))
        data["outcome"] = {
            "passed": outcome.passed,
            "reason": outcome.words,
            "rule": format_rule(rule),
            "rule_text": rule_words(rule),
        }
        room = services.room(poll.room_id)
        names = {sender: room.display_name(sender) for sender in result.choices}
        data["objections"] = objections(result, await db.reasons(services.store, poll.id), names)
        written = await db.poll_outcome(services.store, poll.id)
        data["decided"] = None
        if written is not None:
            data["decided"] = {
                "text": written.text,
                "by": room.display_name(written.written_by),
                "review": None
                if written.review_at is None
                else local_time(written.review_at, services),
            }
        data["ask_outcome"] = written is None and not poll.is_open
        data["creator"] = room.display_name(poll.creator)
    return data


# -- the outcome of a closed consensus poll, for other families -------------------------------


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
