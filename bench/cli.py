"""`python -m bench`: start a throwaway Synapse, run the benchmarks, print the table.

Exit status: 0 when every benchmark ran and every check passed (figures are never judged
here), 1 when a benchmark failed or a check did not pass, 2 for command-line mistakes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import random
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.benchmarks import build_registry
from bench.context import PEERS, BenchContext, Settings
from bench.machine import machine_info
from bench.registry import Benchmark, BenchResult
from bench.report import Report, format_table
from bench.stages import format_stages
from bot.tooling.homeserver import LocalSynapse

log = logging.getLogger("bench")


QUICK: dict[str, Any] = {
    "quick": True,
    "probes": 20,
    "warmup": 3,
    "rooms": 10,
    "rounds": 1,
    "votes": 20,
    "runs": 5,
    "movements": 10,
    "objectives": 5,
    "ballots": 1_000,
    "voters": 200,
    "burst": 50,
    "threads": 5,
    "bursts": 1,
    "messages": 200,
}

SIZES = (
    "probes",
    "warmup",
    "rooms",
    "rounds",
    "votes",
    "runs",
    "burst",
    "threads",
    "bursts",
    "messages",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Measure multilogue against a raw matrix-nio client on a throwaway local Synapse."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these benchmarks (a prefix such as 'latency' selects a group)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    sizes = parser.add_argument_group("sizes (override the defaults or --quick)")
    sizes.add_argument("--probes", type=int, metavar="N", help="latency probes per arm (200)")
    sizes.add_argument("--warmup", type=int, metavar="N", help="unmeasured probes per arm (10)")
    sizes.add_argument("--rooms", type=int, metavar="N", help="rooms per bot for restart (200)")
    sizes.add_argument("--rounds", type=int, metavar="N", help="restarts per arm (3)")
    sizes.add_argument(
        "--votes", type=int, metavar="N", help="voters in the poll of latency.poll_results (1000)"
    )
    sizes.add_argument(
        "--runs", type=int, metavar="N", help="timed repetitions of each in-process measure (50)"
    )
    sizes.add_argument(
        "--burst", type=int, metavar="N", help="messages per burst of relay.burst (500)"
    )
    sizes.add_argument(
        "--threads", type=int, metavar="N", help="shared threads (and senders) of a burst (10)"
    )
    sizes.add_argument("--bursts", type=int, metavar="N", help="bursts per arm (1)")
    sizes.add_argument(
        "--messages",
        type=int,
        metavar="N",
        help="ordinary messages through the bot for storage.messages (100000)",
    )
    parser.add_argument("--seed", type=int, help="seed for the order of probes (random)")
    parser.add_argument(
        "--peers",
        nargs="+",
        choices=PEERS,
        metavar="NAME",
        help=(
            "also measure these bots in latency.ping and latency.encrypted_ping: maubot "
            "(0.6, installed into a venv of its own under ~/.cache/multilogue-bench)"
        ),
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run the bots under cProfile and leave their .prof files in DIR",
    )
    parser.add_argument(
        "--stages",
        type=Path,
        metavar="DIR",
        help="trace each step from sync to reply in the bots (bench/stages.py); print medians",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (Synapse, bot logs and data)"
    )
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings(seed=args.seed if args.seed is not None else random.randrange(10**6))
    if args.quick:
        settings = replace(settings, **QUICK)
    for name in SIZES:
        value = getattr(args, name)
        if value is not None:
            if value < (0 if name == "warmup" else 1):
                raise ValueError(f"--{name} must be at least {0 if name == 'warmup' else 1}")
            settings = replace(settings, **{name: value})
    if args.peers:
        settings = replace(settings, peers=tuple(dict.fromkeys(args.peers)))
    if args.profile is not None and args.stages is not None:
        raise ValueError("--profile and --stages cannot be used together")
    if args.profile is not None:
        settings = replace(settings, profile_dir=args.profile.resolve())
    if args.stages is not None:
        settings = replace(settings, stages_dir=args.stages.resolve())
    return settings


async def run_benchmarks(
    settings: Settings, benchmarks: Sequence[Benchmark], folder: Path
) -> Report:
    """Start Synapse in `folder`, run `benchmarks` in order, stop everything."""
    started = datetime.now(UTC)
    synapse = LocalSynapse(
        folder / "synapse",
        in_memory_db=True,
        extra_config={"presence": {"enabled": False}},  # no presence noise in anyone's sync
    )
    results: list[tuple[Benchmark, BenchResult]] = []
    log.info("starting Synapse in %s", folder)
    await asyncio.to_thread(synapse.start)
    try:
        machine = await asyncio.to_thread(machine_info, synapse.url)
        admin = await asyncio.to_thread(synapse.register, "bench-admin", admin=True)
        context = BenchContext(settings, synapse, folder, admin)
        try:
            for benchmark in benchmarks:
                results.append((benchmark, await _run_one(context, benchmark)))
        finally:
            await context.close()
    finally:
        await asyncio.to_thread(synapse.stop)
    return Report(started, datetime.now(UTC), machine, settings, results)


async def _run_one(context: BenchContext, benchmark: Benchmark) -> BenchResult:
    if benchmark.run is None:
        return BenchResult(status="not yet available")
    log.info("running %s: %s", benchmark.name, benchmark.title)
    try:
        result = await benchmark.run(context)
    except Exception as exc:
        log.exception("%s failed", benchmark.name)
        return BenchResult(status="failed", error=f"{type(exc).__name__}: {exc}")
    if not result.checks_passed:
        log.warning("%s: checks did not pass: %s", benchmark.name, result.checks)
    return result


def _json_safe(value: Any) -> Any:
    """NaN is not JSON: write null instead."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    registry = build_registry()
    if args.list:
        for benchmark in registry:
            state = "" if benchmark.available else "  (not yet available)"
            print(f"{benchmark.name:24} {benchmark.title}{state}")
        return 0
    try:
        benchmarks = registry.select(args.only)
        settings = settings_from(args)
    except KeyError as exc:
        parser.error(f"no benchmark named {exc.args[0]}; see --list")
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr
    )
    for noisy in ("aiohttp", "peewee", "bot.tooling.homeserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("nio").setLevel(logging.ERROR)  # "missing session" while keys travel
    folder = Path(tempfile.mkdtemp(prefix="multilogue-bench-"))
    report: Report | None = None
    try:
        report = asyncio.run(run_benchmarks(settings, benchmarks, folder))
    finally:
        if args.keep or report is None or not report.ok:
            print(f"work folder kept (logs of Synapse and the bots): {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(format_table(report))
    if settings.stages_dir is not None:
        for trace in sorted(settings.stages_dir.glob("*.json")):
            print("\n" + format_stages(trace))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_json_safe(report.to_json()), indent=2) + "\n")
    return 0 if report.ok else 1
