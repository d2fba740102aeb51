"""The bots under test, each in a process of its own.

- multilogue runs exactly as an operator runs it: `python -m bot run --env-file FILE`
  (the real `Bot` from `bot/app.py`, encryption on), with a generated env file.
- the floor runs as `python -m bench.raw_echo CONFIG.json` (answering commands), or as
  `python -m bench.raw_relay CONFIG.json` (relaying threads, for relay.burst).

With a profile folder, either runs under cProfile and leaves `NAME-N.prof` there when it
stops (cProfile slows the process down: use profiles to see where time goes, not for ratios).
With a stages folder, either runs under `bench.stages` and leaves `NAME-N.json` there.
Secrets go into files readable only by this user, never onto command lines.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.tooling.homeserver import RegisteredUser

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Memory:
    rss_mb: float  # VmRSS: resident now
    peak_mb: float  # VmHWM: the most it was resident


def read_memory(pid: int) -> Memory:
    """Resident memory of a live process, from /proc/PID/status (Linux)."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # kB -> MB
    return Memory(rss_mb=fields.get("VmRSS", float("nan")), peak_mb=fields.get("VmHWM", 0.0))


def read_cpu_s(pid: int) -> float:
    """CPU time (user + system, all threads) a live process has used, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _child_env(*, repo_on_path: bool = True) -> dict[str, str]:
    """Our environment without the bot's own variables (they would override the env file)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MATRIX_", "MULTILOGUE_"))
    }
    if repo_on_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def private_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(text)
    return path


class BotProcess:
    """One bot process that can be started, stopped and started again.

    It runs `python -m MODULE_ARGS...` with this interpreter, or with `python` (another venv's
    interpreter, for a peer such as maubot: then without this repository on its path).
    """

    def __init__(
        self,
        name: str,
        module_args: list[str],
        *,
        folder: Path,
        profile_dir: Path | None = None,
        stages_dir: Path | None = None,
        python: Path | None = None,
    ) -> None:
        self.name = name
        self._python = python
        self._module_args = module_args
        self._folder = folder
        self._profile_dir = profile_dir
        self._stages_dir = stages_dir
        self._starts = itertools.count(1)
        self._proc: asyncio.subprocess.Process | None = None
        self.log_path = folder / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in close()

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def exited_by_itself(self) -> int | None:
        """The exit status if the process ended without being stopped, else None."""
        return self._proc.returncode if self._proc is not None else None

    async def start(self) -> None:
        if self.running:
            return
        argv = [str(self._python or sys.executable)]
        start = next(self._starts)
        if self._profile_dir is not None:
            self._profile_dir.mkdir(parents=True, exist_ok=True)
            profile = self._profile_dir / f"{self.name}-{start}.prof"
            argv += ["-m", "cProfile", "-o", str(profile)]
        argv += ["-m"]
        if self._stages_dir is not None:
            self._stages_dir.mkdir(parents=True, exist_ok=True)
            argv += ["bench.stages", str(self._stages_dir / f"{self.name}-{start}.json")]
        argv += self._module_args
        self._proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=self._folder,
            env=_child_env(repo_on_path=self._python is None),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def stop(self) -> int:
        """Stop with SIGTERM (the clean way for both bots); return the exit status."""
        proc, self._proc = self._proc, None
        if proc is None:
            return 0
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("%s ignored SIGTERM for %g s; killing it", self.name, STOP_TIMEOUT_S)
                proc.kill()
                await proc.wait()
        code = proc.returncode
        if code != 0:
            log.warning("%s exited with status %s; see %s", self.name, code, self.log_path)
        return code if code is not None else -1

    def memory(self) -> Memory:
        return read_memory(self.pid)

    def cpu_s(self) -> float:
        return read_cpu_s(self.pid)

    async def close(self) -> None:
        await self.stop()
        self._log.close()


def multilogue_process(
    name: str,
    *,
    homeserver: str,
    server_name: str,
    account: RegisteredUser,
    folder: Path,
    profile_dir: Path | None = None,
    stages_dir: Path | None = None,
    admins: Sequence[str] = (),
    settings: Mapping[str, str] | None = None,
) -> BotProcess:
    """multilogue as `multilogue run --env-file`, with encryption on and its data in `folder`.

    `admins` become its bot admins (MULTILOGUE_ADMINS), who may create alliances; `settings`
    are more variables of its env file (`MULTILOGUE_MAX_ROOMS`, say).
    """
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"MATRIX_HOMESERVER={homeserver}",
        f"MATRIX_USER_ID={account.user_id}",
        f"MATRIX_PASSWORD={account.password}",
        f"MULTILOGUE_DATA_DIR={folder / (name + '-data')}",
        f"MULTILOGUE_INVITE_ALLOWLIST={server_name}",
        "MULTILOGUE_ENCRYPTION=true",
    ]
    if admins:
        lines.append(f"MULTILOGUE_ADMINS={','.join(admins)}")
    lines += [f"{key}={value}" for key, value in (settings or {}).items()]
    env_file = private_file(folder / f"{name}.env", "\n".join([*lines, ""]))
    return BotProcess(
        name,
        ["bot", "run", "--env-file", str(env_file)],
        folder=folder,
        profile_dir=profile_dir,
        stages_dir=stages_dir,
    )


def raw_echo_process(
    name: str,
    *,
    homeserver: str,
    account: RegisteredUser,
    folder: Path,
    profile_dir: Path | None = None,
    stages_dir: Path | None = None,
    encryption: bool = True,
    commands: Sequence[str] = ("!ping",),
) -> BotProcess:
    """The floor: `python -m bench.raw_echo`, its nio store and sync token in `folder`.

    It answers each message whose whole body is one of `commands`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "homeserver": homeserver,
        "user_id": account.user_id,
        "device_id": account.device_id,
        "access_token": account.access_token,
        "store_dir": str(folder / f"{name}-store"),
        "token_file": str(folder / f"{name}-store" / "next_batch"),
        "encryption": encryption,
        "commands": list(commands),
    }
    config_file = private_file(folder / f"{name}.json", json.dumps(config, indent=2))
    return BotProcess(
        name,
        ["bench.raw_echo", str(config_file)],
        folder=folder,
        profile_dir=profile_dir,
        stages_dir=stages_dir,
    )


def raw_relay_process(
    name: str,
    *,
    homeserver: str,
    account: RegisteredUser,
    folder: Path,
    threads: Sequence[Mapping[str, str]],
    profile_dir: Path | None = None,
    stages_dir: Path | None = None,
    encryption: bool = True,
) -> BotProcess:
    """The floor of relay.burst: `python -m bench.raw_relay`, its nio store in `folder`.

    `threads` are the threads it copies: each `room_id` and `root` of a thread in a movement
    room, and the `commons_room_id` and `commons_root` of the thread it is copied into. It
    creates `folder/NAME-store/ready` once it has synced (see `wait_until_ready`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "homeserver": homeserver,
        "user_id": account.user_id,
        "device_id": account.device_id,
        "access_token": account.access_token,
        "store_dir": str(folder / f"{name}-store"),
        "encryption": encryption,
        "ready_file": str(folder / f"{name}-store" / "ready"),
        "threads": [dict(thread) for thread in threads],
    }
    config_file = private_file(folder / f"{name}.json", json.dumps(config, indent=2))
    return BotProcess(
        name,
        ["bench.raw_relay", str(config_file)],
        folder=folder,
        profile_dir=profile_dir,
        stages_dir=stages_dir,
    )
