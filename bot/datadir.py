"""The data folder: private to the bot's user, whatever made it first.

It holds the bot's access token, its encryption keys and the alliances' record. A Docker
volume or a systemd `StateDirectory` is often created readable by everyone (0755), so at
every start the folder and every folder in it are made 0700 and every file 0600, and files
the bot creates later are private too (umask 077).
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
LOCK_NAME = ".lock"


class FolderInUse(Exception):
    """Another process (a running bot, a restore) holds the data folder."""


@contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """Hold `folder` for this process while the block runs: a second bot on the same data, or a
    restore under a running bot, is refused (`FolderInUse`) instead of corrupting it. The hold
    is an advisory lock on `folder/.lock`, released when the block ends or the process dies."""
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise FolderInUse(str(folder)) from None
    try:
        yield
    finally:
        os.close(fd)


def make_private(folder: Path) -> int:
    """Create `folder` if needed and make it and everything in it private to this user.
    Returns how many modes had to be changed (and logs it when any did)."""
    os.umask(0o077)
    folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    fixed = _chmod(folder, FOLDER_MODE)
    for root, folders, files in os.walk(folder):
        for name in folders:
            fixed += _chmod(Path(root, name), FOLDER_MODE)
        for name in files:
            fixed += _chmod(Path(root, name), FILE_MODE)
    if fixed:
        log.warning(
            "Made the data folder %s private to the bot's user (%d permissions were wider)",
            folder.absolute(),
            fixed,
        )
    return fixed


def _chmod(path: Path, mode: int) -> int:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or stat.S_IMODE(info.st_mode) == mode:
        return 0
    path.chmod(mode)
    return 1
