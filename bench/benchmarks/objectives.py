"""`!objectives` in the commons of an alliance like the demo's, against the raw echo's `!ping`.

The alliance is set up the way the demo sets it up, by typing commands: `bot.tooling.demo_seed`
(`seed_alliance`), run as the measuring person (a bot admin of the multilogue under test),
creates a commons and three movement rooms, `!alliance create`, `!movement join` and
`!movement approve` for each movement, and `!objective import` of the demo's eight
objectives, each time waiting for the bot's answer. No movement has a stance yet, as in a
fresh demo. Then the probes run as in every latency benchmark: the floor answers `!ping` in
its own room, multilogue `!objectives` in the commons (two people in each room), interleaved.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, replace

from bench.benchmarks.latency import LatencySetup, latency_of, latency_setup
from bench.context import FLOOR, MULTILOGUE, BenchContext
from bench.registry import BenchResult
from bot.tooling.demo_seed import MOVEMENTS, OBJECTIVES, seed_alliance

COMMAND = "!objectives"
_LISTED = re.compile(r"^#(\d+) ", re.MULTILINE)


@dataclass(frozen=True)
class Commons:
    """The demo's alliance in the shared multilogue: its commons and movement rooms."""

    room_id: str
    movements: dict[str, str]  # movement name -> its room, in the order of MOVEMENTS
    seeded_s: float


async def demo_alliance(ctx: BenchContext, setup: LatencySetup) -> Commons:
    """The demo's alliance, seeded once per run (relay.* shares its threads from it)."""
    return await ctx.shared("objectives.commons", lambda: _seed(ctx, setup))


async def _seed(ctx: BenchContext, setup: LatencySetup) -> Commons:
    multilogue = setup.arms[MULTILOGUE]
    prober = setup.prober
    started = time.perf_counter()
    seeded = await asyncio.to_thread(
        seed_alliance, ctx.synapse, token=prober.access_token, bot_id=multilogue.bot_id
    )
    took = time.perf_counter() - started
    await prober.wait_for(
        lambda: prober.known(seeded.commons), timeout_s=60, what="the commons in the sync"
    )
    return Commons(seeded.commons, dict(seeded.movements), took)


def _lists_every_objective(body: str) -> str | None:
    numbers = [int(n) for n in _LISTED.findall(body)]
    wanted = list(range(1, len(OBJECTIVES) + 1))
    if numbers != wanted:
        return f"listed objectives {numbers}, not {wanted}"
    return None


async def objectives(ctx: BenchContext) -> BenchResult:
    plain = await latency_setup(ctx, encrypted=False)
    commons = await demo_alliance(ctx, plain)
    arms = dict(plain.arms)
    arms[MULTILOGUE] = replace(arms[MULTILOGUE], rooms=(commons.room_id,))
    setup = LatencySetup(plain.prober, arms)
    result = await latency_of(
        ctx,
        setup,
        {FLOOR: "!ping", MULTILOGUE: COMMAND},
        expect={MULTILOGUE: _lists_every_objective},
    )
    result.notes.append(
        f"the demo's alliance ({len(MOVEMENTS)} movements, {len(OBJECTIVES)} objectives, no "
        f"stances yet), set up through bot.tooling.demo_seed's commands in {commons.seeded_s:.1f} s"
    )
    result.arms[MULTILOGUE]["alliance_seeded_s"] = round(commons.seeded_s, 3)
    return result
