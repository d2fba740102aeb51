"""The benchmark harness runs end to end on a tiny size. Figures are never judged here."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.benchmarks import build_registry
from bench.benchmarks.polls import voters_in
from bench.cli import QUICK
from bench.context import Settings
from bench.registry import Benchmark, BenchResult, Row
from bench.report import Report, format_table
from bench.stages import WARM_UP_REPLIES, next_sync_after_reply_ms, summarize

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
LATENCY = (
    "latency.ping",
    "latency.help",
    "latency.encrypted_ping",
    "latency.objectives",
    "latency.poll_results",
)
SCALE = ("scale.compare", "scale.tally", "scale.proposal")
ARMS = ("floor", "multilogue")
VOTES = 4
RUNS = 3
BURST = 6
THREADS = 3


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench") / "figures.json"
    done = run_bench(
        *("--quick", "--probes", "5", "--warmup", "1", "--rooms", "3", "--rounds", "1"),
        *("--votes", str(VOTES), "--runs", str(RUNS), "--seed", "7", "--json", str(out)),
        *("--burst", str(BURST), "--threads", str(THREADS), "--bursts", "1"),
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout, json.loads(out.read_text())


def test_the_table_names_every_benchmark_and_the_machine(
    tiny_run: tuple[str, dict[str, Any]],
) -> None:
    table, _ = tiny_run
    for benchmark in build_registry():
        assert benchmark.name in table
    assert "not yet available" not in table
    assert f"Python {platform.python_version()}" in table
    assert "Synapse" in table
    assert "matrix-nio" in table
    for heading in ("floor", "multilogue", "ratio", "p50 (ms)", "p95 (ms)"):
        assert heading in table


def test_the_json_holds_the_machine_and_every_benchmark(
    tiny_run: tuple[str, dict[str, Any]],
) -> None:
    _, figures = tiny_run
    assert figures["ok"] is True
    machine = figures["machine"]
    for key in ("cores", "python", "synapse", "matrix_nio"):
        assert machine[key]
    assert figures["settings"]["probes"] == 5
    assert set(figures["benchmarks"]) == set(build_registry().names())
    assert all(entry["status"] == "ok" for entry in figures["benchmarks"].values())


def test_a_benchmark_without_code_is_listed_as_not_yet_available() -> None:
    waiting = Benchmark("later.thing", "something to come", None, waits_for="the thing")
    ready = Benchmark("now.thing", "something measured", None)
    now = datetime.now(UTC)
    report = Report(
        now,
        now,
        {"cores": 2, "python": platform.python_version()},
        Settings(),
        [
            (waiting, BenchResult(status="not yet available")),
            (
                ready,
                BenchResult(status="ok", rows=[Row("p50", "ms", 40.0, 42.0, "<= 1.05x", 1.05)]),
            ),
        ],
    )
    table = format_table(report)
    assert "later.thing  not yet available: waits for the thing" in table
    assert "1.05x" in table
    assert report.ok
    assert report.to_json()["benchmarks"]["later.thing"]["rows"] == []


def test_a_throughput_goal_is_met_by_being_fast_enough() -> None:
    def rate(multilogue: float) -> Row:
        return Row("messages per second", "msg/s", 30.0, multilogue, ">= 0.8x", min_ratio=0.8)

    assert rate(27.0).met is True
    assert rate(20.0).met is False


@pytest.mark.parametrize("name", LATENCY)
def test_each_latency_probe_is_answered_exactly_once_by_both_arms(
    tiny_run: tuple[str, dict[str, Any]], name: str
) -> None:
    entry = tiny_run[1]["benchmarks"][name]
    assert entry["status"] == "ok", entry["error"]
    assert [row["measure"] for row in entry["rows"]][:2] == ["p50", "p95"]
    for row in entry["rows"]:
        assert row["floor"] > 0
        assert row["multilogue"] > 0
        assert row["ratio"] > 0
    for arm in ARMS:
        assert entry["arms"][arm]["n"] == 5
        assert len(entry["arms"][arm]["samples_ms"]) == 5
        checks = entry["checks"][arm]
        assert {k: checks[k] for k in ("sent", "answered_once", "missing", "duplicates")} == {
            "sent": 5,
            "answered_once": 5,
            "missing": 0,
            "duplicates": 0,
        }
        assert checks.get("unexpected", 0) == 0
    assert entry["checks"]["passed"] is True


def test_objectives_are_listed_from_an_alliance_seeded_through_commands(
    tiny_run: tuple[str, dict[str, Any]],
) -> None:
    entry = tiny_run[1]["benchmarks"]["latency.objectives"]
    assert entry["checks"]["multilogue"]["unexpected"] == 0  # every answer lists #1..#8
    assert entry["arms"]["multilogue"]["alliance_seeded_s"] > 0
    assert entry["arms"]["multilogue"]["command"] == "!objectives"
    assert entry["arms"]["floor"]["command"] == "!ping"


def test_poll_results_count_every_voter_and_the_floor_answers_in_the_same_room(
    tiny_run: tuple[str, dict[str, Any]],
) -> None:
    table, figures = tiny_run
    entry = figures["benchmarks"]["latency.poll_results"]
    multilogue = entry["arms"]["multilogue"]
    assert multilogue["votes"] == VOTES
    assert multilogue["command"] == "!poll results"
    assert entry["arms"]["floor"]["command"] == "ping"
    assert set(multilogue["setup_s"]) == {"register", "join", "poll", "vote", "counted"}
    assert entry["checks"]["multilogue"]["unexpected"] == 0  # each answer reports every voter
    assert f"{VOTES} voters with one vote each" in table


@pytest.mark.parametrize("name", SCALE)
def test_in_process_scale_figures_come_with_their_checks(
    tiny_run: tuple[str, dict[str, Any]], name: str
) -> None:
    entry = tiny_run[1]["benchmarks"][name]
    assert entry["status"] == "ok", entry["error"]
    assert entry["checks"]["passed"] is True
    goals = [row for row in entry["rows"] if row["goal"] == "< 50 ms"]
    assert [row["measure"].rsplit(", ", 1)[1] for row in goals][:2] == ["median", "p95"]
    for row in entry["rows"]:
        assert row["floor"] is None  # in-process: no floor to compare with
        assert row["multilogue"] > 0
    samples = entry["arms"]["multilogue"]["samples_ms"]
    assert samples
    assert all(len(values) == RUNS for values in samples.values())


def test_a_council_round_asks_and_tells_every_movement_room_once_under_both_limits(
    tiny_run: tuple[str, dict[str, Any]],
) -> None:
    table, figures = tiny_run
    entry = figures["benchmarks"]["council.round"]
    assert entry["status"] == "ok", entry["error"]
    assert entry["checks"]["passed"] is True
    arm = entry["arms"]["multilogue"]
    lifted, paced = arm["lifted"], arm["default_limit"]
    assert lifted["movements"] == QUICK["movements"]
    assert (lifted["paced"], paced["paced"]) == (False, True)
    for done in (lifted, paced):
        rooms = done["movements"]
        assert done["checks"]["polls_once"] == rooms
        assert done["checks"]["notices_once"] == rooms
        assert done["checks"]["outcomes_once"] == rooms + 1  # and the commons
        assert done["sends"]["asked"]["org.matrix.msc3381.poll.start"] == rooms
        assert done["sends"]["told"]["m.room.message"] >= rooms + 1
        assert done["outcome_s"] >= done["outcome_commons_s"] > 0
    for row in entry["rows"]:
        assert row["floor"] is None  # no raw client does this: no floor
        assert row["multilogue"] >= 0
    assert "the bot's message limit was lifted" in table  # the figures say how they were made
    assert "rc_message is Synapse's default" in table


def test_the_voters_a_results_message_reports_are_read_from_its_text() -> None:
    body = "Poll #1: Where?\nOpen, no deadline.\n1. Park  ██ 3 (60%)\n5 voters.\n"
    assert voters_in(body) == 5
    assert voters_in("1 voter, 1 spoiled vote not counted.") == 1
    assert voters_in("no results here") is None


def test_restart_answers_every_waiting_command_once_and_reports_memory(
    tiny_run: tuple[str, dict[str, Any]],
) -> None:
    entry = tiny_run[1]["benchmarks"]["restart"]
    assert entry["status"] == "ok", entry["error"]
    measures = [row["measure"] for row in entry["rows"]]
    assert "all answered" in measures
    assert "RSS after catch-up" in measures
    for arm in ARMS:
        figures = entry["arms"][arm]
        assert figures["rooms"] == 3
        assert figures["all_answered_s"] > 0
        assert figures["rss_mb"] > 0
        assert len(figures["rounds"]) == 1
        assert entry["checks"][arm]["sent"] == 3
        assert entry["checks"][arm]["answered_once"] == 3
        assert entry["checks"][arm]["duplicates"] == 0
        assert entry["checks"][arm]["clean_stops"] is True


def test_relay_latency_times_each_message_into_the_commons_against_both_floors(
    tiny_run: tuple[str, dict[str, Any]],
) -> None:
    table, figures = tiny_run
    entry = figures["benchmarks"]["relay.latency"]
    assert entry["status"] == "ok", entry["error"]
    measures = [row["measure"] for row in entry["rows"]]
    assert measures[:2] == ["p50", "p95"]
    assert "p50, floor: raw relay loop" in measures
    for row in entry["rows"]:
        assert row["floor"] > 0
        assert row["multilogue"] > 0
    assert entry["rows"][0]["goal"] == "<= 1.2x"
    for series in (*ARMS, "raw_relay"):
        assert entry["arms"][series]["n"] == 5
        assert len(entry["arms"][series]["samples_ms"]) == 5
    assert entry["checks"]["floor"]["answered_once"] == 5
    for series in ("multilogue", "raw_relay"):
        checks = entry["checks"][series]
        assert checks == {
            "sent": 5,
            "relayed_once": 5,
            "missing": 0,
            "duplicates": 0,
            "wrong_thread": 0,
        }
    assert entry["checks"]["passed"] is True
    assert "multilogue 5/5 relayed once" in table


def test_a_relay_burst_arrives_once_and_in_order_for_both_relays(
    tiny_run: tuple[str, dict[str, Any]],
) -> None:
    entry = tiny_run[1]["benchmarks"]["relay.burst"]
    assert entry["status"] == "ok", entry["error"]
    throughput = entry["rows"][0]
    assert throughput["measure"] == "messages per second"
    assert throughput["goal"] == ">= 0.8x"
    assert throughput["floor"] > 0
    assert throughput["multilogue"] > 0
    for arm in ARMS:
        figures = entry["arms"][arm]
        assert figures["threads"] == THREADS
        assert len(figures["bursts"]) == 1
        assert figures["bursts"][0]["messages"] == BURST
        assert figures["all_relayed_s"] > 0
        checks = entry["checks"][arm]
        assert {k: checks[k] for k in ("sent", "relayed_once", "missing", "duplicates")} == {
            "sent": BURST,
            "relayed_once": BURST,
            "missing": 0,
            "duplicates": 0,
        }
        assert checks["out_of_order"] == 0
        assert checks["wrong_thread"] == 0
    assert entry["checks"]["passed"] is True


def test_an_unknown_benchmark_name_is_refused() -> None:
    done = run_bench("--only", "no.such.bench")
    assert done.returncode == 2
    assert "no.such.bench" in done.stderr


def test_only_runs_the_named_group() -> None:
    names = [b.name for b in build_registry().select(["latency"])]
    assert names == list(LATENCY)
    assert all(name.startswith("latency.") for name in names)


def test_stage_summary_measures_from_the_sync_that_brought_the_command() -> None:
    marks: list[tuple[str, float]] = []
    for reply in range(WARM_UP_REPLIES + 10):
        base = reply * 1.0
        marks += [
            ("http.sync.end", base),
            ("Store.commit_sync.start", base + 0.001),
            ("Store.commit_sync.end", base + 0.002),
            ("http.put.start", base + 0.003),
            ("http.sync.start", base + 0.0031),
            ("http.put.end", base + 0.020),
        ]
    counted, stages = summarize(marks)
    assert counted == 10
    medians = {stage.label: round(stage.median_ms, 3) for stage in stages}
    assert medians["Store.commit_sync.end"] == 2.0
    assert medians["http.put.start"] == 3.0
    assert medians["http.put.end"] == 20.0
    assert round(next_sync_after_reply_ms(marks) or 0, 3) == 0.1
