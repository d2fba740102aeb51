"""Benchmarks declared as data, and what a benchmark returns.

A benchmark is a `Benchmark` value: a dotted name (`latency.ping`), a title, the goal the
issue sets, and an async function that takes the `BenchContext` and returns a `BenchResult`.
A benchmark whose function is `None` is listed in the table as "not yet available", with
what it waits for; it becomes real by giving it a function. See `bench/benchmarks/`.

A result holds `rows` (one figure each, for the floor and for multilogue, with the ratio and
the goal), `arms` (everything measured per arm, raw samples included, for the JSON file) and
`checks` (correctness: every probe answered exactly once).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bench.stats import ratio

if TYPE_CHECKING:
    from bench.context import BenchContext

Status = Literal["ok", "failed", "not yet available"]


@dataclass(frozen=True)
class Row:
    """One figure for both arms: the floor (raw matrix-nio) and multilogue."""

    measure: str
    unit: str
    floor: float
    multilogue: float
    goal: str = ""
    max_ratio: float | None = None  # the goal, when it is a ratio to the floor
    min_ratio: float | None = None  # the goal, when more is better (messages per second)
    max_value: float | None = None  # the goal, when it is a bound on multilogue's figure

    @property
    def ratio(self) -> float:
        return ratio(self.multilogue, self.floor)

    @property
    def met(self) -> bool | None:
        """Whether the figure is within the goal; None when there is no goal or no figure."""
        if self.max_ratio is not None and not math.isnan(self.ratio):
            return self.ratio <= self.max_ratio
        if self.min_ratio is not None and not math.isnan(self.ratio):
            return self.ratio >= self.min_ratio
        if self.max_value is not None and not math.isnan(self.multilogue):
            return self.multilogue <= self.max_value
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "unit": self.unit,
            "floor": _finite(self.floor),
            "multilogue": _finite(self.multilogue),
            "ratio": _finite(self.ratio),
            "goal": self.goal or None,
            "met": self.met,
        }


@dataclass
class BenchResult:
    status: Status
    rows: list[Row] = field(default_factory=list)
    arms: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def checks_passed(self) -> bool:
        return bool(self.checks.get("passed", True))


BenchFunction = Callable[["BenchContext"], Awaitable[BenchResult]]


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    run: BenchFunction | None
    goal: str = ""
    waits_for: str = ""  # for a benchmark not yet available: what it needs first

    @property
    def available(self) -> bool:
        return self.run is not None


class Registry:
    """Every benchmark, in the order the table shows them."""

    def __init__(self) -> None:
        self._benchmarks: dict[str, Benchmark] = {}

    def add(self, benchmark: Benchmark) -> None:
        if benchmark.name in self._benchmarks:
            raise ValueError(f"benchmark {benchmark.name!r} is registered twice")
        self._benchmarks[benchmark.name] = benchmark

    def __iter__(self) -> Iterator[Benchmark]:
        return iter(self._benchmarks.values())

    def names(self) -> list[str]:
        return list(self._benchmarks)

    def select(self, names: Iterable[str] | None) -> list[Benchmark]:
        """The named benchmarks (all of them for None), in registry order.

        A name selects that benchmark and every benchmark below it: `latency` selects
        `latency.ping` and `latency.help`. Raises KeyError naming what matched nothing.
        """
        if names is None:
            return list(self)
        wanted = list(names)
        unknown = [
            n for n in wanted if not any(b == n or b.startswith(n + ".") for b in self._benchmarks)
        ]
        if unknown:
            raise KeyError(", ".join(unknown))
        return [b for b in self if any(b.name == n or b.name.startswith(n + ".") for n in wanted)]


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)
