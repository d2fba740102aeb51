"""The relay of shared threads: one message's way into the commons, and a burst of 500.

Both run in the demo's alliance (`objectives.demo_alliance`: a commons and three movement
rooms, set up by typing `!alliance create`, `!movement join ... as ...` and `!movement
approve ...` as the demo does) in the multilogue that the latency benchmarks share. The
person who made the rooms starts threads there and shares them with `!share`, as a movement
would; a **reader**, a member of the commons and of nothing else, watches the copies arrive
in their own sync. Every relayed message carries a tag (`bench.prober.tagged`), so the reader
knows which original a copy stands for, whatever the relay writes around it.

relay.latency
    The person posts a message in a shared thread of a movement room; the figure runs from
    just before the send until the sync that brings the reader the copy in the commons
    thread. The floor is the raw echo's `!ping` (`latency.ping`'s room), probed in the same
    run, shuffled together with the relay probes. A third series, shuffled in too, times the
    same relay by the raw relay loop of relay.burst in its twin alliance (below): what the
    homeserver itself costs for a thread message and its copy, next to a bare `!ping`.
    Checks: every message arrived once, in its commons thread.

relay.burst
    `settings.threads` shared threads (10), spread over the movement rooms, one sender each;
    every sender posts its share of `settings.burst` messages (500) one after another, all
    senders at once, as fast as the homeserver takes them. Timed from the first post until
    the reader has seen the last copy. The floor is `bench/raw_relay.py`, a raw matrix-nio
    relay loop copying the same threads of a twin alliance (a commons and as many movement
    rooms, made by the same person, with the same senders and reader) into its commons
    threads. Arms alternate (ABBA...), each burst after the homeserver and the bots went
    idle. Checks: every message arrived once, in its thread, and each thread's copies in the
    order they were written.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import time
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.benchmarks.latency import latency_setup
from bench.benchmarks.objectives import demo_alliance
from bench.context import ARMS, FLOOR, MULTILOGUE, Arm, BenchContext
from bench.prober import BenchError, Prober, Sender, tagged
from bench.processes import BotProcess
from bench.registry import BenchResult, Row
from bench.stats import Summary, percentile

log = logging.getLogger(__name__)

SETTLE_S = 1.0  # after the last message: time for a duplicate copy to show up
SHARED = "Shared with"  # how multilogue's answer to !share begins
LATENCY_P50_GOAL = ("<= 1.2x", 1.2)
THROUGHPUT_GOAL = (">= 0.8x", 0.8)
WARM_UP_PER_THREAD = 2  # unmeasured messages per thread before the bursts


@dataclass(frozen=True)
class Thread:
    """A shared thread: its root in a movement room and the thread it is copied into."""

    room_id: str
    root: str
    commons_root: str

    def mapping(self, commons: str) -> dict[str, str]:
        return {
            "room_id": self.room_id,
            "root": self.root,
            "commons_room_id": commons,
            "commons_root": self.commons_root,
        }


@dataclass(frozen=True)
class Relaying:
    """One arm of the relay: the bot, its commons and movement rooms."""

    name: str
    bot_id: str
    process: BotProcess
    commons: str
    movements: tuple[str, ...]


@dataclass(frozen=True)
class RelayWorld:
    """The person (who made the rooms), the reader in the commons, multilogue's alliance."""

    person: Prober
    reader: Prober
    multilogue: Relaying
    echo: Arm  # the raw echo in its plain room: relay.latency's floor


async def _world(ctx: BenchContext) -> RelayWorld:
    plain = await latency_setup(ctx, encrypted=False)
    person = plain.prober
    alliance = await demo_alliance(ctx, plain)
    multilogue = plain.arms[MULTILOGUE]
    reader = await ctx.prober("reader")
    await _into(person, reader, alliance.room_id)
    return RelayWorld(
        person=person,
        reader=reader,
        multilogue=Relaying(
            name=MULTILOGUE,
            bot_id=multilogue.bot_id,
            process=multilogue.process,
            commons=alliance.room_id,
            movements=tuple(alliance.movements.values()),
        ),
        echo=plain.arms[FLOOR],
    )


