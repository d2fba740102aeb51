"""Running the bot as a process: until SIGINT/SIGTERM, or one maintenance job, with an exit status.

Shared by `multilogue run`, `multilogue reset-cross-signing` and the demo. Failures the operator
must act on are printed to stderr as one plain line (`fail`); everything else goes to the log.
Exit status: 0 after a clean stop, 1 when the bot cannot go on (login refused, database from a
newer version), 2 for invalid configuration or command-line usage.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Sequence

from bot.app import Bot
from bot.config import Config
from bot.contract import LoginFailed, MatrixError
from bot.datadir import FolderInUse, exclusive, make_private
from bot.store import StoreError


def fail(lines: Sequence[str], status: int) -> int:
    """Print a failure for the operator (a first line, then one bullet per detail)."""
    print("multilogue: " + lines[0], file=sys.stderr)
    for line in lines[1:]:
        print("  - " + line, file=sys.stderr)
    return status


async def run_bot(config: Config, *, on_ready: Callable[[], Awaitable[None]] | None = None) -> int:
    """Run the bot until SIGINT/SIGTERM. `on_ready` is called once, after the first sync.

    The data folder is held while the bot runs: a second bot on it is refused."""
    try:
        make_private(config.data_dir)
        with exclusive(config.data_dir):
            return await _run_bot(config, on_ready)
    except FolderInUse:
        return fail(
            [
                f"another multilogue is running with the data folder {config.data_dir.absolute()}",
                "stop it first, or give this one its own MULTILOGUE_DATA_DIR",
            ],
            1,
        )
    except OSError as exc:
        return fail([_data_folder_problem(config, exc)], 2)


async def _run_bot(config: Config, on_ready: Callable[[], Awaitable[None]] | None) -> int:
    try:
        bot = await Bot.create(config)
    except StoreError as exc:
        return fail([str(exc)], 1)
    except (OSError, sqlite3.OperationalError) as exc:
        return fail([_data_folder_problem(config, exc)], 2)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, bot.stop)
    announce = asyncio.ensure_future(_call_when_ready(bot.ready, on_ready))
    try:
        await bot.run()
    except LoginFailed as exc:
        return fail([f"cannot log in: {exc}"], 1)
    finally:
        announce.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


async def _call_when_ready(
    ready: asyncio.Event, callback: Callable[[], Awaitable[None]] | None
) -> None:
    await ready.wait()
    if callback is not None:
        await callback()


def _data_folder_problem(config: Config, exc: OSError | sqlite3.OperationalError) -> str:
    why = (exc.strerror if isinstance(exc, OSError) else str(exc)) or type(exc).__name__
    return (
        f"cannot use the data folder {config.data_dir.absolute()} ({why}): check "
        "MULTILOGUE_DATA_DIR and that the bot's user may write there"
    )


async def reset_cross_signing(config: Config) -> int:
    try:
        bot = await Bot.create(config)
    except StoreError as exc:
        return fail([str(exc)], 1)
    except (OSError, sqlite3.OperationalError) as exc:
        return fail([_data_folder_problem(config, exc)], 2)
    try:
        await bot.login()
        status = await bot.cross_sign(reset=True)
    except MatrixError as exc:
        return fail([f"cannot log in: {exc}"], 1)
    finally:
        await bot.close()
    if status is None or status.state == "foreign-identity":
        return fail(["the cross-signing identity was not replaced; see the messages above"], 1)
    print("Done: the bot has a new cross-signing identity and its device is signed.")
    return 0
