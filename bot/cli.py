"""The `multilogue` command: `run` the bot, start the `demo`, `reset-cross-signing`, make a
`backup` of the data folder and `restore` one, `export` an alliance's record and `import` one,
or `publish` its platform as a static website.

Exit status: 0 after a clean stop, 1 when the bot cannot go on (login refused, database
from a newer version), 2 for invalid configuration or command-line usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bot.backup import BackupError, backup, restore
from bot.config import Config, ConfigError, configure_logging, environ, load_config, read_env
from bot.contract import CommandError
from bot.datadir import FolderInUse, exclusive, make_private
from bot.families import Imported, export_records, import_record, record_bytes, site_files
from bot.languages import SHIPPED
from bot.render import Renderer
from bot.runner import fail, reset_cross_signing, run_bot
from bot.store import Store, StoreError
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
    saving = sub.add_parser(
        "backup",
        help="copy the bot's database and keys into one archive (also while it runs)",
        description="Write one archive (readable only by you) with the bot's database, its "
        "encryption keys and its cross-signing keys, consistent even while the bot runs. "
        "Keep it somewhere safe: it holds the bot's keys and the alliances' record.",
    )
    saving.add_argument("file", type=Path, help="the archive to write, e.g. multilogue.tar.gz")
    saving.add_argument("--force", action="store_true", help="replace FILE if it exists")
    saving.add_argument("--env-file", type=Path, help=env_help)
    putting = sub.add_parser(
        "restore",
        help="put a backup back into the data folder (stop the bot first)",
        description="Check the archive, move what is in the data folder aside (into "
        "replaced-<time>/ there) and put the backup in its place. Refuses a backup of "
        "another account, of a newer multilogue, or older than the data it would replace, "
        "unless --force.",
    )
    putting.add_argument("file", type=Path, help="the archive `multilogue backup` wrote")
    putting.add_argument(
        "--force", action="store_true", help="restore even over newer data or another account"
    )
    putting.add_argument("--env-file", type=Path, help=env_help)
    exporting = sub.add_parser(
        "export",
        help="write an alliance's record as a JSON document (also while the bot runs)",
        description="Write the record of an alliance (or of every alliance) as JSON: its "
        "movements and every consent, each statement with every version and the poll that "
        "ratified it, the objectives and every stance, the proposals, and the shared threads' "
        "metadata. The format is described by commands/record/schema.json.",
    )
    exporting.add_argument("--alliance", help="its name or short name (default: every alliance)")
    exporting.add_argument(
        "--out",
        type=Path,
        help="the file to write (a folder when there are several alliances; default: print it)",
    )
    exporting.add_argument("--env-file", type=Path, help=env_help)
    importing = sub.add_parser(
        "import",
        help="re-create an alliance's record from an exported document (bot stopped)",
        description="Re-create an alliance from `multilogue export`'s document in this bot's "
        "data folder, then say which rooms the bot must be invited to.",
    )
    importing.add_argument("file", type=Path, help="the JSON document to import")
    importing.add_argument("--env-file", type=Path, help=env_help)
    publishing = sub.add_parser(
        "publish",
        help="write the alliance's public platform as a static website",
        description="Write the alliance's public page into a folder: its common objectives "
        "and who endorses them in whose words, each movement's statement and how it changed, "
        "the agreements and the decision log. Only what the alliance made public (`!alliance "
        "set public yes`; each movement may keep its statement off). Plain HTML and CSS: open "
        "index.html from the folder or put the folder on any web host.",
    )
    publishing.add_argument("--alliance", help="its name or short name (needed if several)")
    publishing.add_argument(
        "--out",
        type=Path,
        required=True,
        help="the folder to write (created; the pages of a previous publish are replaced)",
    )
    publishing.add_argument(
        "--language",
        choices=SHIPPED,
        help="the language of the pages' own words (default: MULTILOGUE_LANGUAGE); what "
        "movements wrote stays as they wrote it",
    )
    publishing.add_argument("--env-file", type=Path, help=env_help)
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
    if args.command in ("backup", "restore"):
        return _archive(args.command, config, args.file, force=args.force)
    if args.command == "export":
        return _export(config, args.alliance, args.out)
    if args.command == "import":
        return _import(config, args.file)
    if args.command == "publish":
        return _publish(config, args.alliance, args.out, args.language or config.language)
    if args.command == "reset-cross-signing":
        return asyncio.run(reset_cross_signing(config))
    return asyncio.run(run_bot(config))


def _archive(command: str, config: Config, file: Path, *, force: bool) -> int:
    try:
        if command == "backup":
            made = backup(config, file, version=version(), force=force)
            print(
                f"multilogue: backed up {config.user_id} ({len(made.files)} files, schema "
                f"{made.schema}) to {file}; it holds the bot's keys: keep it private"
            )
        else:
            put = restore(config, file, force=force)
            print(
                f"multilogue: restored the backup of {put.user_id} taken "
                f"{datetime.fromtimestamp(put.taken_at / 1000, UTC):%Y-%m-%d %H:%M} UTC into "
                f"{config.data_dir.absolute()}; start the bot with `multilogue run`"
            )
    except BackupError as exc:
        return fail([str(exc)], 1)
    except OSError as exc:
        return fail([f"cannot {command} ({exc.strerror or exc})"], 1)
    return 0


def _refused(config: Config, exc: CommandError) -> str:
    return Renderer(globals={"prefix": config.command_prefix}).say(exc.words)


async def _records(config: Config, wanted: str | None) -> list[tuple[str, dict[str, Any]]]:
    store = await Store.open(config.database_path)
    try:
        return await export_records(store, wanted)
    finally:
        await store.close()


def _documents(
    config: Config, wanted: str | None, doing: str
) -> list[tuple[str, dict[str, Any]]] | int:
    """The records of the alliance named `wanted` (or of every alliance), or the exit status
    once the operator was told why there are none to `doing`."""
    if not config.database_path.exists():
        return fail([f"there is no database in {config.data_dir.absolute()}"], 1)
    try:
        documents = asyncio.run(_records(config, wanted))
    except StoreError as exc:
        return fail([str(exc)], 1)
    except CommandError as exc:
        return fail([f"cannot {doing}: {_refused(config, exc)}"], 1)
    if not documents:
        return fail([f"there is no alliance to {doing} yet"], 1)
    return documents


def _export(config: Config, wanted: str | None, out: Path | None) -> int:
    documents = _documents(config, wanted, "export")
    if isinstance(documents, int):
        return documents
    if len(documents) > 1 and (out is None or out.suffix == ".json"):
        names = ", ".join(slug for slug, _ in documents)
        return fail(
            [
                f"there are {len(documents)} alliances ({names})",
                "name one with --alliance, or give --out a folder to write one file each",
            ],
            2,
        )
    if out is None:
        sys.stdout.buffer.write(record_bytes(documents[0][1]))
        return 0
    try:
        if len(documents) > 1 or out.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            targets = [(out / f"{slug}.json", doc) for slug, doc in documents]
        else:
            targets = [(out, documents[0][1])]
        for path, doc in targets:
            path.write_bytes(record_bytes(doc))
            print(f"multilogue: wrote the record of {doc['alliance']['name']} to {path}")
    except OSError as exc:
        return fail([f"cannot write {out} ({exc.strerror or exc})"], 1)
    return 0


def _publish(config: Config, wanted: str | None, out: Path, language: str) -> int:
    documents = _documents(config, wanted, "publish")
    if isinstance(documents, int):
        return documents
    if len(documents) > 1:
        names = ", ".join(slug for slug, _ in documents)
        return fail(
            [f"there are {len(documents)} alliances ({names}): name one with --alliance"], 2
        )
    try:
        files = site_files(
            documents[0][1], published_at=datetime.now(UTC), tz=config.timezone, language=language
        )
    except CommandError as exc:
        return fail([f"cannot publish: {_refused(config, exc)}"], 1)
    try:
        _write_site(out, files)
    except OSError as exc:
        return fail([f"cannot write {out} ({exc.strerror or exc})"], 1)
    print(f"multilogue: published {len(files)} files; open {(out / 'index.html').absolute()}")
    return 0


def _write_site(out: Path, files: dict[str, bytes]) -> None:
    """Write the site into `out`, each file whole (a web server never serves half of one), and
    take away the pages of movements a previous publish wrote that this one does not (one that
    left the alliance). Other files in `out` stay."""
    for name, data in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        try:
            partial.write_bytes(data)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    pages = {out / name for name in files}
    for page in (out / "movements").glob("*.html"):
        if page not in pages:
            page.unlink()


async def _write_record(config: Config, document: dict[str, Any]) -> Imported:
    store = await Store.open(config.database_path)
    try:
        return await import_record(store, document)
    finally:
        await store.close()


def _import(config: Config, file: Path) -> int:
    try:
        document = json.loads(file.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return fail([f"cannot read {file} as a JSON document ({exc})"], 1)
    try:
        make_private(config.data_dir)
        with exclusive(config.data_dir):
            imported = asyncio.run(_write_record(config, document))
    except FolderInUse:
        return fail([f"the bot is running with {config.data_dir.absolute()}: stop it first"], 1)
    except StoreError as exc:
        return fail([str(exc)], 1)
    except CommandError as exc:
        return fail([f"cannot import: {_refused(config, exc)}"], 1)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return fail([f"cannot import: {file} is not a record this bot reads ({exc!r})"], 1)
    print(
        f"multilogue: imported {imported.alliance}. Invite the bot to these rooms "
        "(it acts in each once it is there):"
    )
    for room in imported.rooms:
        print(f"  - {room}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
