"""An optional peer arm: maubot 0.6 (a plugin-based Matrix bot system) answering `!ping`.

    python -m bench --only latency.ping --peers maubot

maubot pins its own mautrix and aiohttp, so it never goes into the project's venv: it is
installed into a venv of its own, `~/.cache/multilogue-bench/maubot-0.6` (under
`$XDG_CACHE_HOME` when that is set), made on first use with
`pip install 'maubot[encryption]==0.6.*'` and reused afterwards (its `ready.json` says the
install is complete and which versions it holds; a venv without it is made again). If the
encryption extras (python-olm) do not install, plain `maubot==0.6.*` is installed, maubot runs
without encryption, and the table says so.

One peer is set up as an operator sets up maubot:

- a `config.yaml` (written as JSON, which YAML reads; maubot rewrites it on start, hashing the
  admin's password) with its own SQLite database, the management server on a free port of
  127.0.0.1, a homeserver entry for the bench's Synapse, one admin user with a random
  password, and logging at INFO into its log file (maubot's example config logs at DEBUG);
- `python -m maubot -c config.yaml` from that venv, in a process of its own;
- through the management API (`/_matrix/maubot/v1`): log in as the admin, add a client for a
  bot account the harness registered (its access token and device id: with encryption on it
  is a device of its own, as for the other bots), upload the ping plugin (a .mbp) and make an
  instance of it on that client.

The plugin is what a maubot user writes for `!ping`: a `@command.new("ping")` handler that
calls `evt.reply("pong")` (an `m.notice` reply, its text rendered as markdown), packaged as a
.mbp: a zip of `maubot.yaml` and the module.

maubot ignores the first sync after each start (`ignore_first_sync`): a command sent while it
was stopped is never answered (the raw echo and multilogue catch up on them).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.prober import BenchError
from bench.processes import BotProcess, private_file
from bot.tooling.homeserver import RegisteredUser, free_port

log = logging.getLogger(__name__)

MAUBOT = "maubot"
VERSION = "0.6"
REQUIREMENTS = (f"maubot[encryption]=={VERSION}.*", f"maubot=={VERSION}.*")
"""What is installed: with the encryption extras, or (if they do not install) without."""
INSTALL_TIMEOUT_S = 900
API = "/_matrix/maubot/v1"
ADMIN = "bench"
PLUGIN_ID = "org.multilogue.bench.ping"
INSTANCE_ID = "benchping"
START_TIMEOUT_S = 120.0

PING_MODULE = '''\
"""!ping -> pong, as a maubot user writes it."""

from maubot import MessageEvent, Plugin
from maubot.handlers import command


class PingBot(Plugin):
    @command.new("ping")
    async def ping(self, evt: MessageEvent) -> None:
        await evt.reply("pong")
'''

PLUGIN_META: dict[str, Any] = {
    "maubot": "0.1.0",
    "id": PLUGIN_ID,
    "version": "1.0.0",
    "license": "MIT",
    "modules": ["benchping"],
    "main_class": "PingBot",
    "database": False,
}

# Run inside maubot's venv: the versions installed, and whether encryption can work.
_PROBE = """
import json
from importlib import metadata
found = {}
for name in ("maubot", "mautrix", "aiohttp", "python-olm"):
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
try:
    from mautrix.crypto import OlmMachine  # noqa: F401
    encryption = True
except ImportError:
    encryption = False
print(json.dumps({"versions": found, "encryption": encryption}))
"""


@dataclass(frozen=True)
class MaubotInstall:
    venv: Path
    versions: dict[str, str]  # maubot, mautrix, aiohttp (and python-olm with encryption)
    encryption: bool  # python-olm installed: maubot runs with encryption on

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def describe(self) -> str:
        v = self.versions
        parts = [f"mautrix {v.get('mautrix', '?')}", f"aiohttp {v.get('aiohttp', '?')}"]
        if "python-olm" in v:
            parts.append(f"python-olm {v['python-olm']}")
        return f"maubot {v.get('maubot', '?')} ({', '.join(parts)})"


def cache_dir() -> Path:
    """Where maubot's venv is kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "multilogue-bench" / f"maubot-{VERSION}"