async def relay_world(ctx: BenchContext) -> RelayWorld:
    return await ctx.shared("relay.world", lambda: _world(ctx))


async def _into(person: Prober, member: Prober | Sender, room_id: str) -> None:
    """`person` invites `member`, who joins."""
    await person.invite(room_id, member.user_id)
    await member.join(room_id)
    if isinstance(member, Prober):
        await member.wait_for(lambda: member.known(room_id), timeout_s=60, what=f"{room_id}")


async def share_thread(world: RelayWorld, room_id: str, title: str, tag: str) -> Thread:
    """The person starts a thread in a movement room and shares it with `!share`; returns it
    once the reader has seen its first message in the commons."""
    person, reader, bot_id = world.person, world.reader, world.multilogue.bot_id
    root, _ = await person.send_text(room_id, tagged(title, tag))
    probe = await person.probe(room_id, "!share", bot_id=bot_id, timeout_s=60, thread_root=root)
    answers = person.answers(probe.event_id, bot_id)
    if not answers or not answers[0].body.startswith(SHARED):
        said = answers[0].body if answers else "nothing"
        raise BenchError(f"multilogue answered !share with {said!r}")
    if (await reader.sighted([tag], bot_id, timeout_s=60))[tag] is None:
        raise BenchError(f"the first message of {title!r} did not reach the commons")
    return Thread(room_id, root, reader.sightings(tag, bot_id)[0].event_id)


@dataclass(frozen=True)
class Delivery:
    """Where and how often the copies of tagged messages arrived, as the reader saw them."""

    relayed_once: int
    missing: int
    duplicates: int
    wrong_thread: int
    out_of_order: int


def deliveries(
    reader: Prober, bot_id: str, commons: str, expected: Mapping[str, Sequence[str]]
) -> Delivery:
    """Check the copies of `expected` (commons thread root -> tags in the order written)."""
    once = missing = duplicates = wrong = disorder = 0
    for commons_root, tags in expected.items():
        positions: list[int] = []
        for tag in tags:
            seen = reader.sightings(tag, bot_id)
            once += len(seen) == 1
            missing += not seen
            duplicates += max(len(seen) - 1, 0)
            wrong += sum(1 for s in seen if s.room_id != commons or s.thread_root != commons_root)
            if seen:
                positions.append(seen[0].position)
        latest = -1
        for position in positions:  # a copy that came before an earlier message's copy
            disorder += position < latest
            latest = max(latest, position)
    return Delivery(once, missing, duplicates, wrong, disorder)


# -- the floor's twin alliance ----------------------------------------------------------------

RAW_RELAY = "raw_relay"  # relay.latency's third series: the raw relay loop
LATENCY_TITLE = "How fast is the relay?"


@dataclass(frozen=True)
class Twin:
    """The raw relay loop's alliance: the same rooms, people and threads as multilogue's."""

    relaying: Relaying
    latency: Thread  # the thread relay.latency posts in
    threads: tuple[Thread, ...]  # relay.burst's, one per sender


def burst_titles(ctx: BenchContext) -> list[str]:
    return [f"Busy thread {index + 1}" for index in range(max(ctx.settings.threads, 1))]


