"""Scale of the data: the bot's own time for `!compare` on a big alliance and a big tally.

Both run `bench/inprocess.py` in a process of its own (no homeserver: the figure is the bot's
code, its SQLite queries included) and report the median and p95 over `settings.runs` runs
against the goal (under 50 ms). What exactly is timed is in `bench/inprocess.py`. There is
no floor: a raw client has no such work to compare with, so the floor column stays empty.
With `--profile DIR`, the timed runs are also profiled into `DIR/scale.NAME.prof`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from typing import Any

from bench.context import MULTILOGUE, BenchContext
from bench.prober import BenchError
from bench.processes import REPO_ROOT
from bench.registry import BenchResult, Row
from bench.stats import percentile

GOAL_MS = 50.0
GOAL = ("< 50 ms", GOAL_MS)
EVENT_LIMIT_KIB = 64.0  # a Matrix event (all of it, content included) is at most 65,536 bytes
NAN = math.nan


async def run_inprocess(ctx: BenchContext, kind: str, *sizes: str) -> dict[str, Any]:
    """`python -m bench.inprocess KIND ...`; its JSON output."""
    argv = [sys.executable, "-m", "bench.inprocess", kind, *sizes]
    argv += ["--runs", str(ctx.settings.runs), "--seed", str(ctx.settings.seed)]
    if ctx.settings.profile_dir is not None:
        ctx.settings.profile_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--profile", str(ctx.settings.profile_dir / f"scale.{kind}.prof")]
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
        raise BenchError(
            f"bench.inprocess {kind} exited with {proc.returncode}: {' | '.join(tail)}"
        )
    figures: dict[str, Any] = json.loads(out)
    took = time.monotonic() - started
    figures["machine"] = {
        "settled_s": round(settled_s, 1),
        "background_cpu_share": round((ctx.background_cpu_s() - cpu_before) / took, 3),
    }
    return figures


def _machine_note(data: dict[str, Any]) -> str:
    machine = data["machine"]
    return (
        f"measured after waiting {machine['settled_s']:.0f} s for the homeserver and bots to "
        f"go idle; meanwhile they used {machine['background_cpu_share']:.0%} of a core"
    )


def _trips_note(data: dict[str, Any], key: str, what: str) -> str:
    trips = data.get("round_trips", {}).get(key)
    if trips is None:
        return f"{what}: round trips to the database thread not counted"
    return (
        f"{what} makes {trips} round trips to aiosqlite's database thread (one took "
        f"{data['round_trip_us']:.0f} µs in a tight loop here; more when the machine is idle)"
    )


def summary_ms(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "median_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "min_ms": round(min(ms), 3) if ms else NAN,
        "max_ms": round(max(ms), 3) if ms else NAN,
    }


def _rows(figures: dict[str, dict[str, float]], measures: list[tuple[str, str, bool]]) -> list[Row]:
    """A median row (and a p95 row for those with a goal) per (key, label, has goal)."""
    rows = []
    for key, label, has_goal in measures:
        found = figures[key]
        goal = GOAL if has_goal else ("", None)
        rows.append(
            Row(f"{label}, median", "ms", NAN, found["median_ms"], goal[0], max_value=goal[1])
        )
        if has_goal:
            rows.append(
                Row(f"{label}, p95", "ms", NAN, found["p95_ms"], goal[0], max_value=goal[1])
            )
    return rows


def _size_row(kib: float) -> Row:
    """The reply's size against what one Matrix event may hold."""
    return Row(
        "reply content",
        "KiB",
        NAN,
        round(kib, 1),
        f"< {EVENT_LIMIT_KIB:g} KiB event",
        max_value=EVENT_LIMIT_KIB,
    )


def _in_process_result(
    data: dict[str, Any],
    rows: list[Row],
    figures: dict[str, dict[str, float]],
    *,
    checks: dict[str, Any],
) -> BenchResult:
    """An in-process measure's result: its rows and checks, the raw figures kept in ms."""
    kept = {k: v for k, v in data.items() if k != "samples_s"}
    samples_ms = {
        k: [round(v * 1000, 3) for v in values] for k, values in data["samples_s"].items()
    }
    return BenchResult(
        status="ok",
        rows=rows,
        arms={MULTILOGUE: {"figures": figures, **kept, "samples_ms": samples_ms}},
        checks=checks,
    )


