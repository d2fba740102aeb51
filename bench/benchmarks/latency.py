"""Command latency: a person sends a command and waits until the answer is in their sync.

Two bots, each in a room of its own with the same measuring client: the floor (the raw
matrix-nio echo, answering `!ping`) and multilogue (answering the command measured). The
probes of both arms are shuffled together and sent one at a time, with a short jittered
pause between them, so both arms see the same homeserver, the same load and the same noise.
Warm-up probes (not counted) come first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.context import ARMS, FLOOR, MULTILOGUE, Arm, BenchContext
from bench.prober import Probe, Prober
from bench.processes import BotProcess
from bench.registry import BenchResult, Row
from bench.stats import Summary

SETTLE_S = 1.0  # after the last probe, time for any duplicate answer to show up

P50_GOAL = ("<= 1.05x", 1.05)
P95_GOAL = ("<= 1.1x", 1.1)


@dataclass(frozen=True)
class LatencySetup:
    prober: Prober
    arms: dict[str, Arm]


FLOOR_WORD = "ping"
"""What the floor also answers: a word multilogue ignores, for rooms both bots are in."""


async def _bots(ctx: BenchContext) -> tuple[Prober, dict[str, tuple[str, BotProcess]]]:
    prober = await ctx.prober("person")
    floor = await ctx.raw_echo("floor", commands=("!ping", FLOOR_WORD))
    # The person is a bot admin: they may create the alliance of latency.objectives.
    multilogue = await ctx.multilogue("multilogue", admins=(prober.user_id,))
    return prober, {FLOOR: floor, MULTILOGUE: multilogue}


async def bots(ctx: BenchContext) -> tuple[Prober, dict[str, tuple[str, BotProcess]]]:
    """The person and both bots shared by every latency benchmark (started once per run)."""
    return await ctx.shared("latency.bots", lambda: _bots(ctx))


async def latency_setup(ctx: BenchContext, *, encrypted: bool) -> LatencySetup:
    """Both bots running (shared by every latency benchmark), each in its own room."""
    prober, started = await bots(ctx)

    async def build() -> LatencySetup:
        arms: dict[str, Arm] = {}
        for name, (bot_id, process) in started.items():
            rooms = await ctx.rooms_with(prober, bot_id, 1, encrypted=encrypted)
            arms[name] = Arm(name=name, bot_id=bot_id, process=process, rooms=rooms)
        for arm in arms.values():
            await ctx.warm_up(prober, arm, ctx.settings.warmup)
        return LatencySetup(prober, arms)

    kind = "encrypted" if encrypted else "plain"
    return await ctx.shared(f"latency.rooms.{kind}", build)


@dataclass(frozen=True)
class Measured:
    probes: dict[str, list[Probe]]
    cpu_s: dict[str, float]  # CPU time each bot process used while the probes ran


async def measure(ctx: BenchContext, setup: LatencySetup, commands: dict[str, str]) -> Measured:
    """`settings.probes` probes per arm, interleaved in random order."""
    plan = [name for name in ARMS for _ in range(ctx.settings.probes)]
    ctx.rng.shuffle(plan)
    probes: dict[str, list[Probe]] = {name: [] for name in ARMS}
    cpu_before = {name: arm.process.cpu_s() for name, arm in setup.arms.items()}
    for name in plan:
        arm = setup.arms[name]
        probe = await setup.prober.probe(
            arm.rooms[0],
            commands[name],
            bot_id=arm.bot_id,
            timeout_s=ctx.settings.probe_timeout_s,
        )
        probes[name].append(probe)
        await asyncio.sleep(ctx.settings.gap_s * (0.5 + ctx.rng.random()))
    await asyncio.sleep(SETTLE_S)
    cpu = {name: arm.process.cpu_s() - cpu_before[name] for name, arm in setup.arms.items()}
    return Measured(probes, cpu)


AnswerCheck = Callable[[str], str | None]
"""Reads an answer's plain text; returns what is wrong with it, or None."""