async def _twin(ctx: BenchContext) -> Twin:
    """A commons and as many movement rooms as multilogue's alliance, made by the same person,
    with the raw relay loop joined and the reader in the commons. The loop knows its threads
    from its configuration: the harness opens each thread in the commons, as the loop."""
    world = await relay_world(ctx)
    person, synapse = world.person, ctx.synapse
    account = await ctx.account("relay-floor")
    names = [
        "floor commons",
        *(f"floor movement {i + 1}" for i in range(len(world.multilogue.movements))),
    ]
    rooms = [
        await person.create_room(invite=account.user_id, encrypted=False, name=name)
        for name in names
    ]
    for room_id in rooms:
        quoted = urllib.parse.quote(room_id)
        await asyncio.to_thread(
            synapse.api, "POST", f"/_matrix/client/v3/join/{quoted}", token=account.access_token
        )
    await person.wait_for(
        lambda: all(person.known(r) and person.joined(r, account.user_id) for r in rooms),
        timeout_s=60,
        what="the floor's rooms",
    )
    commons, movements = rooms[0], tuple(rooms[1:])
    await _into(person, world.reader, commons)

    async def thread(room_id: str, title: str, tag: str) -> Thread:
        root, _ = await person.send_text(room_id, tagged(title, tag))
        quoted = urllib.parse.quote(commons)
        opened = await asyncio.to_thread(
            synapse.api,
            "PUT",
            f"/_matrix/client/v3/rooms/{quoted}/send/m.room.message/{uuid.uuid4().hex}",
            token=account.access_token,
            body={"msgtype": "m.text", "body": f"{person.user_id}: {title}"},
        )
        return Thread(room_id, root, str(opened["event_id"]))

    latency = await thread(movements[0], LATENCY_TITLE, "floor.lat.root")
    threads = [
        await thread(movements[index % len(movements)], title, f"floor.root.{index}")
        for index, title in enumerate(burst_titles(ctx))
    ]
    process = await ctx.raw_relay(
        "relay-floor", account, [t.mapping(commons) for t in (latency, *threads)]
    )
    return Twin(
        Relaying(FLOOR, account.user_id, process, commons, movements), latency, tuple(threads)
    )


async def twin(ctx: BenchContext) -> Twin:
    return await ctx.shared("relay.twin", lambda: _twin(ctx))


# -- relay.latency --------------------------------------------------------------------------