async def compare(ctx: BenchContext) -> BenchResult:
    s = ctx.settings
    data = await run_inprocess(
        ctx, "compare", "--movements", str(s.movements), "--objectives", str(s.objectives)
    )
    figures = {key: summary_ms(values) for key, values in data["samples_s"].items()}
    kib = data["sizes"]["content_bytes"] / 1024
    rows = _rows(
        figures,
        [
            ("compare.total", "!compare + render", True),
            ("compare.route", "handler (route)", False),
            ("compare.render", "render", False),
            ("compare.store", "store reads alone", False),
        ],
    )
    rows.append(_size_row(kib))
    reply, built = data["reply"], data["data"]
    # The matrix is paged by movements so that every reply fits one Matrix event: the timed
    # reply is page 1, every objective by the movements of that page.
    passed = (
        reply["template"] == "compare_matrix"
        and reply["rows"] == built["objectives"]
        and 1 <= reply["columns"] <= built["movements"]
        and reply["cells"] == reply["rows"] * reply["columns"]
        and (reply["pages"] > 1) == (reply["columns"] < built["movements"])
        and kib <= EVENT_LIMIT_KIB
        and len(data["samples_s"]["compare.total"]) == s.runs
    )
    result = _in_process_result(
        data,
        rows,
        figures,
        checks={
            "passed": passed,
            "reply": reply,
            "summary": (
                f"page 1 of {reply['pages']} ({reply['template']}) shows {reply['columns']} "
                f"movements x {reply['rows']} objectives ({built['movements']} movements in "
                f"all), {kib:.0f} KiB"
            ),
        },
    )
    result.notes.append(
        f"{built['movements']} active movements x {built['objectives']} objectives, "
        f"{built['decided']} decided stances, {built['pending']} open polls, "
        f"{built['items']} linked statement items (made by the store functions in "
        f"{data['build_s']:.1f} s); {s.runs} runs after one warm-up, in a process of its own"
    )
    result.notes.append(
        "timed: Router.route('compare') with the real registry and SQLite store, then "
        "Renderer.render and notice_content (all the bot does before the HTTP request); "
        + _machine_note(data)
    )
    result.notes.append(_trips_note(data, "compare.route", "!compare"))
    if kib > EVENT_LIMIT_KIB:
        result.notes.append(
            f"the reply's content is {kib:.0f} KiB: a homeserver refuses events over 64 KiB, "
            "so at this size `!compare` would not be answered at all"
        )
    return result


async def tally(ctx: BenchContext) -> BenchResult:
    s = ctx.settings
    data = await run_inprocess(ctx, "tally", "--ballots", str(s.ballots), "--voters", str(s.voters))
    figures = {key: summary_ms(values) for key, values in data["samples_s"].items()}
    rows = _rows(
        figures,
        [
            ("tally.pure", "tally()", True),
            ("tally.live", "query + tally()", True),
            ("tally.command.total", "!poll results + render", False),
        ],
    )
    counted, built = data["counted"], data["data"]
    passed = bool(counted["same"]) and counted["voters"] == built["voters"]
    result = _in_process_result(
        data,
        rows,
        figures,
        checks={
            "passed": passed,
            "counted": counted,
            "summary": (
                f"live_tally counted {counted['voters']} voters, the same tally as tally() "
                "over the ballots made"
                if counted["same"]
                else "live_tally DIFFERS from tally()"
            ),
        },
    )
    result.notes.append(
        f"{built['ballots']} responses from {built['voters']} voters (only each one's latest "
        f"counts), all members of the room; stored by poll_store.add_response in "
        f"{data['build_s']:.1f} s; {s.runs} runs after one warm-up, in a process of its own"
    )
    result.notes.append(
        "timed: commands.polls.tally.tally on the Ballots; polls.live_tally (the poll_responses"
        " query "
        "+ tally, what !poll results computes); and the whole !poll results through the router; "
        + _machine_note(data)
    )
    result.notes.append(_trips_note(data, "tally.command.route", "!poll results"))
    return result


async def proposal(ctx: BenchContext) -> BenchResult:
    """`!proposal 1` at `--movements` movements (100 by default), each with its position."""
    s = ctx.settings
    data = await run_inprocess(ctx, "proposal", "--movements", str(s.movements))
    figures = {key: summary_ms(values) for key, values in data["samples_s"].items()}
    rows = _rows(
        figures,
        [
            ("proposal.total", "!proposal 1 + render", True),
            ("proposal.route", "handler (route)", False),
            ("proposal.render", "render", False),
        ],
    )
    kib = data["sizes"]["content_bytes"] / 1024
    rows.append(_size_row(kib))
    reply, built = data["reply"], data["data"]
    shown_all = reply["pages"] > 1 or reply["seats"] == built["movements"]
    passed = (
        reply["template"] == "council_proposal"
        and shown_all
        and kib <= EVENT_LIMIT_KIB
        and len(data["samples_s"]["proposal.total"]) == s.runs
    )
    result = _in_process_result(
        data,
        rows,
        figures,
        checks={
            "passed": passed,
            "reply": reply,
            "summary": (
                f"page 1 of {reply['pages']} shows {reply['seats']} of {built['movements']} "
                f"movements' positions, {kib:.0f} KiB"
            ),
        },
    )
    result.notes.append(
        f"an alliance of {built['movements']} active movements, proposal 1 with every "
        f"movement's position recorded (made by the store functions in {data['build_s']:.1f} s); "
        f"{s.runs} runs after one warm-up, in a process of its own"
    )
    result.notes.append(
        "timed: Router.route('proposal 1') with the real registry and SQLite store, then "
        "Renderer.render and notice_content; " + _machine_note(data)
    )
    result.notes.append(_trips_note(data, "proposal.route", "!proposal 1"))
    return result
