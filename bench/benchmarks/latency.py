"""Command latency: a person sends a command and waits until the answer is in their sync.

Two bots, each in a room of its own with the same measuring client: the floor (the raw
matrix-nio echo, answering `!ping`) and multilogue (answering the command measured). The
probes of both arms are shuffled together and sent one at a time, with a short jittered
pause between them, so both arms see the same homeserver, the same load and the same noise.
Warm-up probes (not counted) come first.

With `--peers maubot`, `latency.ping` and `latency.encrypted_ping` measure a third bot the
same way, in the same run: maubot 0.6 with a `!ping` plugin (`bench/maubot_peer.py`), in a
room of its own, its probes shuffled in with the other two. Its rows are marked
"peer: maubot": there the floor column holds maubot's figure and the ratio is multilogue's
to maubot's. `latency.ping` then also reads every bot's resident memory after the probes and
times, for each, the start to its first answer (stop it, start it, a `!ping` every 250 ms
until one is answered; median of `--rounds`).
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.context import ARMS, FLOOR, MULTILOGUE, PEERS, Arm, BenchContext
from bench.maubot_peer import MAUBOT
from bench.prober import BenchError, Probe, Prober
from bench.processes import BotProcess
from bench.registry import BenchResult, Row
from bench.stats import Summary

SETTLE_S = 1.0  # after the last probe, time for any duplicate answer to show up

P50_GOAL = ("<= 1.05x", 1.05)
P95_GOAL = ("<= 1.1x", 1.1)
PEER_P50_GOAL = ("<= 1.0x", 1.0)  # multilogue's p50 at most a peer's (issue 19)
FIRST_PING_EVERY_S = 0.25  # start to first answer: a !ping this often until one is answered
FIRST_ANSWER_TIMEOUT_S = 120.0


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


@dataclass(frozen=True)
class Peer:
    """A bot of `--peers`, started once per run."""

    bot_id: str
    process: BotProcess
    software: str  # what runs, with versions
    answers_with: str  # how it answers !ping
    encryption: bool


async def _peers(ctx: BenchContext) -> dict[str, Peer]:
    started: dict[str, Peer] = {}
    for name in ctx.settings.peers:
        if name == MAUBOT:
            bot_id, process, install = await ctx.maubot(name)
            started[name] = Peer(
                bot_id,
                process,
                software=install.describe(),
                answers_with="a maubot plugin calling evt.reply",
                encryption=install.encryption,
            )
        else:  # pragma: no cover - the command line only offers PEERS
            raise BenchError(f"no peer named {name}")
    return started


async def peers(ctx: BenchContext) -> dict[str, Peer]:
    """The bots of `--peers` (none without it), started once per run."""
    return await ctx.shared("latency.peers", lambda: _peers(ctx))


async def peer_setup(ctx: BenchContext, *, encrypted: bool) -> LatencySetup:
    """`latency_setup` and the peers, each in a room of its own, warmed up (built once per kind
    of room). In encrypted rooms, only the peers that run with encryption."""
    setup = await latency_setup(ctx, encrypted=encrypted)
    started = await peers(ctx)

    async def build() -> LatencySetup:
        arms = dict(setup.arms)
        for name, peer in started.items():
            if encrypted and not peer.encryption:
                continue
            rooms = await ctx.rooms_with(setup.prober, peer.bot_id, 1, encrypted=encrypted)
            arm = Arm(name=name, bot_id=peer.bot_id, process=peer.process, rooms=rooms)
            await ctx.warm_up(setup.prober, arm, ctx.settings.warmup)
            arms[name] = arm
        return LatencySetup(setup.prober, arms)

    kind = "encrypted" if encrypted else "plain"
    return await ctx.shared(f"latency.peer_rooms.{kind}", build)


def _measured_arms(commands: dict[str, str]) -> list[str]:
    """The arms `commands` names, floor and multilogue first (the order seeds the shuffle)."""
    return [name for name in (*ARMS, *PEERS) if name in commands]


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
    """`settings.probes` probes per arm of `commands`, interleaved in random order."""
    names = _measured_arms(commands)
    plan = [name for name in names for _ in range(ctx.settings.probes)]
    ctx.rng.shuffle(plan)
    probes: dict[str, list[Probe]] = {name: [] for name in names}
    cpu_before = {name: setup.arms[name].process.cpu_s() for name in names}
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
    cpu = {name: setup.arms[name].process.cpu_s() - cpu_before[name] for name in names}
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
    names = _measured_arms(commands)
    for name in names:
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
    for name in names:
        if name in ARMS:
            continue
        peer = summaries[name]
        rows += [
            Row(f"p50, peer: {name}", "ms", peer.p50_ms, multilogue.p50_ms, *PEER_P50_GOAL),
            Row(f"p95, peer: {name}", "ms", peer.p95_ms, multilogue.p95_ms),
            Row(f"mean, peer: {name}", "ms", peer.mean_ms, multilogue.mean_ms),
            Row(f"CPU per command, peer: {name}", "ms", cpu_ms[name], cpu_ms[MULTILOGUE]),
        ]
        done = checks[name]
        checks["summary"] = f"{name} {done['answered_once']}/{done['sent']} answered once"
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
    sizes = {name: result.arms[name]["answer_bytes"] for name in _measured_arms(commands)}
    result.notes.append(
        f"the floor answers {commands[FLOOR]} ({sizes[FLOOR]} B), multilogue {command} "
        f"({sizes[MULTILOGUE]} B); both bots run with encryption on"
    )
    return result


async def peer_latency(ctx: BenchContext, *, encrypted: bool) -> BenchResult:
    """`!ping` to the floor, multilogue and the peers of `--peers`, interleaved."""
    setup = await peer_setup(ctx, encrypted=encrypted)
    commands = dict.fromkeys(setup.arms, "!ping")
    result = await latency_of(ctx, setup, commands)
    for name, peer in (await peers(ctx)).items():
        if name not in setup.arms:
            result.notes.append(f"peer {name} left out: it runs without encryption")
            continue
        result.arms[name]["software"] = peer.software
        result.arms[name]["encryption"] = peer.encryption
        encryption = "on" if peer.encryption else "off"
        result.notes.append(
            f"peer: {peer.software}, in a venv of its own, answers !ping "
            f"({result.arms[name]['answer_bytes']} B) with {peer.answers_with}, encryption "
            f"{encryption}; in the rows 'peer: {name}' the floor column holds {name}'s figure "
            f"and the ratio is multilogue's to {name}'s"
        )
    return result


@dataclass(frozen=True)
class Start:
    """One restart of a bot: from starting its process until a `!ping` was answered."""

    stop_status: int
    first_answer_s: float  # NaN: no answer within FIRST_ANSWER_TIMEOUT_S
    pings: int  # sent until the first answer


async def first_answer(ctx: BenchContext, prober: Prober, arm: Arm) -> Start:
    """Stop the bot, start it, send `!ping` every FIRST_PING_EVERY_S until one is answered.

    Commands sent while a bot starts are answered by the raw echo and multilogue once they
    have synced; maubot ignores its first sync, so it answers the first one sent after."""
    stop_status = await arm.process.stop()
    started = time.perf_counter()
    await arm.process.start()
    sent: list[str] = []
    while time.perf_counter() - started < FIRST_ANSWER_TIMEOUT_S:
        event_id, _ = await prober.send_text(arm.rooms[0], "!ping")
        sent.append(event_id)
        arrived = await prober.arrivals(sent, arm.bot_id, timeout_s=FIRST_PING_EVERY_S)
        answered = [t for t in arrived.values() if t is not None]
        if answered:
            return Start(stop_status, min(answered) - started, len(sent))
        ctx.check_bots()
    return Start(stop_status, math.nan, len(sent))


def _median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if len(finite) == len(values) and finite else math.nan


async def memory_and_start(ctx: BenchContext, setup: LatencySetup, result: BenchResult) -> None:
    """Resident memory after the probes, then start to first answer (median of `--rounds`
    restarts, arms in random order); rows and checks added to `result`."""
    names = [name for name in (*ARMS, *PEERS) if name in setup.arms]
    memory = {name: setup.arms[name].process.memory() for name in names}
    starts: dict[str, list[Start]] = {name: [] for name in names}
    for _ in range(ctx.settings.rounds):
        order = list(names)
        ctx.rng.shuffle(order)
        for name in order:
            starts[name].append(await first_answer(ctx, setup.prober, setup.arms[name]))
            await asyncio.sleep(SETTLE_S)
    for name in names:  # back to the state the later benchmarks expect
        await ctx.warm_up(setup.prober, setup.arms[name], ctx.settings.warmup)
    rss = {name: memory[name].rss_mb for name in names}
    first = {name: _median([s.first_answer_s for s in starts[name]]) for name in names}
    start_checks: dict[str, Any] = {}
    for name in names:
        result.arms[name].update(
            rss_mb=round(rss[name], 1),
            peak_rss_mb=round(memory[name].peak_mb, 1),
            first_answer_s=round(first[name], 3),
            starts=[asdict(s) for s in starts[name]],
        )
        clean = all(s.stop_status == 0 for s in starts[name])
        answered = not math.isnan(first[name])
        start_checks[name] = {"clean_stops": clean, "answered_after_start": answered}
        result.checks["passed"] = result.checks["passed"] and clean and answered
    result.checks["starts"] = start_checks
    ours = MULTILOGUE
    rows = [
        Row("RSS after the probes", "MB", rss[FLOOR], rss[ours]),
        Row("start to first answer", "s", first[FLOOR], first[ours]),
    ]
    result.rows[4:4] = rows  # after the floor's rows, before the peers'
    for name in names:
        if name in ARMS:
            continue
        result.rows += [
            Row(f"RSS after the probes, peer: {name}", "MB", rss[name], rss[ours]),
            Row(f"start to first answer, peer: {name}", "s", first[name], first[ours]),
        ]
    result.notes.append(
        f"RSS: VmRSS after the probes; start to first answer: from starting the process "
        f"until a !ping sent every {FIRST_PING_EVERY_S * 1000:.0f} ms from then on is "
        f"answered (the raw echo and multilogue also answer those sent before their first "
        f"sync, maubot ignores its first sync), median of {ctx.settings.rounds} restart(s)"
    )


async def command_latency(
    ctx: BenchContext, command: str, *, encrypted: bool = False
) -> BenchResult:
    setup = await latency_setup(ctx, encrypted=encrypted)
    return await latency_of(ctx, setup, {FLOOR: "!ping", MULTILOGUE: command})


async def ping(ctx: BenchContext) -> BenchResult:
    if not ctx.settings.peers:
        return await command_latency(ctx, "!ping")
    result = await peer_latency(ctx, encrypted=False)
    await memory_and_start(ctx, await peer_setup(ctx, encrypted=False), result)
    return result


async def help_(ctx: BenchContext) -> BenchResult:
    return await command_latency(ctx, "!help")


async def encrypted_ping(ctx: BenchContext) -> BenchResult:
    if ctx.settings.peers:
        return await peer_latency(ctx, encrypted=True)
    return await command_latency(ctx, "!ping", encrypted=True)
