"""Alliance proposals: one round through every movement room, and `!proposal N` at scale.

council.round
    multilogue, a person (a bot admin who made every room, so a moderator everywhere) and an
    alliance of `ROUND_MOVEMENTS` (50) movement rooms and a commons, set up by typing commands
    (`!alliance create`, `!movement join ... as ...` in each room, `!movement approve ...`),
    several at a time. Then one proposal, timed as the person's sync sees it:

    1. from just before `!proposal <text>` in the commons until the bot's consensus poll is
       in every movement room (and until its notice under the poll is too: the last send);
    2. every movement decides: its moderator votes "agree" with a native poll response, as
       Element does, and closes the poll with `!poll close N` (all but one, several at a time;
       then the homeserver and the bot go idle);
    3. from just before the last movement's `!poll close` until the outcome ("Proposal 1 of
       ... is decided. Outcome: Passed: ...") is in the commons thread and in every movement
       room.

    Every event the bot sends is counted, by phase: Synapse's rate limit counts events, so
    the counts say what a round costs under a homeserver's limits. Between 1 and 2, the bot's
    CPU while nothing happens (its reconciler looks at the open round every 2 s).

    Rate limits. Every bench account, the bot's included, has its message rate limit lifted
    (a per-user override; the homeserver's `rc_message` is lifted too), so the 50-movement
    round runs at the speed of the bot and the homeserver. Then the same round again with a
    second multilogue and `PACED_MOVEMENTS` (10) movements under Synapse's default message
    limit (`rc_message`: 0.2 events a second after a burst of 10), set as the bot's own
    override: for the proposal, lifted for set-up and the first decisions, and set again for
    the last decision after waiting until the limit's bucket is empty (as it is when the last
    movement decides hours or days later). The expected times at 50 movements under the
    default limit are worked out from the counts: the events beyond the burst go at 0.2 a
    second; the 10-movement round measured shows how close that is.
    Checks: one poll and one notice in every movement room, one root and one outcome in the
    commons, one outcome in every movement room, every `!poll close` answered, passed.

council.show
    The bot's own time for `!proposal N` (the proposal with every movement's position) at
    `settings.movements` movements (100), in a process of its own, no homeserver, like
    `scale.*`: an alliance of 100 active movements made with the alliance store's functions in
    a temporary SQLite database (`Store.open`), a proposal with a seat for each
    (`council.store.open_proposal`), every position recorded (`set_position`: most agree,
    some with reservations or standing aside, with their reasons) and the round closed as the
    reconciler closes it. Timed over `settings.runs` runs after one warm-up: `Router.route` of
    `!proposal 1` in the commons with the real registry, `Renderer.render` and
    `notice_content`. Also: the round trips to aiosqlite's database thread, and the reply's
    size against the 64 KiB of a Matrix event. Goal: under 50 ms.
    It also runs alone: `python -c 'import sys; from bench.benchmarks.council import main;
    sys.exit(main(sys.argv[1:]))' show --movements 100 --runs 50 [--profile FILE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from nio import Event, MatrixRoom, RoomSendResponse

from bench.benchmarks.scale import EVENT_LIMIT_KIB, GOAL, summary_ms
from bench.context import MULTILOGUE, BenchContext
from bench.inprocess import (
    ADMIN,
    COMMONS,
    MOVEMENT_NAMES,
    SERVER,
    T0,
    Harness,
    RoundTrips,
    command_event,
    room_with,
    round_trip_us,
    timed,
)
from bench.prober import BenchError, Prober
from bench.processes import REPO_ROOT, BotProcess, read_cpu_s
from bench.registry import BenchResult, Row
from bot.ids import EventID, RoomID
from bot.store import Store
from commands.alliance.store import create_alliance, decide_movement, request_join
from commands.council import store as council_store
from commands.council.rules import DEFAULT_RULE, Position, Reason, format_alliance_rule
from commands.council.rules import tally_movements as tally_positions

ROUND_MOVEMENTS = 50  # council.round (fewer when settings.movements is smaller: --quick)
PACED_MOVEMENTS = 10  # the same round under Synapse's default message limit
PACED_MOVEMENTS_QUICK = 2
RC_MESSAGE_PER_S = 0.2  # Synapse's default rc_message: events a second...
RC_MESSAGE_BURST = 10  # ...after a burst of this many
CONCURRENCY = 8  # commands in flight while setting up and deciding
IDLE_S = 10.0  # how long the bot's CPU is read while the round is open and nothing happens
SETTLE_S = 2.0  # after the last outcome: time for a duplicate to show up
PROPOSAL = "We hold a joint day of action on 1 May"
START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
MESSAGE = "m.room.message"
NAN = math.nan
_POLL_NUMBER = re.compile(r"poll close (\d+)")
_PROPOSAL_NUMBER = re.compile(r"Proposal (\d+) of ")
_ENTRY = "import sys; from bench.benchmarks.council import main; sys.exit(main(sys.argv[1:]))"

T = TypeVar("T")


# -- what the person sees ---------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """An event a bot sent, as the person's sync brought it."""

    index: int  # the order the person received it in
    room_id: str
    event_type: str
    sender: str
    body: str
    arrived: float  # time.perf_counter() when the sync holding it was handled


