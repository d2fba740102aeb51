"""`!poll results` on a poll with `settings.votes` votes (1,000), each from a different person.

The set-up is what such a poll is in a real room, made through the homeserver and the bot:

1. an organiser (an account that does not sync) creates a public room;
2. `settings.votes` voters are registered (shared-secret registration) and join it;
3. the measuring person joins, the organiser invites multilogue (it joins a room of 1,000
   members) and the person types `!poll` with three options; multilogue posts the poll;
4. every voter clicks an answer the way Element does: one `org.matrix.msc3381.poll.response`
   event each, which multilogue's listener stores like any vote (no reply);
5. the floor is invited (only now, so it is not woken by every vote), and the person asks
   `!poll results` until multilogue counts every vote.

Each step is timed and reported. Only each person's latest vote counts and the tally counts
only members of the room, so 1,000 votes need 1,000 voters in the room: there is no shortcut
that keeps the figure honest (`bench/README.md` weighs the alternatives).

The floor runs in the SAME room: the raw echo answers the word `ping`, which multilogue
ignores, while multilogue answers `!poll results`. A message in a room of 1,000 members costs
the homeserver noticeably more than in a room of two (Synapse evaluates push rules for every
member), so the floor's `!ping` in its own small room would not be a fair comparison;
latency.ping shows that one. Each bot sees the other arm's probes and answers and ignores
them. Checks: every probe answered once, and every multilogue answer reports all the votes.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bench.benchmarks.latency import FLOOR_WORD, LatencySetup, bots, latency_of
from bench.context import FLOOR, MULTILOGUE, Arm, BenchContext
from bench.prober import BenchError, Prober
from bench.registry import BenchResult
from bot.tooling.homeserver import RegisteredUser

COMMAND = "!poll results"
POLL = "!poll Where shall we meet?\nPark\nLibrary\nOnline"
ANSWERS = ("a1", "a2", "a3")  # the ids multilogue gives the options of a straw poll
START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
CONCURRENCY = 8  # HTTP calls in flight while setting up (the homeserver is the bottleneck)
_VOTERS = re.compile(r"^(\d+) voters?\b", re.MULTILINE)

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class PollRoom:
    room_id: str
    poll_event_id: str
    votes: int
    timings_s: dict[str, float]  # set-up steps


def voters_in(body: str) -> int | None:
    """The number of voters a results message reports."""
    found = _VOTERS.search(body)
    return int(found.group(1)) if found else None


async def in_threads(items: Sequence[T], action: Callable[[T], U]) -> list[U]:
    """`action(item)` for every item in worker threads, `CONCURRENCY` at a time, in order."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(item: T) -> U:
        async with limit:
            return await asyncio.to_thread(action, item)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def _poll_room(ctx: BenchContext, prober: Prober, arms: dict[str, Arm]) -> PollRoom:
    synapse = ctx.synapse
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = round(now - started, 3)
        started = now

    # Made by an organiser who does not sync, so nobody's sync is woken by every join.
    organiser = await ctx.account("organiser")
    created = await asyncio.to_thread(
        synapse.api,
        "POST",
        "/_matrix/client/v3/createRoom",
        token=organiser.access_token,
        body={"name": "bench poll", "preset": "public_chat"},
    )
    room_id = str(created["room_id"])
    quoted = urllib.parse.quote(room_id)
    names = [ctx.localpart("voter") for _ in range(ctx.settings.votes)]
    voters = await in_threads(names, synapse.register)
    step("register")

    def join(voter: RegisteredUser) -> None:
        synapse.api("POST", f"/_matrix/client/v3/join/{quoted}", token=voter.access_token, body={})

    await in_threads(voters, join)
    step("join")

    await prober.join(room_id)
    await prober.wait_for(lambda: prober.known(room_id), timeout_s=60, what="the poll room")
    await _invite(ctx, prober, organiser, room_id, arms[MULTILOGUE])
    probe = await prober.probe(room_id, POLL, bot_id=arms[MULTILOGUE].bot_id, timeout_s=60)
    if probe.latency_s is None:
        raise BenchError("multilogue did not answer the !poll that starts the poll")
    start = await prober.latest_event(room_id, sender=arms[MULTILOGUE].bot_id, event_type=START)
    poll_event_id = str(start["event_id"])
    step("poll")

    def vote(numbered: tuple[int, RegisteredUser]) -> None:
        index, voter = numbered
        content: dict[str, Any] = {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll_event_id},
            RESPONSE: {"answers": [ANSWERS[index % len(ANSWERS)]]},
        }
        synapse.api(
            "PUT",
            f"/_matrix/client/v3/rooms/{quoted}/send/{RESPONSE}/{uuid.uuid4().hex}",
            token=voter.access_token,
            body=content,
        )

    await in_threads(list(enumerate(voters)), vote)
    step("vote")
    await _invite(ctx, prober, organiser, room_id, arms[FLOOR])  # only now: not woken by every vote

    await _until_counted(ctx, prober, arms[MULTILOGUE], room_id, len(voters))
    step("counted")
    return PollRoom(room_id, poll_event_id, len(voters), timings)


