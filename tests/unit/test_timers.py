"""The bot's timers: run once in sync, then every interval, or at once when signalled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bot.app import Bot
from bot.config import Config
from bot.contract import Registry, Services, Timer
from bot.ids import UserID
from bot.store import Store

HOUR = 3600.0


def bot_with(store: Store, tmp_path: Path, *timers: Timer) -> Bot:
    registry = Registry()
    for timer in timers:
        registry.every(timer)
    config = Config(
        homeserver="http://hs",
        user_id=UserID("@bot:hs"),
        password="secret",
        access_token=None,
        device_id=None,
        data_dir=tmp_path,
    )
    return Bot(config, store, registry=registry)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (bounded) until `condition()` holds."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_signal_runs_the_timers_woken_by_it_and_only_those(
    store: Store, tmp_path: Path
) -> None:
    runs = {"decisions": 0, "deadlines": 0}

    def counting(name: str) -> Timer:
        async def handler(services: Services) -> None:
            runs[name] += 1

        woken_by = frozenset({"poll closed"}) if name == "decisions" else frozenset()
        return Timer(name, HOUR, handler, woken_by=woken_by)

    bot = bot_with(store, tmp_path, counting("decisions"), counting("deadlines"))
    bot._start_timers()
    await until(lambda: runs == {"decisions": 1, "deadlines": 1}, "the first runs")
    bot.services.signal("poll closed")
    await until(lambda: runs["decisions"] == 2, "the signalled run")
    bot.services.signal("something else")
    bot.services.signal("poll closed")
    bot.services.signal("poll closed")  # signals before the next run make one run, not two
    await until(lambda: runs["decisions"] == 3, "the second signalled run")
    await asyncio.sleep(0.05)
    assert runs == {"decisions": 3, "deadlines": 1}
    bot.stop()
    await asyncio.gather(*bot._tasks)  # stop wakes every timer, and they end