class BotEvents:
    """Every event of anyone but the person in the person's rooms (nio's event callback runs
    while the sync is handled, microseconds from when the prober notes its answers)."""

    def __init__(self, person: Prober) -> None:
        self._person = person.user_id
        self.seen: list[Seen] = []
        person.client.add_event_callback(self._note, Event)

    async def _note(self, room: MatrixRoom, event: Event) -> None:
        source: dict[str, Any] = event.source
        sender = str(source.get("sender", ""))
        if sender == self._person or "state_key" in source:
            return
        content = source.get("content") or {}
        body = content.get("body") if isinstance(content, dict) else None
        self.seen.append(
            Seen(
                index=len(self.seen),
                room_id=room.room_id,
                event_type=str(source.get("type", "")),
                sender=sender,
                body=body if isinstance(body, str) else "",
                arrived=time.perf_counter(),
            )
        )

    def mark(self) -> int:
        return len(self.seen)

    def since(self, mark: int, sender: str, until: int | None = None) -> list[Seen]:
        return [s for s in self.seen[mark:until] if s.sender == sender]


@dataclass(frozen=True)
class Council:
    """An alliance in one multilogue: its commons and movement rooms (name -> room)."""

    alliance: str
    bot_id: str
    process: BotProcess
    commons: str
    rooms: dict[str, str]
    setup_s: dict[str, float]


@dataclass
class RoundFigures:
    """One proposal through every movement room: times (s) from the person's sync."""

    movements: int
    paced: bool
    reply_s: float = NAN  # the answer to !proposal
    first_poll_s: float = NAN
    polls_s: float = NAN  # a poll in every movement room
    asked_s: float = NAN  # and the notice under it: the last send of the phase
    idle_cpu_ms_per_s: float = NAN  # the bot's CPU while the round is open and idle
    close_answer_s: float = NAN  # the answer to the last !poll close
    outcome_commons_s: float = NAN
    outcome_s: float = NAN  # the outcome in the commons and every movement room
    drained_s: float = 0.0  # how long the paced round waited for the limit's bucket to empty
    sends: dict[str, dict[str, int]] = field(default_factory=dict)  # phase -> type -> events
    checks: dict[str, Any] = field(default_factory=dict)

    def sent(self, phase: str) -> int:
        return sum(self.sends.get(phase, {}).values())


def paced_s(events: int) -> float:
    """How long `events` back-to-back sends take under Synapse's default message limit, its
    bucket empty at the start: those beyond the burst go at RC_MESSAGE_PER_S a second."""
    return max(0, events - RC_MESSAGE_BURST) / RC_MESSAGE_PER_S


async def limited(items: Sequence[T], action: Callable[[T], Awaitable[Any]]) -> None:
    """`action(item)` for every item, CONCURRENCY at a time."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item: T) -> None:
        async with gate:
            await action(item)

    await asyncio.gather(*(one(item) for item in items))


async def ask(person: Prober, room_id: str, text: str, bot_id: str, expect: str) -> str:
    """Type a command and wait for the bot's answer, which must contain `expect`."""
    probe = await person.probe(room_id, text, bot_id=bot_id, timeout_s=60)
    answers = person.answers(probe.event_id, bot_id)
    if not answers:
        raise BenchError(f"{bot_id} did not answer {text!r} within 60 s")
    if expect.lower() not in answers[0].body.lower():
        raise BenchError(f"{bot_id} answered {text!r} with {answers[0].body[:200]!r}")
    return answers[0].body