async def relay_latency(ctx: BenchContext) -> BenchResult:
    world = await relay_world(ctx)
    ours = world.multilogue
    thread = await ctx.shared(
        "relay.latency.thread",
        lambda: share_thread(world, ours.movements[0], LATENCY_TITLE, "lat.root"),
    )
    floor_relay = await twin(ctx)
    person, reader, echo = world.person, world.reader, world.echo
    timeout = ctx.settings.probe_timeout_s
    relays = {MULTILOGUE: (ours, thread), RAW_RELAY: (floor_relay.relaying, floor_relay.latency)}
    series = (FLOOR, MULTILOGUE, RAW_RELAY)
    sent: dict[str, list[str]] = {name: [] for name in relays}

    async def relay_probe(name: str, tag: str) -> float | None:
        relaying, where = relays[name]
        _, started = await person.send_text(
            where.room_id, tagged("probe", tag), thread_root=where.root
        )
        arrived = (await reader.sighted([tag], relaying.bot_id, timeout_s=timeout))[tag]
        return None if arrived is None else arrived - started

    await ctx.warm_up(person, echo, ctx.settings.warmup)
    for name in relays:
        for index in range(max(ctx.settings.warmup, 1)):
            if await relay_probe(name, f"{name}.lat.warm.{index}") is None:
                ctx.check_bots()
                raise BenchError(f"{name} did not relay a message within {timeout:g} s")

    plan = [name for name in series for _ in range(ctx.settings.probes)]
    ctx.rng.shuffle(plan)
    samples: dict[str, list[float]] = {name: [] for name in series}
    pings: list[str] = []
    processes = {FLOOR: echo.process, **{name: r.process for name, (r, _) in relays.items()}}
    cpu_before = {name: process.cpu_s() for name, process in processes.items()}
    for name in plan:
        if name == FLOOR:
            probe = await person.probe(
                echo.rooms[0], "!ping", bot_id=echo.bot_id, timeout_s=timeout
            )
            pings.append(probe.event_id)
            latency = probe.latency_s
        else:
            tag = f"{name}.lat.{len(sent[name])}"
            sent[name].append(tag)
            latency = await relay_probe(name, tag)
        if latency is not None:
            samples[name].append(latency)
        await asyncio.sleep(ctx.settings.gap_s * (0.5 + ctx.rng.random()))
    await asyncio.sleep(SETTLE_S)
    done = {FLOOR: pings, **sent}
    cpu_ms = {
        name: (process.cpu_s() - cpu_before[name]) * 1000 / max(len(done[name]), 1)
        for name, process in processes.items()
    }

    counts = [len(person.answers(event_id, echo.bot_id)) for event_id in pings]
    checks: dict[str, Any] = {
        FLOOR: {
            "sent": len(counts),
            "answered_once": sum(1 for c in counts if c == 1),
            "missing": sum(1 for c in counts if c == 0),
            "duplicates": sum(c - 1 for c in counts if c > 1),
        }
    }
    passed = checks[FLOOR]["answered_once"] == checks[FLOOR]["sent"] > 0
    for name, (relaying, where) in relays.items():
        delivered = deliveries(
            reader, relaying.bot_id, relaying.commons, {where.commons_root: sent[name]}
        )
        found = {"sent": len(sent[name]), **asdict(delivered)}
        found.pop("out_of_order")  # one message at a time: order is not in question
        checks[name] = found
        passed = passed and delivered.relayed_once == len(sent[name]) > 0
        passed = passed and delivered.wrong_thread == 0
    raw = checks[RAW_RELAY]
    checks["summary"] = f"raw relay loop {raw['relayed_once']}/{raw['sent']} relayed once"
    checks["passed"] = passed

    summaries = {name: Summary.of(samples[name]) for name in series}
    what = {
        FLOOR: "!ping answered by the raw echo",
        MULTILOGUE: "a message relayed into the commons by multilogue",
        RAW_RELAY: "a message relayed into the twin commons by bench/raw_relay.py",
    }
    arms: dict[str, dict[str, Any]] = {}
    for name in series:
        summary = summaries[name]
        arms[name] = {
            "what": what[name],
            "bot": echo.bot_id if name == FLOOR else relays[name][0].bot_id,
            "n": summary.n,
            "p50_ms": round(summary.p50_ms, 3),
            "p95_ms": round(summary.p95_ms, 3),
            "mean_ms": round(summary.mean_ms, 3),
            "min_ms": round(summary.min_ms, 3),
            "max_ms": round(summary.max_ms, 3),
            "cpu_per_message_ms": round(cpu_ms[name], 3),
            "samples_ms": [round(s * 1000, 3) for s in samples[name]],
        }
    floor, multilogue, loop = (summaries[name] for name in series)
    rows = [
        Row("p50", "ms", floor.p50_ms, multilogue.p50_ms, *LATENCY_P50_GOAL),
        Row("p95", "ms", floor.p95_ms, multilogue.p95_ms),
        Row("mean", "ms", floor.mean_ms, multilogue.mean_ms),
        Row("CPU per message", "ms", cpu_ms[FLOOR], cpu_ms[MULTILOGUE]),
        Row("p50, floor: raw relay loop", "ms", loop.p50_ms, multilogue.p50_ms),
        Row("p95, floor: raw relay loop", "ms", loop.p95_ms, multilogue.p95_ms),
    ]
    result = BenchResult(status="ok", rows=rows, arms=arms, checks=checks)
    result.notes.append(
        "multilogue: from posting in a shared thread of a movement room (demo alliance) until "
        "the copy is in the sync of a member of the commons; floor: the raw echo's !ping in a "
        "room of two, until the pong is in the person's sync; last two rows: the same relay by "
        "bench/raw_relay.py in a twin alliance (the homeserver's own cost of a thread message "
        "and its copy); the three interleaved"
    )
    return result


# -- relay.burst ----------------------------------------------------------------------------


@dataclass
class BurstWorld:
    senders: list[Sender]  # one per thread
    arms: dict[str, tuple[Relaying, tuple[Thread, ...]]] = field(default_factory=dict)


