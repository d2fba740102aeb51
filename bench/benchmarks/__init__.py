"""Every benchmark of issue 7, as data. The table lists them in this order.

To add one: write `async def my_bench(ctx: BenchContext) -> BenchResult` (in a module of
this folder), and give it as `run=` to its entry below (or add an entry). A benchmark:

- runs the floor (a raw matrix-nio client doing the same job, see `bench/raw_echo.py`) and
  multilogue in the same run, interleaved, and returns `Row`s with both figures;
- takes its sizes from `ctx.settings` (`--quick` and the test make them tiny);
- starts bots with `ctx.raw_echo(name)` / `ctx.multilogue(name)`, measuring clients with
  `ctx.prober()`, rooms with `ctx.rooms_with(...)`; the context stops them all at the end;
- reports correctness in `checks` (with `passed`), never asserts on time.

In-process timings (the bot's own code, no homeserver: `scale.*`) run `bench/inprocess.py`
in a process of its own; they have no floor, only a goal.
"""

from __future__ import annotations

from bench.benchmarks import (
    council,
    latency,
    objectives,
    polls,
    relay,
    restart,
    rooms,
    scale,
    storage,
)
from bench.registry import Benchmark, Registry

LATENCY_GOAL = "p50 <= 1.05x, p95 <= 1.1x the raw echo's"
SCALE_GOAL = "< 50 ms of the bot's own time"


def build_registry() -> Registry:
    registry = Registry()
    registry.add(Benchmark("latency.ping", "!ping, plain room", latency.ping, goal=LATENCY_GOAL))
    registry.add(Benchmark("latency.help", "!help, plain room", latency.help_, goal=LATENCY_GOAL))
    registry.add(
        Benchmark(
            "latency.encrypted_ping",
            "!ping, encrypted room",
            latency.encrypted_ping,
            goal=LATENCY_GOAL,
        )
    )
    registry.add(
        Benchmark(
            "latency.objectives",
            "!objectives on the demo alliance",
            objectives.objectives,
            goal=LATENCY_GOAL,
        )
    )
    registry.add(
        Benchmark(
            "latency.poll_results",
            "!poll results, poll with 1,000 votes",
            polls.poll_results,
            goal=LATENCY_GOAL,
        )
    )
    registry.add(
        Benchmark(
            "relay.latency",
            "shared thread -> commons, one message",
            relay.relay_latency,
            goal="p50 <= 1.2x the raw echo's",
        )
    )
    registry.add(
        Benchmark(
            "relay.burst",
            "500 messages over 10 shared threads",
            relay.relay_burst,
            goal=">= 0.8x the raw relay loop's messages/s; each once, in order",
        )
    )
    registry.add(
        Benchmark(
            "scale.compare",
            "!compare, 100 movements x 50 objectives (in-process)",
            scale.compare,
            goal=SCALE_GOAL,
        )
    )
    registry.add(
        Benchmark(
            "scale.tally",
            "tally 10,000 votes from 2,000 voters (in-process)",
            scale.tally,
            goal=SCALE_GOAL,
        )
    )
    registry.add(
        Benchmark(
            "scale.proposal",
            "!proposal N, 100 movements' positions (in-process)",
            scale.proposal,
            goal=SCALE_GOAL,
        )
    )
    registry.add(
        Benchmark(
            "council.round",
            "a proposal through 100 movement rooms",
            council.proposal_round,
            goal="none set: times, and the sends a homeserver's rate limit counts",
        )
    )
    registry.add(
        Benchmark(
            "restart",
            "restart in N rooms, a command waiting in each",
            restart.restart,
            goal="all answered <= 2x the raw client's time; RSS < 200 MB",
        )
    )
    registry.add(
        Benchmark(
            "scale.rooms",
            "one bot in 1,000 rooms (200 encrypted, 10 alliances of 100)",
            rooms.rooms,
            goal="!ping within 5% of 10 rooms; RSS < 200 MB; a week offline <= 2x RSS",
        )
    )
    registry.add(
        Benchmark(
            "storage.messages",
            "database growth over 100,000 ordinary messages",
            storage.messages,
            goal="only ids kept (<= 300 bytes/message), no message text",
        )
    )
    return registry
