"""The `multilogue` command: `run` the bot, start the `demo`, or `reset-cross-signing`.

Exit status: 0 after a clean stop, 1 when the bot cannot go on (login refused, database
from a newer version), 2 for invalid configuration or command-line usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from bot.config import ConfigError, configure_logging, environ, load_config, read_env
from bot.runner import fail, reset_cross_signing, run_bot
from bot.tooling.demo import run_demo


def version() -> str:
    try:
        return metadata.version("multilogue")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="multilogue", description="A Matrix bot for dialogue between allied movements."
    )
    parser.add_argument("--version", action="version", version=f"multilogue {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    env_help = "read the configuration from this file instead of ./.env"
    run = sub.add_parser(
        "run",
        help="run the bot with the configuration in .env",
        description="Run the bot until Ctrl+C or SIGTERM. The configuration comes from ./.env "
        "(or --env-file) and the environment; config.example.env explains every variable.",
    )
    run.add_argument("--env-file", type=Path, help=env_help)
    reset = sub.add_parser(
        "reset-cross-signing",
        help="replace the bot's cross-signing identity (needs MATRIX_PASSWORD)",
    )
    reset.add_argument("--env-file", type=Path, help=env_help)
    demo = sub.add_parser(
        "demo", help="start a throwaway local homeserver, a demo account and the bot"
    )
    demo.add_argument(
        "--dir", type=Path, default=Path(".demo"), help="where the demo keeps its data"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        return run_demo(args.dir.resolve())
    try:
        config = load_config(read_env(args.env_file, environ()))
    except ConfigError as exc:
        return fail(["the configuration has problems:", *exc.problems], 2)
    configure_logging(config.log_level)
    if args.command == "reset-cross-signing":
        return asyncio.run(reset_cross_signing(config))
    return asyncio.run(run_bot(config))


if __name__ == "__main__":
    sys.exit(main())