async def _burst_world(ctx: BenchContext) -> BurstWorld:
    started = time.perf_counter()
    world = await relay_world(ctx)
    titles = burst_titles(ctx)
    senders = [await ctx.sender() for _ in titles]
    burst = BurstWorld(senders)
    ours = world.multilogue
    threads: list[Thread] = []
    for index, title in enumerate(titles):
        room_id = ours.movements[index % len(ours.movements)]
        await _into(world.person, senders[index], room_id)
        threads.append(await share_thread(world, room_id, title, f"ml.root.{index}"))
    burst.arms[MULTILOGUE] = (ours, tuple(threads))
    log.info("shared %d threads in %.1f s", len(titles), time.perf_counter() - started)
    floor = await twin(ctx)
    for sender, thread in zip(senders, floor.threads, strict=True):
        await _into(world.person, sender, thread.room_id)
    burst.arms[FLOOR] = (floor.relaying, floor.threads)
    for name in ARMS:  # both relays running, caches warm
        warm = await _burst_once(ctx, world, burst, name, f"{name[0]}.warm", WARM_UP_PER_THREAD)
        if warm.delivery.relayed_once != warm.messages:
            raise BenchError(f"the {name} relay did not relay its warm-up messages: {warm}")
    log.info("set up relay.burst in %.1f s", time.perf_counter() - started)
    return burst


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


@dataclass(frozen=True)
class Burst:
    messages: int
    all_relayed_s: float  # first post until the last copy was seen (NaN: some never came)
    posted_s: float  # first post until the senders were done
    behind_s: float  # the senders done until the last copy was seen
    per_second: float
    lag_p50_ms: float  # one message: posted until its copy was seen
    lag_p95_ms: float
    cpu_s: float  # CPU time the relaying process used
    reader_limited_syncs: int
    delivery: Delivery


async def _burst_once(
    ctx: BenchContext, world: RelayWorld, burst: BurstWorld, name: str, label: str, per: int = 0
) -> Burst:
    """Every sender posts its share of the burst (or `per` each) at once; wait for the copies."""
    relaying, threads = burst.arms[name]
    reader = world.reader
    counts = [per] * len(threads) if per else _split(ctx.settings.burst, len(threads))
    tags = [[f"{label}.{i}.{n}" for n in range(count)] for i, count in enumerate(counts)]
    total = sum(counts)
    posted_at: dict[str, float] = {}

    async def post(index: int) -> float:
        sender, thread = burst.senders[index], threads[index]
        for number, tag in enumerate(tags[index]):
            posted_at[tag] = time.perf_counter()
            text = tagged(f"message {number + 1} of {len(tags[index])}", tag)
            await sender.say(thread.room_id, text, thread_root=thread.root)
        return time.perf_counter()

    limited_before = reader.limited_syncs
    cpu_before = relaying.process.cpu_s()
    started = time.perf_counter()
    done = await asyncio.gather(*(post(index) for index in range(len(threads))))
    every = [tag for some in tags for tag in some]
    arrivals = await reader.sighted(every, relaying.bot_id, timeout_s=60 + total / 5)
    cpu_s = relaying.process.cpu_s() - cpu_before
    await asyncio.sleep(SETTLE_S)
    ctx.check_bots()
    arrived = [t for t in arrivals.values() if t is not None]
    complete = len(arrived) == len(every)
    last = max(arrived) if complete else math.nan
    lags = [(t - posted_at[tag]) * 1000 for tag, t in arrivals.items() if t is not None]
    expected = {thread.commons_root: tags[i] for i, thread in enumerate(threads)}
    return Burst(
        messages=total,
        all_relayed_s=last - started,
        posted_s=max(done) - started,
        behind_s=last - max(done),
        per_second=total / (last - started),
        lag_p50_ms=percentile(lags, 50),
        lag_p95_ms=percentile(lags, 95),
        cpu_s=cpu_s,
        reader_limited_syncs=reader.limited_syncs - limited_before,
        delivery=deliveries(reader, relaying.bot_id, relaying.commons, expected),
    )


def _median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite and len(finite) == len(values) else math.nan