# -- set-up -----------------------------------------------------------------------------------


async def alliance_of(
    ctx: BenchContext, person: Prober, *, label: str, alliance: str, movements: int
) -> Council:
    """A multilogue and an alliance of `movements` movement rooms, set up by commands."""
    bot_id, process = await ctx.multilogue(label, admins=(person.user_id,))
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = round(now - started, 3)
        started = now

    rooms = await ctx.rooms_with(person, bot_id, movements + 1)
    step("rooms")
    commons = rooms[0]
    await ask(person, commons, f"!alliance create {alliance}", bot_id, "is started")
    names = [f"{MOVEMENT_NAMES[i % len(MOVEMENT_NAMES)]} {i + 1}" for i in range(movements)]
    by_name = dict(zip(names, rooms[1:], strict=True))

    async def join(name: str) -> None:
        text = f"!movement join {alliance} as {name}"
        await ask(person, by_name[name], text, bot_id, "Asked to join")

    async def approve(name: str) -> None:
        await ask(person, commons, f"!movement approve {name}", bot_id, "is now a member")

    await limited(names, join)
    await limited(names, approve)
    step("movements")
    return Council(alliance, bot_id, process, commons, by_name, timings)


async def _admin_token(ctx: BenchContext) -> str:
    """A server admin of our own, to set the bot's rate limit (the context keeps its own)."""
    key = "council.admin"

    async def register() -> str:
        admin = await asyncio.to_thread(ctx.synapse.register, ctx.localpart("ops"), admin=True)
        return admin.access_token

    return await ctx.shared(key, register)


async def default_limit(ctx: BenchContext, user_id: str, *, on: bool) -> None:
    """Give `user_id` Synapse's default message limit (on) or lift it again (off)."""
    token = await _admin_token(ctx)
    if not on:
        await asyncio.to_thread(ctx.synapse.override_ratelimit, admin_token=token, user_id=user_id)
        return
    path = f"/_synapse/admin/v1/users/{user_id}/override_ratelimit"
    body = {"messages_per_second": RC_MESSAGE_PER_S, "burst_count": RC_MESSAGE_BURST}
    await asyncio.to_thread(ctx.synapse.api, "POST", path, token=token, body=body)


# -- one round --------------------------------------------------------------------------------


def _by_type(events: Iterable[Seen]) -> dict[str, int]:
    return dict(Counter(s.event_type for s in events))


def _first_in_each(
    events: Sequence[Seen], rooms: Iterable[str], match: Callable[[Seen], bool]
) -> dict[str, Seen | None]:
    found: dict[str, Seen | None] = dict.fromkeys(rooms)
    for seen in events:
        if seen.room_id in found and found[seen.room_id] is None and match(seen):
            found[seen.room_id] = seen
    return found


