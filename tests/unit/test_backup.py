"""Backups an operator can trust: a consistent copy of a live WAL database and the keys, private,
checked before anything is restored, and nothing ever deleted by a restore. (The bot itself,
backed up while it runs and restored into a new folder, is in the integration tests.)"""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import stat
import tarfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bot.backup import BackupError, backup, restore
from bot.cli import main
from bot.config import Config
from bot.datadir import exclusive
from bot.store import Store
from tests.unit.fakes import make_config

USER = "@multilogue:example.org"


@pytest.fixture(autouse=True)
def keep_umask() -> Iterator[None]:
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


async def data_folder(folder: Path) -> None:
    """A data folder as a running bot leaves it: the record (in WAL mode), a crypto store and
    the cross-signing keys."""
    store = await Store.open(folder / "multilogue.db")
    await store.close()
    (folder / "crypto").mkdir()
    with closing(sqlite3.connect(folder / "crypto" / f"{USER}_DEVICE.db")) as db:
        db.execute("CREATE TABLE olm (account TEXT)")
        db.execute("INSERT INTO olm VALUES ('the device keys')")
        db.commit()
    (folder / "cross_signing.json").write_text('{"master": "secret seed"}')


def live_writer(database: Path) -> sqlite3.Connection:
    """A connection that wrote into the WAL and keeps it open (no checkpoint), as the bot does."""
    db = sqlite3.connect(database)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute("CREATE TABLE IF NOT EXISTS notes (text TEXT)")
    db.execute("INSERT INTO notes VALUES ('written while the bot runs')")
    db.commit()
    return db


def config_for(folder: Path, user: str = USER) -> Config:
    return make_config(folder, user_id=user)


async def test_a_backup_of_a_running_bot_restores_into_a_new_folder(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    await data_folder(old)
    writer = live_writer(old / "multilogue.db")
    try:
        assert (old / "multilogue.db-wal").stat().st_size > 0  # the row is only in the WAL
        archive = tmp_path / "saved" / "multilogue.tar.gz"
        made = backup(config_for(old), archive, version="test")
    finally:
        writer.close()
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert sorted(made.files) == [
        "cross_signing.json",
        f"crypto/{USER}_DEVICE.db",
        "multilogue.db",
    ]
    with tarfile.open(archive) as tar:
        assert all(m.mode == 0o600 for m in tar.getmembers())

    put = restore(config_for(new), archive)
    assert put.user_id == USER
    with closing(sqlite3.connect(new / "multilogue.db")) as db:
        assert db.execute("SELECT text FROM notes").fetchall() == [("written while the bot runs",)]
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with closing(sqlite3.connect(new / "crypto" / f"{USER}_DEVICE.db")) as db:
        assert db.execute("SELECT account FROM olm").fetchall() == [("the device keys",)]
    assert (new / "cross_signing.json").read_text() == '{"master": "secret seed"}'
    for path in [new, *new.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) in (0o600, 0o700), path
    # The restored database opens as the bot opens it.
    store = await Store.open(new / "multilogue.db")
    await store.close()


async def test_a_restore_refuses_what_would_lose_or_corrupt_data(tmp_path: Path) -> None:
    old, other = tmp_path / "old", tmp_path / "other"
    old.mkdir()
    other.mkdir()
    await data_folder(old)
    archive = tmp_path / "saved.tar.gz"
    backup(config_for(old), archive, version="test")

    # The bot is running on the folder.
    with exclusive(other), pytest.raises(BackupError, match="the bot is running"):
        restore(config_for(other), archive)
    # Another account's backup.
    with pytest.raises(BackupError, match=re.escape(f"this backup is of {USER}")):
        restore(config_for(other, "@someone:else.org"), archive)
    # Data changed after the backup was taken.
    await data_folder(other)
    with pytest.raises(BackupError, match="changed after this backup was taken"):
        restore(config_for(other), archive)
    assert (other / "cross_signing.json").exists()  # nothing was touched
    # Overwriting with --force keeps what was there, aside.
    restore(config_for(other), archive, force=True)
    (aside,) = other.glob("replaced-*")
    assert (aside / "multilogue.db").exists()
    assert (aside / "cross_signing.json").read_text() == '{"master": "secret seed"}'
    # Not a backup at all, or none there.
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(BackupError, match="is not a backup archive"):
        restore(config_for(tmp_path / "third"), junk)
    with pytest.raises(BackupError, match="there is no backup at"):
        restore(config_for(tmp_path / "third"), tmp_path / "missing.tar.gz")
    # A backup is not written over an existing file, nor into the data folder itself.
    with pytest.raises(BackupError, match="exists already"):
        backup(config_for(old), archive, version="test")
    with pytest.raises(BackupError, match="outside the data folder"):
        backup(config_for(old), old / "inside.tar.gz", version="test")


def rewritten(archive: Path, target: Path, change: dict[str, bytes | None]) -> Path:
    """A copy of `archive` with members replaced (bytes), added, or dropped (None)."""
    with tarfile.open(archive) as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            if member.name in change:
                continue
            extracted = src.extractfile(member)
            assert extracted is not None
            dst.addfile(member, extracted)
        for name, data in change.items():
            if data is not None:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))
    return target


