"""Backups of the data folder an operator can trust: `multilogue backup` and `multilogue restore`.

A backup is one `.tar.gz` archive, readable only by its owner (0600), holding:

- `multilogue.db`: the alliances' record, the bot's session and its sync position;
- `crypto/*.db`: the bot's encryption keys (its device, its Olm and Megolm sessions);
- `cross_signing.json`: its cross-signing keys, when it has them;
- `manifest.json`: what the archive holds (each file's size and SHA-256), for which account,
  which schema version, and when it was taken.

Databases are copied with SQLite's online backup API, page by page under SQLite's own locking,
so a backup taken while the bot runs is a consistent snapshot (a file copy of a live WAL
database may not be). Restoring needs the bot stopped (it holds the data folder while it runs,
`bot.datadir.exclusive`); it checks every file against the manifest before it changes anything,
refuses an archive of another account, of a newer schema, or older than the data it would
replace (unless `force`), and never deletes: what it replaces is moved into
`replaced-<time>/` inside the data folder.

Errors: :class:`BackupError`, whose message is one sentence for the operator.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Final

from bot.config import Config
from bot.cross_signing import KEY_FILE_NAME
from bot.datadir import FILE_MODE, FolderInUse, exclusive, make_private
from bot.store import bundled_migrations

FORMAT: Final = 1
MANIFEST: Final = "manifest.json"
DATABASE: Final = "multilogue.db"
CRYPTO: Final = "crypto"


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why, for the operator."""


@dataclass(frozen=True)
class Manifest:
    user_id: str
    schema: int
    taken_at: int
    """Milliseconds since the epoch."""
    files: dict[str, dict[str, Any]]
    version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "user_id": self.user_id,
            "schema": self.schema,
            "taken_at": self.taken_at,
            "multilogue": self.version,
            "files": self.files,
        }


