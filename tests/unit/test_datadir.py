"""The data folder is private to the bot's user at every start, whatever made it first."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from bot.datadir import exclusive, make_private
from bot.runner import run_bot
from tests.unit.fakes import make_config


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def keep_umask() -> object:
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


def test_a_folder_left_open_by_docker_or_systemd_is_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    (data / "crypto").mkdir(parents=True)
    for folder in (data, data / "crypto"):
        folder.chmod(0o755)
    for file in (data / "multilogue.db", data / "crypto" / "bot.db", data / "cross_signing.json"):
        file.write_text("secret")
        file.chmod(0o644)

    with caplog.at_level(logging.WARNING):
        assert make_private(data) == 5
    assert mode(data) == 0o700
    assert mode(data / "crypto") == 0o700
    assert mode(data / "multilogue.db") == 0o600
    assert mode(data / "cross_signing.json") == 0o600
    assert "Made the data folder" in caplog.text
    assert "secret" not in caplog.text

    # Files made afterwards are private too; a second start has nothing to fix, says nothing.
    (data / "multilogue.db-wal").write_text("later")
    assert mode(data / "multilogue.db-wal") == 0o600
    caplog.clear()
    assert make_private(data) == 0
    assert caplog.text == ""


def test_a_new_folder_is_made_private(tmp_path: Path) -> None:
    data = tmp_path / "a" / "b"
    assert make_private(data) == 0
    assert mode(data) == 0o700


async def test_a_second_bot_on_the_same_data_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(tmp_path / "data")
    (tmp_path / "data").mkdir()
    with exclusive(tmp_path / "data"):  # the first bot, running
        assert await run_bot(config) == 1
    assert "another multilogue is running with the data folder" in capsys.readouterr().err
    with exclusive(tmp_path / "data"):  # held again once the first one stopped
        pass
