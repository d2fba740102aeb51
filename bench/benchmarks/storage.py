"""Storage: ordinary messages leave only what the record needs in the bot's database.

multilogue is in one plain room with a person, who writes `settings.messages` ordinary
messages (not commands), eight at a time, then `!ping`. Once it is answered, every message
before it was handled (a room's events are handled in order). The bot is stopped (SIGTERM:
its database is checkpointed and closed) and its database file measured before the messages
and after. What it should keep of each message is its id, for 30 days (so that it is never
handled twice), and none of its words: the check counts rows that still hold a message's text.
The raw client keeps no database, so there is no floor: the goal is a bound.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from pathlib import Path

from bench.context import BenchContext
from bench.registry import BenchResult, Row

NAN = math.nan
GOAL_BYTES = 300  # per message: its id, the room and two numbers, with the index


def database_bytes(data_dir: Path) -> int:
    return sum(
        path.stat().st_size
        for path in (data_dir / "multilogue.db", data_dir / "multilogue.db-wal")
        if path.exists()
    )


def texts_kept(data_dir: Path) -> tuple[int, int]:
    """Inbox rows in all, and those still holding an event's content (read-only)."""
    with sqlite3.connect(f"file:{data_dir / 'multilogue.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT COUNT(*), COUNT(source) FROM inbox").fetchone()
    return int(rows[0]), int(rows[1])


async def messages(ctx: BenchContext) -> BenchResult:
    count = ctx.settings.messages
    prober = await ctx.prober("chatter")
    bot_id, process = await ctx.multilogue("storage")
    data_dir = ctx.folder / "bots" / "storage-data"  # as `BenchContext.multilogue` sets it
    [room] = await ctx.rooms_with(prober, bot_id, 1)
    first = await prober.probe(room, "!ping", bot_id=bot_id, timeout_s=120)
    await process.stop()
    before = database_bytes(data_dir)
    await process.start()

    limit = asyncio.Semaphore(8)

    async def say(index: int) -> None:
        async with limit:
            await prober.send_text(room, f"Message {index}: see you at the square at noon")

    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(say(i) for i in range(count)))
    sent_s = asyncio.get_running_loop().time() - started
    last = await prober.probe(room, "!ping", bot_id=bot_id, timeout_s=120 + count / 50)
    stop_status = await process.stop()
    after = database_bytes(data_dir)
    rows, with_text = texts_kept(data_dir)

    per_message = (after - before) / count
    result = BenchResult(
        status="ok",
        rows=[
            Row("database before", "MB", NAN, before / 1e6),
            Row("database after", "MB", NAN, after / 1e6),
            Row(
                "growth per message",
                "bytes",
                NAN,
                per_message,
                f"<= {GOAL_BYTES} bytes (the id only)",
                max_value=GOAL_BYTES,
            ),
        ],
        arms={
            "multilogue": {
                "messages": count,
                "sent_s": sent_s,
                "database_before_bytes": before,
                "database_after_bytes": after,
                "inbox_rows": rows,
                "rows_with_text": with_text,
            }
        },
    )
    handled = first.latency_s is not None and last.latency_s is not None
    result.checks = {
        "answered": handled,
        "rows_with_text": with_text,
        "clean_stop": stop_status == 0,
        "passed": handled and with_text == 0 and stop_status == 0 and rows >= count,
    }
    result.notes.append(
        f"{count:,} ordinary messages in {sent_s:.0f} s, then !ping; measured after a clean stop"
    )
    return result
