"""The `multilogue` command: `run` the bot, start the `demo`, or `reset-cross-signing`.

Exit status: 0 after a clean stop, 1 when the bot cannot go on (login refused, database
from a newer version), 2 for invalid configuration or command-line usage.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bot.config import Config, ConfigError, configure_logging, environ, load_config, read_env

log = logging.getLogger("multilogue")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="multilogue", description="A Matrix bot for dialogue between allied movements."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run the bot with the configuration in .env")
    run.add_argument(
        "--env-file", type=Path, help="read configuration from this file instead of ./.env"
    )
    reset = sub.add_parser(
        "reset-cross-signing",
        help="replace the bot's cross-signing identity (needs MATRIX_PASSWORD)",
    )
    reset.add_argument(
        "--env-file", type=Path, help="read configuration from this file instead of ./.env"
    )
    demo = sub.add_parser(
        "demo", help="start a throwaway local homeserver, a demo account and the bot"
    )
    demo.add_argument(
        "--dir", type=Path, default=Path(".demo"), help="where the demo keeps its data"
    )
    return parser


def _fail(lines: Sequence[str], status: int) -> int:
    print("multilogue: " + lines[0], file=sys.stderr)
    for line in lines[1:]:
        print("  - " + line, file=sys.stderr)
    return status


async def run_bot(config: Config, *, on_ready: Callable[[], Awaitable[None]] | None = None) -> int:
    """Run the bot until SIGINT/SIGTERM. `on_ready` is called once, after the first sync."""
    from bot.app import Bot
    from bot.matrix import LoginFailed
    from bot.store import StoreError

    try:
        bot = await Bot.create(config)
    except StoreError as exc:
        return _fail([str(exc)], 1)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, bot.stop)
    announce = asyncio.ensure_future(_call_when_ready(bot.ready, on_ready))
    try:
        await bot.run()
    except LoginFailed as exc:
        return _fail([f"cannot log in: {exc}"], 1)
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


async def reset_cross_signing(config: Config) -> int:
    from bot.app import Bot
    from bot.matrix import MatrixError

    bot = await Bot.create(config)
    try:
        await bot.login()
        status = await bot.cross_sign(reset=True)
    except MatrixError as exc:
        return _fail([f"cannot log in: {exc}"], 1)
    finally:
        await bot.close()
    if status is None or status.state == "foreign-identity":
        return _fail(["the cross-signing identity was not replaced; see the messages above"], 1)
    print("Done: the bot has a new cross-signing identity and its device is signed.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from bot.demo import run_demo

        status: int = run_demo(args.dir.resolve())
        return status
    try:
        config = load_config(read_env(args.env_file, environ()))
    except ConfigError as exc:
        return _fail(["the configuration has problems:", *exc.problems], 2)
    configure_logging(config.log_level)
    if args.command == "reset-cross-signing":
        return asyncio.run(reset_cross_signing(config))
    return asyncio.run(run_bot(config))


if __name__ == "__main__":
    sys.exit(main())