async def _invite(
    ctx: BenchContext, prober: Prober, organiser: RegisteredUser, room_id: str, arm: Arm
) -> None:
    """The organiser invites the bot; wait until the person sees it joined."""
    await asyncio.to_thread(
        ctx.synapse.api,
        "POST",
        f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/invite",
        token=organiser.access_token,
        body={"user_id": arm.bot_id},
    )

    def joined() -> bool:
        ctx.check_bots()
        return prober.known(room_id) and prober.joined(room_id, arm.bot_id)

    await prober.wait_for(joined, timeout_s=60, what=f"{arm.name} to join the poll room")


async def _until_counted(
    ctx: BenchContext, prober: Prober, multilogue: Arm, room_id: str, votes: int
) -> None:
    """Ask `!poll results` until multilogue reports every vote (it stores them as they come)."""
    deadline = time.monotonic() + 60 + votes / 10
    seen: int | None = None
    while time.monotonic() < deadline:
        probe = await prober.probe(
            room_id, COMMAND, bot_id=multilogue.bot_id, timeout_s=ctx.settings.probe_timeout_s
        )
        answers = prober.answers(probe.event_id, multilogue.bot_id)
        seen = voters_in(answers[0].body) if answers else None
        if seen == votes:
            return
        ctx.check_bots()
        await asyncio.sleep(0.5)
    raise BenchError(f"multilogue counted {seen} of the {votes} votes; see its log")


async def poll_results(ctx: BenchContext) -> BenchResult:
    prober, started = await bots(ctx)
    arms = {
        name: Arm(name=name, bot_id=bot_id, process=process, rooms=())
        for name, (bot_id, process) in started.items()
    }
    room = await ctx.shared("polls.room", lambda: _poll_room(ctx, prober, arms))
    arms = {name: Arm(a.name, a.bot_id, a.process, (room.room_id,)) for name, a in arms.items()}
    setup = LatencySetup(prober, arms)
    await ctx.warm_up(prober, arms[FLOOR], ctx.settings.warmup, body=FLOOR_WORD)
    await ctx.warm_up(prober, arms[MULTILOGUE], ctx.settings.warmup, body=COMMAND)

    def all_counted(body: str) -> str | None:
        seen = voters_in(body)
        return None if seen == room.votes else f"reported {seen} voters, not {room.votes}"

    result = await latency_of(
        ctx, setup, {FLOOR: FLOOR_WORD, MULTILOGUE: COMMAND}, expect={MULTILOGUE: all_counted}
    )
    t = room.timings_s
    result.notes.append(
        f"both bots in one public room of {room.votes + 4} members: an organiser, the person, "
        "the bots, "
        f"{room.votes} voters with one vote each (a native poll response, as Element sends)"
    )
    result.notes.append(
        f"set-up: registered {room.votes} voters in {t['register']:.1f} s, joined in "
        f"{t['join']:.1f} s; multilogue joined and posted the poll in {t['poll']:.1f} s; "
        f"the voters voted in {t['vote']:.1f} s; the floor joined and multilogue reported "
        f"every vote {t['counted']:.1f} s later"
    )
    result.arms[MULTILOGUE]["votes"] = room.votes
    result.arms[MULTILOGUE]["setup_s"] = t
    return result
