"""What every benchmark gets: the settings, the homeserver, accounts, bots and probers.

`BenchContext` owns everything it starts (bot processes, probers) and stops it in `close()`.
Benchmarks that can share a setup (the latency benchmarks share their bots and rooms) use
`shared(key, build)`, which builds once per run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from bench.maubot_peer import MAUBOT, MaubotInstall, MaubotPeer, ensure_installed
from bench.prober import BenchError, Prober, Sender
from bench.processes import (
    BotProcess,
    multilogue_process,
    raw_echo_process,
    raw_relay_process,
    read_cpu_s,
)
from bot.tooling.homeserver import LocalSynapse, RegisteredUser

T = TypeVar("T")

FLOOR = "floor"
MULTILOGUE = "multilogue"
ARMS = (FLOOR, MULTILOGUE)
PEERS = (MAUBOT,)
"""Other bots `--peers` may add to the latency benchmarks (each optional)."""


@dataclass(frozen=True)
class Settings:
    probes: int = 200  # latency samples per arm
    warmup: int = 10  # unmeasured probes per arm first
    rooms: int = 200  # rooms per bot in the restart benchmark
    rounds: int = 3  # restarts per arm
    votes: int = 1000  # voters (one vote each) in the poll of latency.poll_results
    runs: int = 50  # timed repetitions of each in-process (scale.*) measure
    movements: int = 100  # scale.compare and scale.proposal: active movements...
    objectives: int = 50  # ...and objectives
    ballots: int = 10_000  # scale.tally: poll responses...
    voters: int = 2_000  # ...from this many people
    burst: int = 500  # relay.burst: messages per burst...
    threads: int = 10  # ...over this many shared threads, one sender each
    bursts: int = 1  # bursts per arm
    messages: int = 100_000  # storage.messages: ordinary messages through the bot
    gap_s: float = 0.05  # pause between two probes
    probe_timeout_s: float = 30.0
    seed: int = 0
    quick: bool = False
    profile_dir: Path | None = None  # run the bots under cProfile
    stages_dir: Path | None = None  # run the bots under bench.stages
    peers: tuple[str, ...] = ()  # other bots measured beside multilogue (--peers maubot)


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a bot (floor or multilogue), its process and its rooms."""

    name: str
    bot_id: str
    process: BotProcess
    rooms: tuple[str, ...]