async def run_round(
    ctx: BenchContext, person: Prober, watcher: BotEvents, council: Council, *, paced: bool
) -> RoundFigures:
    """One proposal: asked everywhere, decided everywhere, told everywhere (see the module
    docstring). `paced`: under Synapse's default message limit for the bot."""
    bot, rooms = council.bot_id, council.rooms
    movement_rooms = set(rooms.values())
    every_room = {council.commons, *movement_rooms}
    n = len(rooms)
    figures = RoundFigures(movements=n, paced=paced)
    slack_s = 60 + 2 * n + (paced_s(2 * n + 2) if paced else 0)
    if paced:
        await default_limit(ctx, bot, on=True)

    # 1. The proposal, until every movement room is asked.
    mark_a = watcher.mark()
    proposal_id, started = await person.send_text(council.commons, f"!proposal {PROPOSAL}")

    def is_poll(s: Seen) -> bool:
        return s.event_type == START

    def is_notice(s: Seen) -> bool:
        return s.event_type == MESSAGE and _POLL_NUMBER.search(s.body) is not None

    def asked(match: Callable[[Seen], bool]) -> dict[str, Seen | None]:
        return _first_in_each(watcher.since(mark_a, bot), movement_rooms, match)

    def everywhere(match: Callable[[Seen], bool]) -> Callable[[], bool]:
        def check() -> bool:
            ctx.check_bots()
            return all(asked(match).values())

        return check

    await person.wait_for(everywhere(is_poll), timeout_s=slack_s, what="a poll in every room")
    await person.wait_for(everywhere(is_notice), timeout_s=slack_s, what="every poll's notice")
    polls = [s for s in asked(is_poll).values() if s is not None]
    notices = {room: s for room, s in asked(is_notice).items() if s is not None}
    figures.first_poll_s = min(s.arrived for s in polls) - started
    figures.polls_s = max(s.arrived for s in polls) - started
    figures.asked_s = max(s.arrived for s in notices.values()) - started
    answers = person.answers(proposal_id, bot)
    if answers:
        figures.reply_s = answers[0].arrived - started
        found = _PROPOSAL_NUMBER.search(answers[0].body)
        number = int(found.group(1)) if found else 1
    else:
        number = 1
    last_send = max(s.arrived for s in watcher.since(mark_a, bot))
    if not paced:  # the reconciler's upkeep while the round is open and nothing happens
        await ctx.settle(at_most_s=20)
        figures.idle_cpu_ms_per_s = await _idle_cpu(ctx, council.process)
    if paced:
        await default_limit(ctx, bot, on=False)

    # 2. Every movement but the last decides; then everything goes idle.
    mark_b = watcher.mark()
    names = list(rooms)
    poll_event = await _poll_events(person, bot, rooms, mark_a)
    poll_number = {rooms[name]: _poll_number(notices[rooms[name]]) for name in names}

    async def decide(name: str) -> None:
        room = rooms[name]
        await _vote(person, room, poll_event[room])
        await ask(person, room, f"!poll close {poll_number[room]}", bot, "")

    await limited(names[:-1], decide)
    await _vote(person, rooms[names[-1]], poll_event[rooms[names[-1]]])
    if paced:  # the last decision comes when the bucket is empty again (hours later, really)
        await default_limit(ctx, bot, on=True)
        in_bucket = min(RC_MESSAGE_BURST, len(watcher.since(mark_a, bot, mark_b)))
        full_s = in_bucket / RC_MESSAGE_PER_S
        wait_s = last_send + full_s + 1.0 - time.perf_counter()
        figures.drained_s = round(max(0.0, wait_s), 1)
        await asyncio.sleep(max(0.0, wait_s))
    await ctx.settle(at_most_s=20)

    # 3. The last decision, until the outcome is everywhere.
    mark_c = watcher.mark()
    last_room = rooms[names[-1]]
    close_id, started = await person.send_text(last_room, f"!poll close {poll_number[last_room]}")
    heading = f"Proposal {number} of {council.alliance} is decided"

    def is_outcome(s: Seen) -> bool:
        return s.event_type == MESSAGE and s.body.startswith(heading)

    def told() -> dict[str, Seen | None]:
        return _first_in_each(watcher.since(mark_c, bot), every_room, is_outcome)

    def told_everywhere() -> bool:
        ctx.check_bots()
        return all(told().values())

    slack_s = 60 + 2 * n + (paced_s(n + 3) if paced else 0)
    await person.wait_for(told_everywhere, timeout_s=slack_s, what="the outcome in every room")
    outcomes = {room: s for room, s in told().items() if s is not None}
    figures.outcome_commons_s = outcomes[council.commons].arrived - started
    figures.outcome_s = max(s.arrived for s in outcomes.values()) - started
    closed = person.answers(close_id, bot)
    if closed:
        figures.close_answer_s = closed[0].arrived - started
    await asyncio.sleep(SETTLE_S)  # a duplicate would show up by now
    if paced:
        await default_limit(ctx, bot, on=False)

    figures.sends = {
        "asked": _by_type(watcher.since(mark_a, bot, mark_b)),
        "decided": _by_type(watcher.since(mark_b, bot, mark_c)),
        "told": _by_type(watcher.since(mark_c, bot)),
    }
    figures.checks = _round_checks(
        watcher.since(mark_a, bot), council, heading, closes=len(names), closed=bool(closed)
    )
    return figures


