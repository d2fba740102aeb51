"""Restart: a bot in many rooms is stopped, a command waits in every room, the bot starts.

Each arm (the raw matrix-nio echo, which syncs from its stored token, and multilogue) is
joined to `settings.rooms` rooms of its own. Per round, in random order of arms: stop the
bot (SIGTERM), send `!ping` in each of its rooms, start the bot again, and time from
starting its process until every command is answered (Python start-up, login and the first
sync included, for both). Then read the process's resident memory (VmRSS) and check that
every command was answered exactly once. The figure is the median over rounds.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.context import ARMS, FLOOR, MULTILOGUE, Arm, BenchContext
from bench.prober import Prober
from bench.registry import BenchResult, Row

SETTLE_S = 1.0  # after catching up: time for a duplicate answer to show up


@dataclass(frozen=True)
class Round:
    stop_status: int
    all_answered_s: float  # NaN when some command was never answered
    first_answer_s: float
    cpu_s: float  # CPU time the process used from its start until all were answered
    rss_mb: float
    peak_rss_mb: float
    answered_once: int
    missing: int
    duplicates: int


async def restart_once(ctx: BenchContext, prober: Prober, arm: Arm) -> Round:
    stop_status = await arm.process.stop()
    limit = asyncio.Semaphore(8)

    async def send(room_id: str) -> str:
        async with limit:
            event_id, _ = await prober.send_text(room_id, "!ping")
            return event_id

    event_ids = await asyncio.gather(*(send(room) for room in arm.rooms))
    started = time.perf_counter()
    await arm.process.start()
    timeout = 120.0 + len(event_ids)
    arrivals = await prober.arrivals(event_ids, arm.bot_id, timeout_s=timeout)
    answered = [t for t in arrivals.values() if t is not None]
    cpu_s = arm.process.cpu_s()
    await asyncio.sleep(SETTLE_S)
    memory = arm.process.memory()
    counts = [len(prober.answers(event_id, arm.bot_id)) for event_id in event_ids]
    return Round(
        stop_status=stop_status,
        all_answered_s=max(answered) - started if len(answered) == len(event_ids) else math.nan,
        first_answer_s=min(answered) - started if answered else math.nan,
        cpu_s=cpu_s,
        rss_mb=memory.rss_mb,
        peak_rss_mb=memory.peak_mb,
        answered_once=sum(1 for c in counts if c == 1),
        missing=sum(1 for c in counts if c == 0),
        duplicates=sum(c - 1 for c in counts if c > 1),
    )


def _median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if len(finite) == len(values) and finite else math.nan


async def restart(ctx: BenchContext) -> BenchResult:
    settings = ctx.settings
    prober = await ctx.prober("restarter")
    bots = {FLOOR: await ctx.raw_echo("restart-floor"), MULTILOGUE: await ctx.multilogue("restart")}
    arms: dict[str, Arm] = {}
    for name, (bot_id, process) in bots.items():
        rooms = await ctx.rooms_with(prober, bot_id, settings.rooms)
        arms[name] = Arm(name=name, bot_id=bot_id, process=process, rooms=rooms)
    for arm in arms.values():
        await ctx.warm_up(prober, arm, 1)
    await asyncio.sleep(SETTLE_S)  # both back in their long-poll, their sync token stored

    rounds: dict[str, list[Round]] = {name: [] for name in ARMS}
    for _ in range(settings.rounds):
        order = list(ARMS)
        ctx.rng.shuffle(order)
        for name in order:
            rounds[name].append(await restart_once(ctx, prober, arms[name]))

    figures: dict[str, dict[str, float]] = {}
    arm_json: dict[str, dict[str, Any]] = {}
    checks: dict[str, Any] = {}
    passed = True
    for name in ARMS:
        done = rounds[name]
        figures[name] = {
            "all": _median([r.all_answered_s for r in done]),
            "first": _median([r.first_answer_s for r in done]),
            "cpu": _median([r.cpu_s for r in done]),
            "rss": _median([r.rss_mb for r in done]),
            "peak": max((r.peak_rss_mb for r in done), default=math.nan),
        }
        arm_json[name] = {
            "bot": arms[name].bot_id,
            "rooms": len(arms[name].rooms),
            "all_answered_s": figures[name]["all"],
            "first_answer_s": figures[name]["first"],
            "cpu_s": figures[name]["cpu"],
            "rss_mb": figures[name]["rss"],
            "peak_rss_mb": figures[name]["peak"],
            "rounds": [asdict(r) for r in done],
        }
        sent = len(done) * len(arms[name].rooms)
        missing = sum(r.missing for r in done)
        duplicates = sum(r.duplicates for r in done)
        clean_stops = all(r.stop_status == 0 for r in done)
        checks[name] = {
            "sent": sent,
            "answered_once": sum(r.answered_once for r in done),
            "missing": missing,
            "duplicates": duplicates,
            "clean_stops": clean_stops,
        }
        passed = passed and missing == 0 and duplicates == 0 and clean_stops and sent > 0
    checks["passed"] = passed
    floor, multilogue = figures[FLOOR], figures[MULTILOGUE]
    rows = [
        Row("all answered", "s", floor["all"], multilogue["all"], "<= 2x", 2.0),
        Row("first answer", "s", floor["first"], multilogue["first"]),
        Row("CPU to catch up", "s", floor["cpu"], multilogue["cpu"]),
        Row("RSS after catch-up", "MB", floor["rss"], multilogue["rss"], "< 200 MB", max_value=200),
        Row("peak RSS", "MB", floor["peak"], multilogue["peak"]),
    ]
    result = BenchResult(status="ok", rows=rows, arms=arm_json, checks=checks)
    result.notes.append(
        f"{settings.rooms} rooms per bot, one !ping waiting in each, median of "
        f"{settings.rounds} round(s); timed from starting the process"
    )
    return result
