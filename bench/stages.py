"""Where a bot's reaction time goes: timestamps of each stage from a sync to the reply.

    python -m bench.stages OUT.json MODULE [ARGS...]

runs `python -m MODULE ARGS...` (the bot, or `bench.raw_echo`) with light probes installed,
and writes `OUT.json` (a list of `[label, perf_counter]`) when the process exits. Probes:

- every HTTP request of matrix-nio (`http.sync`, `http.put` for sends, `http.other`), and the
  end of nio's parsing (`nio.parsed`) and state update (`nio.received`) of each response;
- for multilogue (MODULE `bot`), the start and end of the steps of its pipeline listed in
  `BOT_STEPS`. A step that no longer exists is skipped (the list names internals of `bot/`).

`summarize` turns a trace into medians per stage, measured for every reply from the end of
the sync that brought the command; `python -m bench --stages DIR` prints them after the table.
The probes cost a few microseconds each: use the figures to compare stages, not for ratios.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import inspect
import json
import runpy
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (module, class, method) of multilogue's pipeline, in the order they run.
BOT_STEPS = (
    ("bot.matrix", "Matrix", "sync"),
    ("bot.app", "Bot", "_handle_batch"),
    ("bot.store", "Store", "commit_sync"),
    ("bot.matrix", "Matrix", "keep_keys"),
    ("bot.app", "Bot", "_handle_event"),
    ("bot.router", "Router", "route"),
    ("bot.render", "Renderer", "render"),
    ("bot.matrix", "Matrix", "send"),
    ("bot.store", "Store", "finish"),
)
WARM_UP_REPLIES = 15  # the first replies of a trace are left out of the summary


class Trace:
    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def mark(self, label: str) -> None:
        self.marks.append((label, time.perf_counter()))

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)
        mark = self.mark
        if inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
                mark(f"{label}.start")
                try:
                    return await original(*args, **kwargs)
                finally:
                    mark(f"{label}.end")

            setattr(owner, name, wrapped_async)
        else:

            @functools.wraps(original)
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                mark(f"{label}.start")
                try:
                    return original(*args, **kwargs)
                finally:
                    mark(f"{label}.end")

            setattr(owner, name, wrapped)

    def install_nio(self) -> None:
        from nio import AsyncClient

        send = AsyncClient.send
        mark = self.mark

        @functools.wraps(send)
        async def traced_send(self: Any, method: str, path: str, *args: Any, **kw: Any) -> Any:
            kind = "http.sync" if "/sync" in path else "http.other"
            if method == "PUT" and "/send/" in path:
                kind = "http.put"
            mark(f"{kind}.start")
            try:
                return await send(self, method, path, *args, **kw)
            finally:
                mark(f"{kind}.end")

        AsyncClient.send = traced_send
        self._mark_after(AsyncClient, "create_matrix_response", "nio.parsed")
        self._mark_after(AsyncClient, "receive_response", "nio.received")

    def _mark_after(self, owner: Any, name: str, label: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)
        mark = self.mark

        @functools.wraps(original)
        async def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            mark(label)
            return result

        setattr(owner, name, wrapped)

    def install_bot(self) -> None:
        for module_name, class_name, method in BOT_STEPS:
            owner = getattr(importlib.import_module(module_name), class_name, None)
            if owner is None or not hasattr(owner, method):
                print(f"bench.stages: no {class_name}.{method}; skipped", file=sys.stderr)
                continue
            self.wrap(owner, method, f"{class_name}.{method}")


@dataclass(frozen=True)
class Stage:
    label: str
    median_ms: float
    p90_ms: float


def summarize(marks: list[tuple[str, float]]) -> tuple[int, list[Stage]]:
    """For every reply sent (`http.put.start`): when each stage first happened after the end
    of the sync that preceded it. Returns the number of replies and the stages, in order."""
    offsets: dict[str, list[float]] = {}
    replies = 0
    sync_end: int | None = None
    for index, (label, _) in enumerate(marks):
        if label == "http.sync.end":
            sync_end = index
        elif label == "http.put.start" and sync_end is not None:
            replies += 1
            if replies <= WARM_UP_REPLIES:
                continue
            base = marks[sync_end][1]
            first: dict[str, float] = {}
            for between, at in marks[sync_end : index + 1]:
                first.setdefault(between, at)
            for after, at in marks[index:]:
                if after == "http.put.end":
                    first["http.put.end"] = at
                    break
            for stage, at in first.items():
                offsets.setdefault(stage, []).append((at - base) * 1000)
    counted = max(replies - WARM_UP_REPLIES, 0)
    stages = [
        Stage(label, statistics.median(values), sorted(values)[int(len(values) * 0.9)])
        for label, values in offsets.items()
        if len(values) >= counted * 0.8 and values
    ]
    stages.sort(key=lambda stage: stage.median_ms)
    return counted, stages


def next_sync_after_reply_ms(marks: list[tuple[str, float]]) -> float | None:
    """Median time from starting a reply's PUT to starting the next sync request: near zero
    when the bot syncs again while its reply is still being sent."""
    gaps: list[float] = []
    for index, (label, at) in enumerate(marks):
        if label == "http.put.start":
            following = (t for lab, t in marks[index:] if lab == "http.sync.start")
            next_sync = next(following, None)
            if next_sync is not None:
                gaps.append((next_sync - at) * 1000)
    gaps = gaps[WARM_UP_REPLIES:]
    return statistics.median(gaps) if gaps else None


def format_stages(path: Path) -> str:
    marks = [(str(m[0]), float(m[1])) for m in json.loads(path.read_text())]
    counted, stages = summarize(marks)
    lines = [f"{path.stem}: {counted} replies, ms after the sync that brought the command"]
    lines += [f"  {s.label:28} median {s.median_ms:7.2f}  p90 {s.p90_ms:7.2f}" for s in stages]
    gap = next_sync_after_reply_ms(marks)
    if gap is not None:
        lines.append(f"  next sync request starts {gap:.2f} ms after the reply's PUT starts")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        print("usage: python -m bench.stages OUT.json MODULE [ARGS...]", file=sys.stderr)
        sys.exit(2)
    out, module, args = Path(argv[0]), argv[1], argv[2:]
    trace = Trace()
    trace.install_nio()
    if module == "bot":
        trace.install_bot()
    atexit.register(lambda: out.write_text(json.dumps(trace.marks)))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