async def _idle_cpu(ctx: BenchContext, process: BotProcess) -> float:
    """The bot's CPU (ms per second) over IDLE_S while nobody does anything."""
    seconds = IDLE_S if not ctx.settings.quick else 2.0
    before, started = read_cpu_s(process.pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (read_cpu_s(process.pid) - before) * 1000 / (time.monotonic() - started)


async def _poll_events(
    person: Prober, bot: str, rooms: dict[str, str], mark: int
) -> dict[str, str]:
    """The event id of the bot's poll in each movement room (nio's callback does not keep
    ids, so read them from each room's history)."""
    found: dict[str, str] = {}

    async def one(room: str) -> None:
        start = await person.latest_event(room, sender=bot, event_type=START)
        found[room] = str(start["event_id"])

    await limited(list(rooms.values()), one)
    return found


def _poll_number(notice: Seen) -> int:
    found = _POLL_NUMBER.search(notice.body)
    if found is None:
        raise BenchError(f"the poll's notice names no poll: {notice.body[:200]!r}")
    return int(found.group(1))


async def _vote(person: Prober, room_id: str, poll_event: str) -> None:
    """Agree, as Element votes: a poll response event referring to the poll."""
    content = {
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll_event},
        RESPONSE: {"answers": ["agree"]},
    }
    response = await person.client.room_send(room_id, RESPONSE, content)
    if not isinstance(response, RoomSendResponse):
        raise BenchError(f"voting in {room_id} failed: {response}")


def _round_checks(
    sent: Sequence[Seen], council: Council, heading: str, *, closes: int, closed: bool
) -> dict[str, Any]:
    """Once each: a poll and its notice in every movement room, the root in the commons, the
    outcome everywhere; it passed; every !poll close answered."""
    rooms = set(council.rooms.values())
    polls = Counter(s.room_id for s in sent if s.event_type == START)
    notices = Counter(
        s.room_id for s in sent if s.event_type == MESSAGE and _POLL_NUMBER.search(s.body)
    )
    outcomes = [s for s in sent if s.event_type == MESSAGE and s.body.startswith(heading)]
    told = Counter(s.room_id for s in outcomes)
    roots = [
        s for s in sent if s.room_id == council.commons and s.body.startswith("Proposal 1 to ")
    ]
    passed = all("Outcome: Passed:" in s.body.split("\n")[0] for s in outcomes)
    checks: dict[str, Any] = {
        "movements": len(rooms),
        "polls_once": sum(polls[r] == 1 for r in rooms),
        "notices_once": sum(notices[r] == 1 for r in rooms),
        "roots": len(roots),
        "outcomes_once": sum(told[r] == 1 for r in (*rooms, council.commons)),
        "passed": passed,
        "last_close_answered": closed,
        "decisions": closes,
    }
    checks["ok"] = (
        checks["polls_once"] == len(rooms)
        and checks["notices_once"] == len(rooms)
        and checks["roots"] == 1
        and checks["outcomes_once"] == len(rooms) + 1
        and passed
        and closed
    )
    return checks


# -- council.round ----------------------------------------------------------------------------


async def proposal_round(ctx: BenchContext) -> BenchResult:
    s = ctx.settings
    movements = min(ROUND_MOVEMENTS, s.movements)
    paced_movements = PACED_MOVEMENTS_QUICK if s.quick else min(PACED_MOVEMENTS, movements)
    person = await ctx.prober("mover")
    watcher = BotEvents(person)
    council = await alliance_of(
        ctx, person, label="council", alliance="Bench Council", movements=movements
    )
    lifted = await run_round(ctx, person, watcher, council, paced=False)
    await ctx.settle(at_most_s=20)
    slow = await alliance_of(
        ctx, person, label="council-paced", alliance="Paced Council", movements=paced_movements
    )
    paced = await run_round(ctx, person, watcher, slow, paced=True)
    return _round_result(council, lifted, slow, paced)


