"""The figures of one run: as a table for people, and as JSON for files."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from bench.context import ARMS, Settings
from bench.registry import Benchmark, BenchResult, Row

HEADER = ("benchmark", "measure", "floor", "multilogue", "ratio", "goal", "met")
DIGITS = {"ms": 1, "s": 2, "MB": 1, "KiB": 1, "msg/s": 1}
EXTRA_CHECKS = (
    ("missing", "missing"),
    ("duplicates", "duplicates"),
    ("unexpected", "answers not saying what they should"),
    ("out_of_order", "out of order"),
    ("wrong_thread", "in the wrong thread"),
)
DONE_ONCE = (("answered_once", "answered once"), ("relayed_once", "relayed once"))


@dataclass(frozen=True)
class Report:
    started: datetime
    finished: datetime
    machine: dict[str, Any]
    settings: Settings
    results: list[tuple[Benchmark, BenchResult]]

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" and r.checks_passed for _, r in self.results)

    def to_json(self) -> dict[str, Any]:
        settings = asdict(self.settings)
        for key in ("profile_dir", "stages_dir"):
            settings[key] = str(settings[key]) if settings[key] is not None else None
        return {
            "started": self.started.isoformat(timespec="seconds"),
            "finished": self.finished.isoformat(timespec="seconds"),
            "machine": self.machine,
            "settings": settings,
            "ok": self.ok,
            "benchmarks": {
                benchmark.name: {
                    "title": benchmark.title,
                    "goal": benchmark.goal or None,
                    "status": result.status,
                    "waits_for": benchmark.waits_for or None,
                    "error": result.error,
                    "rows": [row.to_json() for row in result.rows],
                    "arms": result.arms,
                    "checks": result.checks,
                    "notes": result.notes,
                }
                for benchmark, result in self.results
            },
        }


def _number(value: float, unit: str) -> str:
    return "-" if math.isnan(value) else f"{value:.{DIGITS.get(unit, 2)}f}"


def _cells(row: Row) -> tuple[str, ...]:
    met = {True: "yes", False: "NO", None: ""}[row.met]
    ratio = "-" if math.isnan(row.ratio) else f"{row.ratio:.2f}x"
    return (
        f"{row.measure} ({row.unit})",
        _number(row.floor, row.unit),
        _number(row.multilogue, row.unit),
        ratio,
        row.goal,
        met,
    )


def _checks_line(result: BenchResult) -> str:
    parts = []
    for arm in ARMS:
        found = result.checks.get(arm)
        if isinstance(found, dict) and "sent" in found:
            key, label = next((k, v) for k, v in DONE_ONCE if k in found)
            text = f"{arm} {found[key]}/{found['sent']} {label}"
            extra = [f"{found[k]} {label}" for k, label in EXTRA_CHECKS if found.get(k)]
            if found.get("clean_stops") is False:
                extra.append("unclean stop")
            parts.append(text + (f" ({', '.join(extra)})" if extra else ""))
    summary = result.checks.get("summary")
    if isinstance(summary, str):
        parts.append(summary)
    verdict = "ok" if result.checks_passed else "FAILED"
    return f"checks {verdict}: " + "; ".join(parts)


def _machine_lines(machine: dict[str, Any]) -> list[str]:
    memory = machine.get("memory_mb")
    hardware = [
        f"{machine.get('cores')} cores ({machine.get('usable_cores')} usable)",
        str(machine.get("cpu") or "unknown CPU"),
        f"{memory / 1024:.1f} GB RAM" if isinstance(memory, (int, float)) else "",
    ]
    software = [
        f"Python {machine.get('python')}",
        f"Synapse {machine.get('synapse')}",
        f"matrix-nio {machine.get('matrix_nio')}",
        f"vodozemac {machine.get('vodozemac')}",
    ]
    code = f"multilogue {machine.get('multilogue')} at {machine.get('commit') or '?'}"
    if machine.get("uncommitted_changes"):
        code += " (with uncommitted changes)"
    return [
        "machine:  " + ", ".join(h for h in hardware if h) + f"; {machine.get('platform')}",
        "software: " + ", ".join(software) + "; " + code,
    ]


def format_table(report: Report) -> str:
    s = report.settings
    took = (report.finished - report.started).total_seconds()
    lines = [
        f"multilogue benchmarks, {report.started:%Y-%m-%d %H:%M %Z} ({took:.0f} s)",
        *_machine_lines(report.machine),
        f"sizes:    {s.probes} probes per arm after {s.warmup} warm-up, {s.rooms} rooms per "
        f"bot and {s.rounds} round(s) for restart, {s.bursts} burst(s) of {s.burst} messages "
        f"over {s.threads} threads per arm, seed {s.seed}"
        + (" (quick)" if s.quick else "")
        + (" - PROFILED, figures inflated" if s.profile_dir or s.stages_dir else ""),
        "floor:    a raw matrix-nio client answering !ping (bench/raw_echo.py), or relaying "
        "threads (bench/raw_relay.py, relay.burst), in the same run",
    ]
    if s.peers:
        names = ", ".join(s.peers)
        lines.append(
            f"peers:    {names} (--peers), answering !ping in latency.ping and "
            "latency.encrypted_ping: in the rows 'peer: NAME' the floor column holds the "
            "peer's figure"
        )
    lines.append("")
    table: list[tuple[str, ...]] = [HEADER]
    notes: list[tuple[int, str]] = []  # (index in table, line printed after that row)
    for benchmark, result in report.results:
        if result.status == "not yet available":
            table.append((benchmark.name, f"not yet available: waits for {benchmark.waits_for}"))
            continue
        if result.status == "failed":
            table.append((benchmark.name, f"FAILED: {result.error}"))
            continue
        for index, figure in enumerate(result.rows):
            table.append((benchmark.name if index == 0 else "", *_cells(figure)))
        about = "; ".join([benchmark.title, *result.notes])
        notes.append((len(table) - 1, f"{about}\n{_checks_line(result)}"))
    full_rows = [r for r in table if len(r) == len(HEADER)]
    widths = [max(len(r[i]) for r in full_rows) for i in range(len(HEADER))]
    right = {2, 3, 4}
    note_after = dict(notes)
    for index, row in enumerate(table):
        if len(row) == len(HEADER):
            cells = [
                cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                for i, cell in enumerate(row)
            ]
            lines.append("  ".join(cells).rstrip())
            if index == 0:
                lines.append("  ".join("-" * w for w in widths))
        else:
            lines.append(f"{row[0].ljust(widths[0])}  {row[1]}")
        if index in note_after:
            lines.extend(" " * (widths[0] + 2) + n for n in note_after[index].splitlines())
    return "\n".join(lines)
