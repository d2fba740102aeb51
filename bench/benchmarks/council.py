"""Alliance proposals: one round through every movement room of an alliance of 100.

council.round
    multilogue, a person (a bot admin who made every room, so a moderator everywhere) and an
    alliance of `ROUND_MOVEMENTS` (100) movement rooms and a commons, set up by typing commands
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
    (a per-user override; the homeserver's `rc_message` is lifted too), so the 100-movement
    round runs at the speed of the bot and the homeserver. Then the same round with
    `PACED_MOVEMENTS` (10) movements on a second throwaway Synapse whose message limit is
    Synapse's default (`rc_message`: 0.2 events a second after a burst of 10; the admin API
    only takes whole events a second in a per-user override, so it comes from the config),
    with a multilogue of its own (the first one is stopped). The bot's limit is lifted for
    set-up and for the first decisions and applies for the proposal and for the last decision,
    which comes once the limit's bucket is empty again (as it is when the last movement
    decides hours or days later). The expected times at 100 movements under the default limit
    are worked out from the counts (the events beyond the burst go at 0.2 a second); the
    10-movement round shows how close that is.
    Checks: one poll and one notice in every movement room, one root and one outcome in the
    commons, one outcome in every movement room, every `!poll close` answered, passed.

`!proposal N` at 100 movements (the bot's own time, in-process) is `scale.proposal`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import re
import time
import urllib.parse
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from nio import Event, MatrixRoom, RoomSendResponse

from bench.context import MULTILOGUE, BenchContext
from bench.prober import BenchError, Prober
from bench.processes import BotProcess, multilogue_process, read_cpu_s
from bench.registry import BenchResult, Row
from bot.tooling.homeserver import LocalSynapse, RegisteredUser

ROUND_MOVEMENTS = 100  # council.round (fewer when settings.movements is smaller: --quick)
PACED_MOVEMENTS = 10  # the same round under Synapse's default message limit
PACED_MOVEMENTS_QUICK = 2
RC_MESSAGE_PER_S = 0.2  # Synapse's default rc_message: events a second...
RC_MESSAGE_BURST = 10  # ...after a burst of this many
CONCURRENCY = 8  # commands in flight while setting up and deciding
IDLE_S = 10.0  # how long the bot's CPU is read while the round is open and nothing happens
SETTLE_S = 2.0  # after the last outcome: time for a duplicate to show up
MOVEMENT_NAMES = ("Climate Camp", "Housing Co-op", "Care Workers Union", "Tenants Union", "Farmers")
PROPOSAL = "We hold a joint day of action on 1 May"
START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
MESSAGE = "m.room.message"
NAN = math.nan
_POLL_NUMBER = re.compile(r"poll close (\d+)")
_PROPOSAL_NUMBER = re.compile(r"Proposal (\d+) of ")

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
    ctx: BenchContext,
    person: Prober,
    bot_id: str,
    process: BotProcess,
    *,
    alliance: str,
    movements: int,
    encrypted: bool = False,
    join_s_each: float = 1.0,
) -> Council:
    """An alliance of `movements` movement rooms in the multilogue `bot_id`, set up by typing
    commands as `person`, several at a time (`encrypted`: every room of it is)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = round(now - started, 3)
        started = now

    rooms = await ctx.rooms_with(
        person, bot_id, movements + 1, encrypted=encrypted, join_s_each=join_s_each
    )
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


