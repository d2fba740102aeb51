"""Fixtures for integration tests: one real Synapse per test session, users, and the bot.

The bot runs in the test's own event loop as a task, with its data in a temporary folder,
exactly as `multilogue run` would run it (same Bot class, same configuration type).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bot.app import Bot
from bot.config import Config, InviteAllowlist
from bot.ids import UserID
from bot.tooling.homeserver import LocalSynapse, RegisteredUser
from tests.integration.matrix_user import MatrixUser

_names = itertools.count(1)


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    server = LocalSynapse(tmp_path_factory.mktemp("synapse"))
    server.start()
    yield server
    server.stop()


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


@dataclass
class RunningBot:
    bot: Bot
    task: asyncio.Task[None]
    config: Config

    @property
    def user_id(self) -> str:
        return self.config.user_id

    async def stop(self) -> None:
        self.bot.stop()
        await asyncio.wait_for(self.task, timeout=30)


@pytest.fixture
def bot_account(synapse: LocalSynapse) -> RegisteredUser:
    return synapse.register(unique("bot"))


@pytest.fixture
def bot_config(synapse: LocalSynapse, bot_account: RegisteredUser, tmp_path: Path) -> Config:
    return Config(
        homeserver=synapse.url,
        user_id=UserID(bot_account.user_id),
        password=bot_account.password,
        access_token=None,
        device_id=None,
        data_dir=tmp_path / "bot-data",
        invite_allowlist=InviteAllowlist(servers=frozenset({synapse.server_name})),
    )


StartBot = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def start_bot(bot_config: Config) -> AsyncIterator[StartBot]:
    """Start the bot (again) with the test's configuration; stopped at the end of the test."""
    running: list[RunningBot] = []

    async def start(**changes: Any) -> RunningBot:
        config = replace(bot_config, **changes)
        bot = await Bot.create(config)
        task = asyncio.create_task(bot.run())
        ready = asyncio.ensure_future(bot.ready.wait())
        await asyncio.wait({task, ready}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            task.result()  # raises what went wrong
            raise AssertionError("the bot stopped right after starting")
        if not ready.done():
            ready.cancel()
            raise AssertionError("the bot did not finish its first sync within 60 s")
        handle = RunningBot(bot, task, config)
        running.append(handle)
        return handle

    yield start
    for handle in running:
        if not handle.task.done():
            await handle.stop()


@pytest.fixture
async def bot(start_bot: StartBot) -> RunningBot:
    return await start_bot()


MakeUser = Callable[..., Awaitable[MatrixUser]]


@pytest.fixture
async def make_user(synapse: LocalSynapse, tmp_path: Path) -> AsyncIterator[MakeUser]:
    users: list[MatrixUser] = []

    async def make(localpart: str | None = None) -> MatrixUser:
        account = synapse.register(unique(localpart or "user"))
        user = MatrixUser(synapse.url, account, tmp_path / f"store-{account.user_id[1:]}")
        await user.start()
        users.append(user)
        return user

    yield make
    for user in users:
        await user.stop()


def bot_has_joined(user: MatrixUser, room_id: str, bot_id: str) -> bool:
    room = user.client.rooms[room_id]
    return bot_id in room.users and bot_id not in room.invited_users


async def join_room(host: MatrixUser, room: str, *guests: MatrixUser) -> None:
    """`host` invites each guest, who joins; returns once `host` sees them all in the room."""
    for guest in guests:
        await host.invite(room, guest.user_id)
        await guest.join(room)
    for guest in guests:
        await host.wait_for(
            lambda g=guest: g.user_id in host.client.rooms[room].users,  # type: ignore[misc]
            what=f"{guest.user_id} to join",
        )


async def room_with_bot(user: MatrixUser, bot_id: str, **kwargs: Any) -> str:
    """A room created by `user` with the bot invited, once the bot has joined."""
    room_id = await user.create_room(invite=[bot_id], **kwargs)
    await user.wait_for(lambda: has_joined(user, room_id, bot_id), what="the bot to join")
    return room_id


def has_joined(user: MatrixUser, room_id: str, member: str) -> bool:
    """Whether `user` has seen `member` join the room. (nio's `MatrixRoom.users` holds invited
    people too: a message sent before the join is history the bot never answers, which a
    join over federation made likely.)"""
    room = user.client.rooms.get(room_id)
    return room is not None and member in room.users and member not in room.invited_users


logging.getLogger("nio").setLevel(logging.WARNING)
logging.getLogger("aiosqlite").setLevel(logging.WARNING)