def _taken(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _members(config: Config) -> Iterator[tuple[str, Path]]:
    """The data folder's files that a backup holds: (name in the archive, path)."""
    if config.database_path.exists():
        yield DATABASE, config.database_path
    if config.crypto_dir.is_dir():
        for path in sorted(config.crypto_dir.glob("*.db")):
            yield f"{CRYPTO}/{path.name}", path
    keys = config.data_dir / KEY_FILE_NAME
    if keys.exists():
        yield KEY_FILE_NAME, keys


def _copy_database(source: Path, target: Path) -> None:
    # Read-only: a backup never changes the live database, not even its journal mode.
    with (
        closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file


def _schema(path: Path) -> int:
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(config: Config, archive: Path, *, version: str, force: bool = False) -> Manifest:
    """Write a backup of `config`'s data folder to `archive` (0600). Works while the bot runs."""
    if not config.database_path.exists():
        raise BackupError(f"there is no database in {config.data_dir.absolute()} to back up")
    if archive.exists() and not force:
        raise BackupError(f"{archive} exists already; give another name, or --force to replace it")
    if archive.resolve().is_relative_to(config.data_dir.resolve()):
        raise BackupError("write the backup outside the data folder (it would hold itself)")
    with tempfile.TemporaryDirectory(prefix="multilogue-backup-") as scratch:
        work = Path(scratch)
        files: dict[str, dict[str, Any]] = {}
        for name, path in _members(config):
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if name.endswith(".db"):
                _copy_database(path, target)
            else:
                shutil.copyfile(path, target)
            files[name] = {"bytes": target.stat().st_size, "sha256": _sha256(target)}
        manifest = Manifest(
            user_id=config.user_id,
            schema=_schema(work / DATABASE),
            taken_at=int(time.time() * 1000),
            files=files,
            version=version,
        )
        _write_archive(work, manifest, archive)
    return manifest


def _write_archive(work: Path, manifest: Manifest, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(f".{archive.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = json.dumps(manifest.to_json(), indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(data), FILE_MODE, manifest.taken_at // 1000
            tar.addfile(info, io.BytesIO(data))
            for name in manifest.files:
                tar.add(work / name, arcname=name, recursive=False, filter=_private)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(partial, FILE_MODE)
        os.replace(partial, archive)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname = FILE_MODE, 0, 0, "", ""
    return info


# -- restoring ---------------------------------------------------------------------------------


def read_manifest(tar: tarfile.TarFile) -> Manifest:
    try:
        member = tar.getmember(MANIFEST)
        extracted = tar.extractfile(member)
        if extracted is None:
            raise KeyError(MANIFEST)
        raw = json.loads(extracted.read())
        if raw.get("format") != FORMAT:
            raise BackupError(
                f"this backup has format {raw.get('format')!r}, this multilogue reads {FORMAT}"
            )
        return Manifest(
            user_id=str(raw["user_id"]),
            schema=int(raw["schema"]),
            taken_at=int(raw["taken_at"]),
            files={str(k): dict(v) for k, v in raw["files"].items()},
            version=str(raw.get("multilogue", "unknown")),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise BackupError(
            "this is not a multilogue backup (its manifest is missing or damaged)"
        ) from exc


def _allowed(name: str) -> bool:
    """Only the names a backup writes, never a path that leaves the data folder."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        return False
    if name in (DATABASE, KEY_FILE_NAME):
        return True
    return len(path.parts) == 2 and path.parts[0] == CRYPTO and path.suffix == ".db"


def restore(config: Config, archive: Path, *, force: bool = False) -> Manifest:
    """Put the backup in `archive` back into `config`'s data folder (the bot must be stopped)."""
    if not archive.is_file():
        raise BackupError(f"there is no backup at {archive}")
    make_private(config.data_dir)
    try:
        with (
            _opened(archive) as tar,
            exclusive(config.data_dir),
            tempfile.TemporaryDirectory(prefix="restore-", dir=config.data_dir) as scratch,
        ):
            manifest = read_manifest(tar)
            _check(config, manifest, force=force)
            work = Path(scratch)
            _unpack(tar, manifest, work)
            _swap_in(config, manifest, work)
    except FolderInUse as exc:
        raise BackupError(
            f"the bot is running with the data folder {config.data_dir.absolute()}: stop it first"
        ) from exc
    make_private(config.data_dir)
    return manifest


@contextmanager
def _opened(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        tar = tarfile.open(archive, mode="r:gz")  # noqa: SIM115 (closed below)
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive} is not a backup archive ({exc})") from exc
    with tar:
        try:
            yield tar
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise BackupError(f"{archive} is damaged ({exc})") from exc


def _check(config: Config, manifest: Manifest, *, force: bool) -> None:
    if DATABASE not in manifest.files:
        raise BackupError("this backup holds no database")
    bad = [name for name in manifest.files if not _allowed(name)]
    if bad:
        raise BackupError(f"this backup holds a file it should not: {bad[0]!r}")
    if manifest.user_id != config.user_id and not force:
        raise BackupError(
            f"this backup is of {manifest.user_id}, but MATRIX_USER_ID is {config.user_id}; "
            "restore it with that account's configuration, or --force"
        )
    latest = bundled_migrations()[-1].version
    if manifest.schema > latest:
        raise BackupError(
            f"this backup was written by a newer multilogue ({manifest.version}, schema "
            f"{manifest.schema}; this one knows {latest}): upgrade first"
        )
    current = config.database_path
    if current.exists() and not force:
        changed = int(current.stat().st_mtime * 1000)
        if changed > manifest.taken_at:
            raise BackupError(
                f"the database in the data folder was changed after this backup was taken "
                f"({_taken(changed)}, the backup is of {_taken(manifest.taken_at)}); "
                "restoring would lose that: take a backup of it first, then restore with --force"
            )


def _unpack(tar: tarfile.TarFile, manifest: Manifest, work: Path) -> None:
    """Extract and check every file the manifest lists (and nothing else) into `work`."""
    for name, expected in manifest.files.items():
        try:
            member = tar.getmember(name)
        except KeyError:
            raise BackupError(f"this backup is missing {name}") from None
        source = tar.extractfile(member) if member.isfile() else None
        if source is None:
            raise BackupError(f"{name} in this backup is not a file")
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
        if _sha256(target) != expected.get("sha256"):
            raise BackupError(f"{name} in this backup is damaged (its checksum does not match)")
    if _schema(work / DATABASE) != manifest.schema:
        raise BackupError("the database in this backup is not the one its manifest describes")


def _swap_in(config: Config, manifest: Manifest, work: Path) -> None:
    """Move what is there aside into `replaced-<time>/`, then move the backup's files in."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    aside = config.data_dir / f"replaced-{stamp}"
    old = list(_members(config))
    if old:
        aside.mkdir(mode=0o700)
    for name, path in old:
        (aside / name).parent.mkdir(parents=True, exist_ok=True)
        # A database's journal goes with it: left behind, SQLite would apply it to the new one.
        for suffix in ("", "-wal", "-shm", "-journal"):
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                companion.replace(aside / (name + suffix))
    for name in manifest.files:
        target = config.data_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (work / name).replace(target)