def manifest_of(archive: Path) -> dict[str, object]:
    with tarfile.open(archive) as tar:
        extracted = tar.extractfile("manifest.json")
        assert extracted is not None
        loaded: dict[str, object] = json.loads(extracted.read())
        return loaded


async def test_a_tampered_or_damaged_backup_changes_nothing(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    await data_folder(old)
    archive = tmp_path / "saved.tar.gz"
    backup(config_for(old), archive, version="test")
    manifest = manifest_of(archive)

    damaged = rewritten(archive, tmp_path / "damaged.tar.gz", {"cross_signing.json": b"{}"})
    escaping = dict(manifest)
    escaping["files"] = {**manifest["files"], "../../outside": {"sha256": "x"}}  # type: ignore[dict-item]
    newer = {**manifest, "schema": 9999}
    cases = {
        damaged: "damaged (its checksum does not match)",
        rewritten(
            archive, tmp_path / "escape.tar.gz", {"manifest.json": json.dumps(escaping).encode()}
        ): "holds a file it should not: '../../outside'",
        rewritten(
            archive, tmp_path / "newer.tar.gz", {"manifest.json": json.dumps(newer).encode()}
        ): "written by a newer multilogue",
        rewritten(
            archive, tmp_path / "bare.tar.gz", {"manifest.json": None}
        ): "not a multilogue backup",
    }
    for bad, expected in cases.items():
        target = tmp_path / f"target-{bad.stem}"
        with pytest.raises(BackupError, match=re.escape(expected)):
            restore(config_for(target), bad)
        assert not (target / "multilogue.db").exists(), bad
    assert not (tmp_path / "outside").exists()


async def test_the_command_line_backs_up_and_restores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old"
    old.mkdir()
    await data_folder(old)
    env = tmp_path / ".env"
    env.write_text(
        f"MATRIX_HOMESERVER=https://example.org\nMATRIX_USER_ID={USER}\n"
        f"MATRIX_PASSWORD=pw\nMULTILOGUE_DATA_DIR={old}\n"
    )
    archive = tmp_path / "cli.tar.gz"
    assert main(["backup", str(archive), "--env-file", str(env)]) == 0
    said = capsys.readouterr()
    assert f"backed up {USER} (3 files" in said.out
    assert "pw" not in said.out + said.err  # no secret is printed

    assert main(["backup", str(archive), "--env-file", str(env)]) == 1
    assert "exists already" in capsys.readouterr().err
    live_writer(old / "multilogue.db").close()  # the bot went on after the backup
    os.utime(old / "multilogue.db", (1e10, 1e10))  # (whatever the file system's time grain)
    assert main(["restore", str(archive), "--env-file", str(env)]) == 1
    assert "changed after this backup was taken" in capsys.readouterr().err
    assert main(["restore", str(archive), "--force", "--env-file", str(env)]) == 0
    assert "start the bot with `multilogue run`" in capsys.readouterr().out