def latency_result(
    setup: LatencySetup,
    commands: dict[str, str],
    measured: Measured,
    *,
    expect: dict[str, AnswerCheck] | None = None,
) -> BenchResult:
    """Rows, arms and checks: every probe answered exactly once (and, for the arms in
    `expect`, every answer saying what it should)."""
    probes = measured.probes
    cpu_ms: dict[str, float] = {}
    summaries: dict[str, Summary] = {}
    arms: dict[str, dict[str, Any]] = {}
    checks: dict[str, Any] = {}
    passed = True
    for name in ARMS:
        arm = setup.arms[name]
        samples = [p.latency_s for p in probes[name] if p.latency_s is not None]
        answers = [setup.prober.answers(p.event_id, arm.bot_id) for p in probes[name]]
        counts = [len(a) for a in answers]
        sizes = [a[0].size for a in answers if a]
        summary = Summary.of(samples)
        summaries[name] = summary
        cpu_ms[name] = measured.cpu_s[name] * 1000 / max(len(probes[name]), 1)
        arms[name] = {
            "command": commands[name],
            "bot": arm.bot_id,
            "n": summary.n,
            "p50_ms": round(summary.p50_ms, 3),
            "p95_ms": round(summary.p95_ms, 3),
            "mean_ms": round(summary.mean_ms, 3),
            "min_ms": round(summary.min_ms, 3),
            "max_ms": round(summary.max_ms, 3),
            "cpu_per_command_ms": round(cpu_ms[name], 3),
            "answer_bytes": max(sizes, default=0),
            "samples_ms": [round(s * 1000, 3) for s in samples],
        }
        arm_checks: dict[str, Any] = {
            "sent": len(counts),
            "answered_once": sum(1 for c in counts if c == 1),
            "missing": sum(1 for c in counts if c == 0),
            "duplicates": sum(c - 1 for c in counts if c > 1),
        }
        check = (expect or {}).get(name)
        if check is not None:
            problems = [p for p in (check(a.body) for found in answers for a in found) if p]
            arm_checks["unexpected"] = len(problems)
            if problems:
                arm_checks["first_problem"] = problems[0]
        checks[name] = arm_checks
        passed = (
            passed
            and arm_checks["answered_once"] == arm_checks["sent"] > 0
            and not arm_checks.get("unexpected")
        )
    checks["passed"] = passed
    floor, multilogue = summaries[FLOOR], summaries[MULTILOGUE]
    rows = [
        Row("p50", "ms", floor.p50_ms, multilogue.p50_ms, *P50_GOAL),
        Row("p95", "ms", floor.p95_ms, multilogue.p95_ms, *P95_GOAL),
        Row("mean", "ms", floor.mean_ms, multilogue.mean_ms),
        Row("CPU per command", "ms", cpu_ms[FLOOR], cpu_ms[MULTILOGUE]),
    ]
    return BenchResult(status="ok", rows=rows, arms=arms, checks=checks)


async def latency_of(
    ctx: BenchContext,
    setup: LatencySetup,
    commands: dict[str, str],
    *,
    expect: dict[str, AnswerCheck] | None = None,
) -> BenchResult:
    """Measure `commands` (per arm) in the arms' first rooms, interleaved; see `measure`."""
    command = commands[MULTILOGUE]
    if command != "!ping":  # its templates load on first use: not part of the figure
        await ctx.warm_up(setup.prober, setup.arms[MULTILOGUE], 2, body=command)
    measured = await measure(ctx, setup, commands)
    result = latency_result(setup, commands, measured, expect=expect)
    sizes = {name: result.arms[name]["answer_bytes"] for name in ARMS}
    result.notes.append(
        f"the floor answers {commands[FLOOR]} ({sizes[FLOOR]} B), multilogue {command} "
        f"({sizes[MULTILOGUE]} B); both bots run with encryption on"
    )
    return result


async def command_latency(
    ctx: BenchContext, command: str, *, encrypted: bool = False
) -> BenchResult:
    setup = await latency_setup(ctx, encrypted=encrypted)
    return await latency_of(ctx, setup, {FLOOR: "!ping", MULTILOGUE: command})


async def ping(ctx: BenchContext) -> BenchResult:
    return await command_latency(ctx, "!ping")


async def help_(ctx: BenchContext) -> BenchResult:
    return await command_latency(ctx, "!help")


async def encrypted_ping(ctx: BenchContext) -> BenchResult:
    return await command_latency(ctx, "!ping", encrypted=True)