def _round_result(
    council: Council, lifted: RoundFigures, slow: Council, paced: RoundFigures
) -> BenchResult:
    n, m = lifted.movements, paced.movements
    expect_asked = paced_s(lifted.sent("asked"))
    expect_told = paced_s(lifted.sent("told"))
    rows = [
        Row(f"!proposal -> poll in all {n} rooms", "s", NAN, round(lifted.polls_s, 2)),
        Row("... and its notice under each", "s", NAN, round(lifted.asked_s, 2)),
        Row(
            f"last !poll close -> outcome in all {n + 1}",
            "s",
            NAN,
            round(lifted.outcome_s, 2),
        ),
        Row("last !poll close -> outcome, commons", "s", NAN, round(lifted.outcome_commons_s, 2)),
        Row("CPU, round open, idle", "ms/s", NAN, round(lifted.idle_cpu_ms_per_s, 1)),
        Row(f"default limit, {m} rooms: polls", "s", NAN, round(paced.asked_s, 1)),
        Row(f"default limit, {m} rooms: outcome", "s", NAN, round(paced.outcome_s, 1)),
        Row(f"default limit, {n} rooms: polls, expected", "min", NAN, round(expect_asked / 60, 1)),
        Row(f"default limit, {n} rooms: outcome, expected", "min", NAN, round(expect_told / 60, 1)),
    ]
    checks_ok = bool(lifted.checks.get("ok")) and bool(paced.checks.get("ok"))
    result = BenchResult(
        status="ok",
        rows=rows,
        arms={
            MULTILOGUE: {
                "lifted": {**asdict(lifted), "setup_s": council.setup_s},
                "default_limit": {**asdict(paced), "setup_s": slow.setup_s},
                "expected_at_default_limit_s": {
                    "asked": round(expect_asked, 1),
                    "told": round(expect_told, 1),
                    "asked_model_at_paced_size": round(paced_s(paced.sent("asked")), 1),
                    "told_model_at_paced_size": round(paced_s(paced.sent("told")), 1),
                },
                "rc_message": {"per_second": RC_MESSAGE_PER_S, "burst_count": RC_MESSAGE_BURST},
            }
        },
        checks={
            "passed": checks_ok,
            "lifted": lifted.checks,
            "default_limit": paced.checks,
            "summary": (
                f"{n} + {m} movement rooms: each got its poll and notice once and the outcome "
                "once, as did each commons; both proposals passed"
                if checks_ok
                else f"NOT as expected: {lifted.checks} / {paced.checks}"
            ),
        },
    )
    t = council.setup_s
    result.notes.append(
        f"one multilogue, a commons and {n} movement rooms made by one person (a moderator "
        f"everywhere), set up by typing commands: rooms made and joined in {t['rooms']:.1f} s, "
        f"{n} movements joined and approved in {t['movements']:.1f} s"
    )
    result.notes.append(
        f"bot's sends: {_sends_text(lifted, 'asked')} until every room was asked; "
        f"{_sends_text(lifted, 'decided')} for the first {n - 1} decisions (each !poll close: "
        f"a poll end and the results); {_sends_text(lifted, 'told')} after the last one "
        f"(first answer to !proposal in {lifted.reply_s:.2f} s, first poll in "
        f"{lifted.first_poll_s:.2f} s; answer to the last !poll close in "
        f"{lifted.close_answer_s:.2f} s)"
    )
    result.notes.append(
        "rate limits: the bot's message limit was lifted for set-up and for this round, like "
        f"every bench account's; the second round ({m} movements, its own multilogue) ran "
        f"under Synapse's default rc_message ({RC_MESSAGE_PER_S:g}/s after a burst of "
        f"{RC_MESSAGE_BURST}) for the proposal and, after waiting {paced.drained_s:.0f} s for "
        f"the limit's bucket to empty, the last decision: {paced.sent('asked')} sends took "
        f"{paced.asked_s:.1f} s (the limit alone: {paced_s(paced.sent('asked')):.0f} s), "
        f"{paced.sent('told')} sends {paced.outcome_s:.1f} s "
        f"({paced_s(paced.sent('told')):.0f} s); at {n} movements, "
        f"{lifted.sent('asked')} and {lifted.sent('told')} sends: expect "
        f"{expect_asked / 60:.1f} min until every room is asked and {expect_told / 60:.1f} min "
        "until every room is told, unless the operator lifts the bot's limit"
    )
    return result


def _sends_text(figures: RoundFigures, phase: str) -> str:
    kinds = figures.sends.get(phase, {})
    short = {START: "poll starts", "org.matrix.msc3381.poll.end": "poll ends", MESSAGE: "notices"}
    parts = ", ".join(f"{count} {short.get(kind, kind)}" for kind, count in sorted(kinds.items()))
    return f"{figures.sent(phase)} ({parts})" if parts else "0"


# -- council.show: in-process -----------------------------------------------------------------