class BenchContext:
    def __init__(
        self, settings: Settings, synapse: LocalSynapse, folder: Path, admin: RegisteredUser
    ) -> None:
        self.settings = settings
        self.synapse = synapse
        self.folder = folder
        self.rng = random.Random(settings.seed)
        self._admin = admin
        self._names = itertools.count(1)
        self._processes: list[BotProcess] = []
        self._probers: list[Prober] = []
        self._senders: list[Sender] = []
        self._shared: dict[str, Any] = {}

    # -- accounts and clients --------------------------------------------------------------

    def localpart(self, prefix: str) -> str:
        """A name for a new account, unique in this run."""
        return f"{prefix}{next(self._names)}"

    async def account(self, prefix: str) -> RegisteredUser:
        """A new account whose message rate limit is lifted."""
        localpart = self.localpart(prefix)
        user = await asyncio.to_thread(self.synapse.register, localpart)
        await asyncio.to_thread(
            self.synapse.override_ratelimit,
            admin_token=self._admin.access_token,
            user_id=user.user_id,
        )
        return user

    async def prober(self, prefix: str = "person") -> Prober:
        """A new measuring client, started (stopped by `close`)."""
        account = await self.account(prefix)
        prober = Prober(self.synapse.url, account, self.folder / "probers" / account.user_id[1:])
        self._probers.append(prober)
        await prober.start()
        return prober

    async def sender(self, prefix: str = "sender") -> Sender:
        """A new person who only writes (no sync), for bursts (closed by `close`)."""
        sender = Sender(self.synapse.url, await self.account(prefix))
        self._senders.append(sender)
        return sender

    async def multilogue(
        self, name: str, *, admins: Sequence[str] = (), settings: Mapping[str, str] | None = None
    ) -> tuple[str, BotProcess]:
        """A new multilogue account and process, started; returns its user id too.

        `admins` are its bot admins (MULTILOGUE_ADMINS: they may create alliances); `settings`
        more variables of its configuration.
        """
        account = await self.account(name)
        process = multilogue_process(
            name,
            homeserver=self.synapse.url,
            server_name=self.synapse.server_name,
            account=account,
            folder=self.folder / "bots",
            profile_dir=self.settings.profile_dir,
            stages_dir=self.settings.stages_dir,
            admins=admins,
            settings=settings,
        )
        self._processes.append(process)
        await process.start()
        return account.user_id, process

    async def raw_echo(
        self, name: str, *, commands: Sequence[str] = ("!ping",)
    ) -> tuple[str, BotProcess]:
        """A new raw matrix-nio echo account and process, started; returns its user id too.

        It answers the message bodies in `commands` (see `bench/raw_echo.py`).
        """
        account = await self.account(name)
        process = raw_echo_process(
            name,
            homeserver=self.synapse.url,
            account=account,
            folder=self.folder / "bots",
            profile_dir=self.settings.profile_dir,
            stages_dir=self.settings.stages_dir,
            commands=commands,
        )
        self._processes.append(process)
        await process.start()
        return account.user_id, process

    async def raw_relay(
        self, name: str, account: RegisteredUser, threads: Sequence[Mapping[str, str]]
    ) -> BotProcess:
        """The raw matrix-nio relay loop (`bench/raw_relay.py`) as `account`, started.

        `account` must already be in the rooms of `threads` (see `raw_relay_process`).
        Returns once it has synced: from then on, what is written in the threads is copied.
        """
        process = raw_relay_process(
            name,
            homeserver=self.synapse.url,
            account=account,
            folder=self.folder / "bots",
            threads=threads,
            profile_dir=self.settings.profile_dir,
            stages_dir=self.settings.stages_dir,
        )
        self._processes.append(process)
        ready = process.log_path.parent / f"{name}-store" / "ready"
        ready.unlink(missing_ok=True)
        await process.start()
        deadline = time.monotonic() + 120
        while not ready.exists():  # its first sync done: what comes next is relayed
            self.check_bots()
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not sync within 120 s; see {process.log_path}")
            await asyncio.sleep(0.05)
        return process

    async def maubot(self, name: str) -> tuple[str, BotProcess, MaubotInstall]:
        """A new maubot (`bench/maubot_peer.py`) answering `!ping`, started and set up; returns
        its user id and what was installed (its venv is made on first use, then reused)."""
        install = await asyncio.to_thread(ensure_installed)
        account = await self.account(name)
        peer = MaubotPeer(
            name,
            install,
            self.folder / "bots" / name,
            homeserver=self.synapse.url,
            server_name=self.synapse.server_name,
        )
        self._processes.append(peer.process)
        await peer.process.start()
        await peer.set_up(account, self.check_bots)
        return account.user_id, peer.process, install

    def check_bots(self) -> None:
        """Raise BenchError if a bot process ended without being asked to."""
        for process in self._processes:
            status = process.exited_by_itself
            if status is not None:
                raise BenchError(
                    f"{process.name} exited with status {status}; see {process.log_path}"
                )

    def background_cpu_s(self) -> float:
        """CPU time used so far by the homeserver and every running bot process."""
        pids = [p.pid for p in self._processes if p.running]
        if self.synapse.pid is not None:
            pids.append(self.synapse.pid)
        total = 0.0
        for pid in pids:
            with contextlib.suppress(OSError, ValueError):
                total += read_cpu_s(pid)
        return total

    async def settle(self, *, idle_share: float = 0.05, at_most_s: float = 60.0) -> float:
        """Wait until the homeserver and the bots are idle: together less than `idle_share`
        of one core over a second (the homeserver keeps working after a busy benchmark).
        Returns how long it waited; gives up after `at_most_s`."""
        started = time.monotonic()
        while time.monotonic() - started < at_most_s:
            before = self.background_cpu_s()
            await asyncio.sleep(1.0)
            if self.background_cpu_s() - before < idle_share:
                break
        return time.monotonic() - started

    async def shared(self, key: str, build: Callable[[], Awaitable[T]]) -> T:
        """`build()` once per run; later calls with the same key get the same value."""
        if key not in self._shared:
            self._shared[key] = await build()
        return cast(T, self._shared[key])

    # -- rooms -----------------------------------------------------------------------------

    async def rooms_with(
        self,
        prober: Prober,
        bot_id: str,
        count: int,
        *,
        encrypted: bool = False,
        join_s_each: float = 1.0,
    ) -> tuple[str, ...]:
        """`count` rooms made by `prober` with `bot_id` invited, once the bot has joined all
        (within a minute and `join_s_each` a room)."""
        limit = asyncio.Semaphore(8)

        async def one(index: int) -> str:
            async with limit:
                return await prober.create_room(
                    invite=bot_id, encrypted=encrypted, name=f"bench {index}"
                )

        rooms = tuple(await asyncio.gather(*(one(i) for i in range(count))))

        def all_joined() -> bool:
            self.check_bots()
            return all(prober.joined(r, bot_id) and prober.known(r) for r in rooms)

        await prober.wait_for(
            all_joined,
            timeout_s=60 + count * join_s_each,
            what=f"{bot_id} to join {count} room(s)",
        )
        return rooms

    async def warm_up(self, prober: Prober, arm: Arm, count: int, body: str = "!ping") -> None:
        """Unmeasured probes until the bot answers; the first may wait for a slow start."""
        for index in range(max(count, 1)):
            timeout = 120.0 if index == 0 else self.settings.probe_timeout_s
            probe = await prober.probe(arm.rooms[0], body, bot_id=arm.bot_id, timeout_s=timeout)
            if probe.latency_s is None:
                self.check_bots()
                raise BenchError(
                    f"{arm.name} ({arm.bot_id}) did not answer {body} within {timeout:g} s; "
                    f"see {arm.process.log_path}"
                )

    # -- end -------------------------------------------------------------------------------

    async def close(self) -> None:
        for process in self._processes:
            await process.close()
        for prober in self._probers:
            await prober.stop()
        for sender in self._senders:
            await sender.close()