def _probe(python: Path) -> dict[str, Any] | None:
    try:
        done = subprocess.run(
            [str(python), "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
        )
        found: dict[str, Any] = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return found if "maubot" in found.get("versions", {}) else None


def ensure_installed(venv: Path | None = None) -> MaubotInstall:
    """maubot 0.6 in a venv of its own: the one already there, or a new one (slow: a minute).

    Blocking: call it in a thread."""
    venv = venv or cache_dir()
    marker = venv / "ready.json"
    python = venv / "bin" / "python"
    if marker.exists():
        found = _probe(python)
        if found is not None:
            return MaubotInstall(venv, found["versions"], bool(found["encryption"]))
        log.warning("the maubot venv in %s does not work: making it again", venv)
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    log.info("installing maubot %s into %s (once; reused by later runs)", VERSION, venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    install_log = venv / "install.log"
    for requirement in REQUIREMENTS:
        with install_log.open("ab") as out:
            done = subprocess.run(
                [str(python), "-m", "pip", "install", "--disable-pip-version-check", requirement],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        if done.returncode == 0:
            break
        log.warning("pip install %r failed; see %s", requirement, install_log)
    found = _probe(python)
    if found is None:
        raise BenchError(f"maubot {VERSION} did not install into {venv}; see {install_log}")
    marker.write_text(json.dumps(found, indent=2) + "\n")
    return MaubotInstall(venv, found["versions"], bool(found["encryption"]))


def plugin_archive() -> bytes:
    """The ping plugin as a .mbp: a zip of maubot.yaml (JSON is YAML) and its module."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("maubot.yaml", json.dumps(PLUGIN_META, indent=2) + "\n")
        archive.writestr("benchping.py", PING_MODULE)
    return buffer.getvalue()


def maubot_config(
    folder: Path, *, homeserver: str, server_name: str, port: int, password: str
) -> dict[str, Any]:
    """maubot's config (see its example-config.yaml); paths in `folder`."""
    plugins = str(folder / "plugins")
    return {
        "database": f"sqlite:{folder / 'maubot.db'}",
        "crypto_database": "default",
        "plugin_directories": {"upload": plugins, "load": [plugins], "trash": "delete"},
        "plugin_databases": {"sqlite": plugins, "postgres": None},
        "server": {
            "hostname": "127.0.0.1",
            "port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "unshared_secret": "generate",
        },
        # Registering accounts through maubot is not needed (the harness registers them).
        "homeservers": {server_name: {"url": homeserver, "secret": None}},
        "admins": {"root": "", ADMIN: password},
        "logging": {
            "version": 1,
            "formatters": {
                "normal": {"format": "[%(asctime)s] [%(levelname)s@%(name)s] %(message)s"}
            },
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "normal"}},
            "loggers": {
                "maubot": {"level": "INFO"},
                "mau": {"level": "INFO"},
                "aiohttp": {"level": "WARNING"},
            },
            "root": {"level": "INFO", "handlers": ["console"]},
        },
    }


@dataclass
class MaubotPeer:
    """One maubot process with its config, database and log in `folder`."""

    name: str
    install: MaubotInstall
    folder: Path
    homeserver: str
    server_name: str
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    process: BotProcess = field(init=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "plugins").mkdir(exist_ok=True)
        config = maubot_config(
            self.folder,
            homeserver=self.homeserver,
            server_name=self.server_name,
            port=self.port,
            password=self.password,
        )
        path = private_file(self.folder / "config.yaml", json.dumps(config, indent=2) + "\n")
        self.process = BotProcess(
            self.name,
            ["maubot", "-c", str(path)],
            folder=self.folder,
            python=self.install.python,
        )

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    async def wait_for_api(self, check: Callable[[], None]) -> None:
        """Until the management server answers (maubot starts it last)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        async with aiohttp.ClientSession() as session:
            while True:
                check()
                try:
                    async with session.get(f"{self.api}/features") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"maubot's API did not answer within {START_TIMEOUT_S:g} s; "
                        f"see {self.process.log_path}"
                    )
                await asyncio.sleep(0.1)

    async def set_up(self, account: RegisteredUser, check: Callable[[], None]) -> None:
        """Through the management API: a client for `account` and an instance of the ping
        plugin on it. maubot keeps both in its database: a restart brings them back."""
        await self.wait_for_api(check)
        async with aiohttp.ClientSession(raise_for_status=False) as session:
            login = await _call(
                session,
                "POST",
                f"{self.api}/auth/login",
                body={"username": ADMIN, "password": self.password},
            )
            headers = {"Authorization": f"Bearer {login['token']}"}
            await _call(
                session,
                "PUT",
                f"{self.api}/client/{account.user_id}",
                headers=headers,
                body={
                    "homeserver": self.homeserver,
                    "access_token": account.access_token,
                    "device_id": account.device_id,
                    "enabled": True,
                    "sync": True,
                    "autojoin": True,
                    "displayname": "disable",
                    "avatar_url": "disable",
                },
            )
            await _call(
                session,
                "POST",
                f"{self.api}/plugins/upload",
                headers={**headers, "Content-Type": "application/zip"},
                data=plugin_archive(),
            )
            await _call(
                session,
                "PUT",
                f"{self.api}/instance/{INSTANCE_ID}",
                headers=headers,
                body={"type": PLUGIN_ID, "primary_user": account.user_id, "enabled": True},
            )


async def _call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    data: bytes | None = None,
) -> dict[str, Any]:
    async with session.request(method, url, headers=headers, json=body, data=data) as response:
        text = await response.text()
        if response.status >= 300:
            path = url.split(API, 1)[-1]
            raise BenchError(f"maubot's API refused {method} {path}: {response.status} {text}")
        try:
            found = await response.json(content_type=None)
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {"value": found}