async def run_show(ctx: BenchContext) -> dict[str, Any]:
    """`measure_show` in a process of its own (see `bench.inprocess`); its JSON output."""
    s = ctx.settings
    argv = [sys.executable, "-c", _ENTRY, "show", "--movements", str(s.movements)]
    argv += ["--runs", str(s.runs), "--seed", str(s.seed)]
    if s.profile_dir is not None:
        s.profile_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--profile", str(s.profile_dir / "council.show.prof")]
    settled_s = await ctx.settle()
    cpu_before, started = ctx.background_cpu_s(), time.monotonic()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        raise BenchError(f"council show exited with {proc.returncode}: {' | '.join(tail)}")
    figures: dict[str, Any] = json.loads(out)
    took = time.monotonic() - started
    figures["machine"] = {
        "settled_s": round(settled_s, 1),
        "background_cpu_share": round((ctx.background_cpu_s() - cpu_before) / took, 3),
    }
    return figures


async def proposal_show(ctx: BenchContext) -> BenchResult:
    data = await run_show(ctx)
    s = ctx.settings
    figures = {key: summary_ms(values) for key, values in data["samples_s"].items()}
    total = figures["show.total"]
    kib = data["sizes"]["content_bytes"] / 1024
    goal, most = GOAL
    rows = [
        Row("!proposal 1 + render, median", "ms", NAN, total["median_ms"], goal, max_value=most),
        Row("!proposal 1 + render, p95", "ms", NAN, total["p95_ms"], goal, max_value=most),
        Row("handler (route), median", "ms", NAN, figures["show.route"]["median_ms"]),
        Row("render, median", "ms", NAN, figures["show.render"]["median_ms"]),
        Row(
            "reply content",
            "KiB",
            NAN,
            round(kib, 1),
            f"< {EVENT_LIMIT_KIB:g} KiB event",
            max_value=EVENT_LIMIT_KIB,
        ),
    ]
    reply, built = data["reply"], data["data"]
    passed = (
        reply["template"] == "council_proposal"
        and 1 <= reply["seats"] <= built["movements"]
        and (reply["pages"] > 1) == (reply["seats"] < built["movements"])
        and reply["passed"]
        and kib <= EVENT_LIMIT_KIB
        and len(data["samples_s"]["show.total"]) == s.runs
    )
    kept = {k: v for k, v in data.items() if k != "samples_s"}
    samples_ms = {k: [round(v * 1000, 3) for v in vs] for k, vs in data["samples_s"].items()}
    result = BenchResult(
        status="ok",
        rows=rows,
        arms={MULTILOGUE: {"figures": figures, **kept, "samples_ms": samples_ms}},
        checks={
            "passed": passed,
            "reply": reply,
            "summary": (
                f"page 1 of {reply['pages']} ({reply['template']}) shows {reply['seats']} of "
                f"{built['movements']} movements' positions, passed, {kib:.0f} KiB"
            ),
        },
    )
    positions = ", ".join(f"{count} {kind}" for kind, count in built["positions"].items())
    result.notes.append(
        f"{built['movements']} active movements, one proposal whose round asked them all and "
        f"closed with every position recorded ({positions}; made by the store functions in "
        f"{data['build_s']:.1f} s); {s.runs} runs after one warm-up, in a process of its own"
    )
    machine = data["machine"]
    result.notes.append(
        "timed: Router.route('proposal 1') in the commons with the real registry and SQLite "
        "store, then Renderer.render and notice_content (all the bot does before the HTTP "
        f"request); measured after waiting {machine['settled_s']:.0f} s for the homeserver and "
        f"bots to go idle; meanwhile they used {machine['background_cpu_share']:.0%} of a core"
    )
    trips = data["round_trips"]["show.route"]
    result.notes.append(
        f"!proposal 1 makes {trips} round trips to aiosqlite's database thread (one took "
        f"{data['round_trip_us']:.0f} µs in a tight loop here; more when the machine is idle)"
        if trips is not None
        else "!proposal 1: round trips to the database thread not counted"
    )
    return result