async def relay_burst(ctx: BenchContext) -> BenchResult:
    world = await relay_world(ctx)
    burst = await ctx.shared("relay.burst.world", lambda: _burst_world(ctx))
    first = list(ARMS)
    ctx.rng.shuffle(first)
    order: list[str] = []
    for index in range(max(ctx.settings.bursts, 1)):
        order += first if index % 2 == 0 else first[::-1]  # ABBA: neither arm always first
    done: dict[str, list[Burst]] = {name: [] for name in ARMS}
    for index, name in enumerate(order):
        waited = await ctx.settle(at_most_s=20)
        one = await _burst_once(ctx, world, burst, name, f"{name[0]}.{index}")
        log.info(
            "burst %d (%s, after %.1f s idle wait): %d messages relayed in %.2f s",
            index + 1,
            name,
            waited,
            one.messages,
            one.all_relayed_s,
        )
        done[name].append(one)

    figures: dict[str, dict[str, float]] = {}
    arms: dict[str, dict[str, Any]] = {}
    checks: dict[str, Any] = {}
    passed = True
    for name in ARMS:
        bursts = done[name]
        messages = sum(b.messages for b in bursts)
        figures[name] = {
            "rate": _median([b.per_second for b in bursts]),
            "all": _median([b.all_relayed_s for b in bursts]),
            "posted": _median([b.posted_s for b in bursts]),
            "behind": _median([b.behind_s for b in bursts]),
            "lag50": _median([b.lag_p50_ms for b in bursts]),
            "lag95": _median([b.lag_p95_ms for b in bursts]),
            "cpu": sum(b.cpu_s for b in bursts) * 1000 / max(messages, 1),
        }
        relaying, threads = burst.arms[name]
        arms[name] = {
            "bot": relaying.bot_id,
            "threads": len(threads),
            "movement_rooms": len(relaying.movements),
            "messages_per_second": figures[name]["rate"],
            "all_relayed_s": figures[name]["all"],
            "cpu_per_message_ms": figures[name]["cpu"],
            "bursts": [asdict(b) for b in bursts],
        }
        sums = {
            key: sum(getattr(b.delivery, key) for b in bursts)
            for key in ("relayed_once", "missing", "duplicates", "wrong_thread", "out_of_order")
        }
        limited = sum(b.reader_limited_syncs for b in bursts)
        checks[name] = {"sent": messages, **sums, "reader_limited_syncs": limited}
        passed = (
            passed
            and messages > 0
            and sums["relayed_once"] == messages
            and sums["wrong_thread"] == 0
            and sums["out_of_order"] == 0
        )
    checks["passed"] = passed
    checks["summary"] = "each thread's copies in the order written" if passed else "see the JSON"
    floor, multilogue = figures[FLOOR], figures[MULTILOGUE]
    rows = [
        Row(
            "messages per second",
            "msg/s",
            floor["rate"],
            multilogue["rate"],
            THROUGHPUT_GOAL[0],
            min_ratio=THROUGHPUT_GOAL[1],
        ),
        Row("all relayed", "s", floor["all"], multilogue["all"]),
        Row("after the last post", "s", floor["behind"], multilogue["behind"]),
        Row("one message, p50", "ms", floor["lag50"], multilogue["lag50"]),
        Row("one message, p95", "ms", floor["lag95"], multilogue["lag95"]),
        Row("CPU per message", "ms", floor["cpu"], multilogue["cpu"]),
    ]
    result = BenchResult(status="ok", rows=rows, arms=arms, checks=checks)
    relaying, threads = burst.arms[MULTILOGUE]
    per_room = [sum(1 for t in threads if t.room_id == r) for r in relaying.movements]
    posted = _median([b.posted_s for name in ARMS for b in done[name]])
    total = ctx.settings.burst
    result.notes.append(
        f"{total} messages over {len(threads)} threads of {len(per_room)} movement rooms "
        f"({'/'.join(map(str, per_room))} threads), one sender per thread posting one after "
        f"another, all at once; the senders took {posted:.1f} s ({total / posted:.0f} msg/s); "
        + (
            f"median of {ctx.settings.bursts} bursts per arm, alternated (ABBA)"
            if ctx.settings.bursts > 1
            else "one burst per arm, in random order"
        )
        + "; floor: bench/raw_relay.py copying a twin alliance's threads"
    )
    return result