class PacedHomeserver:
    """A second throwaway Synapse, as the bench's (rate limits lifted) but for the message
    limit, which is Synapse's default (`rc_message`). Its accounts get that limit lifted by a
    per-user override, as the bench's do; `limit(user, on=True)` deletes the override, so the
    homeserver's default applies to that account (Synapse's admin API only takes whole
    events a second in an override, so 0.2 a second can only come from the config)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.synapse = LocalSynapse(
            folder / "synapse",
            in_memory_db=True,
            extra_config={
                "presence": {"enabled": False},
                "rc_message": {"per_second": RC_MESSAGE_PER_S, "burst_count": RC_MESSAGE_BURST},
            },
        )
        self._admin_token = ""
        self._names = itertools.count(1)
        self._processes: list[BotProcess] = []
        self._probers: list[Prober] = []

    async def start(self) -> None:
        await asyncio.to_thread(self.synapse.start)
        admin = await asyncio.to_thread(self.synapse.register, "paced-admin", admin=True)
        self._admin_token = admin.access_token

    async def account(self, prefix: str) -> RegisteredUser:
        user = await asyncio.to_thread(self.synapse.register, f"{prefix}{next(self._names)}")
        await self.limit(user.user_id, on=False)
        return user

    async def limit(self, user_id: str, *, on: bool) -> None:
        """The default message limit for `user_id` (on), or none (off)."""
        if not on:
            await asyncio.to_thread(
                self.synapse.override_ratelimit, admin_token=self._admin_token, user_id=user_id
            )
            return
        path = f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/override_ratelimit"
        await asyncio.to_thread(self.synapse.api, "DELETE", path, token=self._admin_token)

    async def prober(self, prefix: str) -> Prober:
        account = await self.account(prefix)
        prober = Prober(self.synapse.url, account, self.folder / "probers" / account.user_id[1:])
        self._probers.append(prober)
        await prober.start()
        return prober

    async def multilogue(self, name: str, *, admins: Sequence[str]) -> tuple[str, BotProcess]:
        account = await self.account(name)
        process = multilogue_process(
            name,
            homeserver=self.synapse.url,
            server_name=self.synapse.server_name,
            account=account,
            folder=self.folder / "bots",
            admins=admins,
        )
        self._processes.append(process)
        await process.start()
        return account.user_id, process

    async def settle(self, at_most_s: float = 20.0) -> float:
        """Wait until this homeserver and its bots are idle (as `BenchContext.settle`)."""
        pids = [p.pid for p in self._processes if p.running]
        if self.synapse.pid is not None:
            pids.append(self.synapse.pid)

        def cpu() -> float:
            total = 0.0
            for pid in pids:
                with contextlib.suppress(OSError, ValueError):
                    total += read_cpu_s(pid)
            return total

        started = time.monotonic()
        while time.monotonic() - started < at_most_s:
            before = cpu()
            await asyncio.sleep(1.0)
            if cpu() - before < 0.05:
                break
        return time.monotonic() - started

    async def close(self) -> None:
        for process in self._processes:
            await process.close()
        for prober in self._probers:
            await prober.stop()
        await asyncio.to_thread(self.synapse.stop)


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


def _alive(council: Council) -> None:
    status = council.process.exited_by_itself
    if status is not None:
        raise BenchError(f"{council.bot_id} exited with status {status}")


Settle = Callable[[], Awaitable[object]]
Limit = Callable[[bool], Awaitable[None]]


async def run_round(
    person: Prober,
    watcher: BotEvents,
    council: Council,
    *,
    settle: Settle,
    limit: Limit | None = None,
    idle_s: float = 0.0,
) -> RoundFigures:
    """One proposal: asked everywhere, decided everywhere, told everywhere (see the module
    docstring). With `limit`, the bot's message limit is switched on (`limit(True)`) for the
    proposal and the last decision. With `idle_s`, the bot's CPU is read that long while the
    round is open and nothing happens."""
    bot, rooms = council.bot_id, council.rooms
    movement_rooms = set(rooms.values())
    every_room = {council.commons, *movement_rooms}
    n = len(rooms)
    paced = limit is not None
    figures = RoundFigures(movements=n, paced=paced)
    slack_s = 60 + 2 * n + (paced_s(2 * n + 2) if paced else 0)
    if limit is not None:
        await limit(True)

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
            _alive(council)
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
    found = _PROPOSAL_NUMBER.search(answers[0].body) if answers else None
    number = int(found.group(1)) if found else 1
    if answers:
        figures.reply_s = answers[0].arrived - started
    last_send = max(s.arrived for s in watcher.since(mark_a, bot))
    if idle_s:  # the reconciler's upkeep while the round is open and nothing happens
        await settle()
        before, began = read_cpu_s(council.process.pid), time.monotonic()
        await asyncio.sleep(idle_s)
        used = read_cpu_s(council.process.pid) - before
        figures.idle_cpu_ms_per_s = used * 1000 / (time.monotonic() - began)
    if limit is not None:
        await limit(False)

    # 2. Every movement but the last decides; then everything goes idle.
    mark_b = watcher.mark()
    names = list(rooms)
    poll_event = await _poll_events(person, bot, rooms)
    poll_number = {rooms[name]: _poll_number(notices[rooms[name]]) for name in names}

    async def decide(name: str) -> None:
        room = rooms[name]
        await _vote(person, room, poll_event[room])
        await ask(person, room, f"!poll close {poll_number[room]}", bot, "")

    await limited(names[:-1], decide)
    last_room = rooms[names[-1]]
    await _vote(person, last_room, poll_event[last_room])
    if limit is not None:  # the last decision comes when the bucket is empty (days later)
        await limit(True)
        in_bucket = min(RC_MESSAGE_BURST, len(watcher.since(mark_a, bot, mark_b)))
        wait_s = last_send + in_bucket / RC_MESSAGE_PER_S + 1.0 - time.perf_counter()
        figures.drained_s = round(max(0.0, wait_s), 1)
        await asyncio.sleep(max(0.0, wait_s))
    await settle()

    # 3. The last decision, until the outcome is everywhere.
    mark_c = watcher.mark()
    close_id, started = await person.send_text(last_room, f"!poll close {poll_number[last_room]}")
    heading = f"Proposal {number} of {council.alliance} is decided"

    def is_outcome(s: Seen) -> bool:
        return s.event_type == MESSAGE and s.body.startswith(heading)

    def told() -> dict[str, Seen | None]:
        return _first_in_each(watcher.since(mark_c, bot), every_room, is_outcome)

    def told_everywhere() -> bool:
        _alive(council)
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
    if limit is not None:
        await limit(False)

    figures.sends = {
        "asked": _by_type(watcher.since(mark_a, bot, mark_b)),
        "decided": _by_type(watcher.since(mark_b, bot, mark_c)),
        "told": _by_type(watcher.since(mark_c, bot)),
    }
    figures.checks = _round_checks(
        watcher.since(mark_a, bot), council, heading, closes=len(names), closed=bool(closed)
    )
    return figures


async def _poll_events(person: Prober, bot: str, rooms: dict[str, str]) -> dict[str, str]:
    """The event id of the bot's poll in each movement room, from each room's history."""
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
    outcome everywhere; it passed; the last !poll close answered."""
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
    passed = bool(outcomes) and all("Outcome: Passed:" in s.body.split("\n")[0] for s in outcomes)
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
    person = await ctx.prober("mover")
    watcher = BotEvents(person)
    bot_id, process = await ctx.multilogue("council", admins=(person.user_id,))
    council = await alliance_of(
        ctx, person, bot_id, process, alliance="Bench Council", movements=movements
    )
    lifted = await run_round(
        person,
        watcher,
        council,
        settle=lambda: ctx.settle(at_most_s=20),
        idle_s=2.0 if s.quick else IDLE_S,
    )
    await process.stop()  # its reconciler would share the machine with the paced round
    home = PacedHomeserver(ctx.folder / "paced")
    try:
        await home.start()
        paced_person = await home.prober("mover")
        paced_watcher = BotEvents(paced_person)
        paced_id, paced_process = await home.multilogue(
            "council-paced", admins=(paced_person.user_id,)
        )
        slow = await alliance_of(
            ctx,
            paced_person,
            paced_id,
            paced_process,
            alliance="Paced Council",
            movements=PACED_MOVEMENTS_QUICK if s.quick else min(PACED_MOVEMENTS, movements),
        )

        async def limit(on: bool) -> None:
            await home.limit(paced_id, on=on)

        paced = await run_round(paced_person, paced_watcher, slow, settle=home.settle, limit=limit)
    finally:
        await home.close()
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
        Row(f"default limit, {m} rooms: all asked", "s", NAN, round(paced.asked_s, 1)),
        Row(f"default limit, {m} rooms: all told", "s", NAN, round(paced.outcome_s, 1)),
        Row(f"default limit, {n} rooms: all asked, expected", "min", NAN, minutes(expect_asked)),
        Row(f"default limit, {n} rooms: all told, expected", "min", NAN, minutes(expect_told)),
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
        "rate limits: the bot's message limit was lifted for set-up and for this round, as "
        f"every bench account's; a second round ({m} movements) ran on a second Synapse whose "
        f"rc_message is Synapse's default ({RC_MESSAGE_PER_S:g} events/s after a burst of "
        f"{RC_MESSAGE_BURST}), with a multilogue of its own, limited for the proposal and, "
        f"after {paced.drained_s:.0f} s for the limit's bucket to empty, for the last "
        f"decision: {paced.sent('asked')} sends took {paced.asked_s:.1f} s (the limit alone: "
        f"{paced_s(paced.sent('asked')):.0f} s), {paced.sent('told')} sends "
        f"{paced.outcome_s:.1f} s ({paced_s(paced.sent('told')):.0f} s); so at {n} movements "
        f"({lifted.sent('asked')} and {lifted.sent('told')} sends) expect "
        f"{expect_asked / 60:.1f} min until every room is asked and {expect_told / 60:.1f} min "
        "until every room is told, unless the operator lifts the bot's limit (each !poll close "
        "costs 2 more sends)"
    )
    return result


def minutes(seconds: float) -> float:
    return round(seconds / 60, 1)


def _sends_text(figures: RoundFigures, phase: str) -> str:
    kinds = figures.sends.get(phase, {})
    short = {START: "poll start", "org.matrix.msc3381.poll.end": "poll end", MESSAGE: "notice"}
    parts = ", ".join(
        f"{count} {short.get(kind, kind)}{'' if count == 1 else 's'}"
        for kind, count in sorted(kinds.items())
    )
    return f"{figures.sent(phase)} ({parts})" if parts else "0"