async def build_council(store: Store, *, movements: int, rng: random.Random) -> dict[str, Any]:
    """An alliance of `movements` active movements and proposal 1, decided by all of them."""
    alliance = await create_alliance(
        store,
        name="Bench Alliance",
        commons_room_id=COMMONS,
        created_by=ADMIN,
        created_at=T0,
        command_event_id="$create",
    )
    active = []
    for i in range(movements):
        asked = await request_join(
            store,
            alliance_id=alliance.id,
            room_id=RoomID(f"!movement{i}:{SERVER}"),
            name=f"{MOVEMENT_NAMES[i % len(MOVEMENT_NAMES)]} {i + 1}",
            requested_by=ADMIN,
            requested_at=T0 + i,
            event_id=f"$join{i}",
        )
        active.append(
            await decide_movement(
                store,
                asked.id,
                status="active",
                decided_by=ADMIN,
                decided_at=T0 + i,
                event_id=f"$approve{i}",
            )
        )
    proposal, round_ = await council_store.open_proposal(
        store,
        alliance_id=alliance.id,
        commons_room_id=COMMONS,
        proposer=ADMIN,
        command_event_id=EventID("$proposal"),
        at=T0 + 10_000,
        text=PROPOSAL,
        rule=format_alliance_rule(DEFAULT_RULE),
        closes_at=T0 + 10_000 + 7 * 24 * 3600 * 1000,
        seats=[council_store.NewSeat(m.id, m.name, m.room_id) for m in active],
    )
    await council_store.set_root(store, proposal.id, EventID("$root"))
    positions: dict[int, Position] = {}
    for n, seat in enumerate(await council_store.seats_of(store, round_.id)):
        await council_store.set_asked(store, seat, at=T0 + 20_000 + n, poll_id=None)
        position = _position(rng, n)
        positions[seat.movement_id] = position
        await council_store.set_position(
            store,
            seat,
            position=position.kind,
            reasons=position.reasons,
            voters=rng.randint(3, 40),
            given_by="poll",
            by=None,
            at=T0 + 30_000 + n,
        )
    outcome = tally_positions(DEFAULT_RULE, positions, list(positions), final=True)
    await council_store.close_round(
        store,
        round_.id,
        at=T0 + 40_000,
        via="everyone",
        by=None,
        outcome="passed" if outcome.state == "passed" else "not_passed",
    )
    kinds = Counter(p.kind for p in positions.values())
    return {"movements": len(active), "positions": dict(kinds), "outcome": outcome.state}


def _position(rng: random.Random, n: int) -> Position:
    """Most agree; some agree with reservations or stand aside, each with a reason."""
    draw = rng.random()
    if draw < 0.2:
        reason = f"Only if the march avoids the old town ({n})"
        return Position("reservations", (Reason("reservations", reason),))
    if draw < 0.3:
        return Position("stand_aside", (Reason("stand_aside", f"Not our fight this year ({n})"),))
    return Position("agree")


async def measure_show(
    store: Store,
    folder: Path,
    *,
    movements: int,
    runs: int,
    seed: int,
    profile: cProfile.Profile | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    built = await build_council(store, movements=movements, rng=random.Random(seed))
    build_s = time.perf_counter() - started
    harness = Harness(store, folder, {COMMONS: room_with(COMMONS, [])})
    samples: dict[str, list[float]] = {}

    async def show(n: int) -> None:
        event = command_event(COMMONS, "!proposal 1", n)
        await harness.answer(event, "proposal 1", samples if 0 < n <= runs else None, "show")

    await timed(runs, show, profile=profile)
    trips = RoundTrips()
    round_trips = {"show.route": await trips.of(lambda: show(runs + 1))}
    reply = harness.last_reply
    assert reply is not None
    page = reply.data.get("page") or {}
    return {
        "samples_s": samples,
        "sizes": harness.sizes,
        "data": built,
        "build_s": build_s,
        "reply": {
            "template": reply.template,
            "seats": len(reply.data.get("seats", [])),
            "pages": page.get("count", 1),
            "passed": bool(reply.data.get("passed")),
        },
        "round_trips": round_trips,
        "round_trip_us": await round_trip_us(),
    }


async def _show_in(args: argparse.Namespace, folder: Path, profile: cProfile.Profile | None) -> Any:
    store = await Store.open(folder / "multilogue.db")
    try:
        return await measure_show(
            store,
            folder,
            movements=args.movements,
            runs=args.runs,
            seed=args.seed,
            profile=profile,
        )
    finally:
        await store.close()


def main(argv: list[str]) -> int:
    """`show --movements N --runs N [--seed N] [--profile FILE]`: print the figures as JSON."""
    parser = argparse.ArgumentParser(prog="bench.benchmarks.council")
    parser.add_argument("kind", choices=("show",))
    parser.add_argument("--movements", type=int, default=100)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the timed runs here")
    args = parser.parse_args(argv)
    profile = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory(prefix="multilogue-council-") as name:
        figures = asyncio.run(_show_in(args, Path(name), profile))
    if profile is not None:
        profile.dump_stats(args.profile)
    json.dump(figures, sys.stdout)
    return 0
