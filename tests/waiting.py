"""The one bounded wait of the test suite: until something holds, or fail saying what."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], bool | Awaitable[bool]],
    *,
    what: str,
    timeout: float = 30,
    every: float = 0.05,
) -> None:
    """Wait until `check()` is true (it may be a coroutine function, to look at a store);
    fail after `timeout` seconds, naming `what` was awaited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(every)
