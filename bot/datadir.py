"""The data folder: private to the bot's user, whatever made it first.

It holds the bot's access token, its encryption keys and the alliances' record. A Docker
volume or a systemd `StateDirectory` is often created readable by everyone (0755), so at
every start the folder and every folder in it are made 0700 and every file 0600, and files
the bot creates later are private too (umask 077).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600


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
