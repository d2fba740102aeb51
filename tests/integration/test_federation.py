"""Movements are sovereign and run their own homeservers: an alliance across two Synapses.

Two federated Synapses on loopback (`LocalSynapse(federation=True)`: each named
`localhost:<federation port>`, serving federation over TLS with a self-signed certificate).
The bot and the commons live on server A; a movement lives on server B, its moderator a user of
B, its room created on B. It joins the alliance, is asked a proposal in its own room, decides it
by its own poll, and the outcome reaches both servers. Every wait is bounded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Config, InviteAllowlist
from bot.ids import UserID
from bot.tooling.homeserver import LocalSynapse
from tests.integration.conftest import RunningBot, StartBot, room_with_bot, unique
from tests.integration.matrix_user import MatrixUser
from tests.integration.test_council import (
    Council,
    asked_everywhere,
    decide,
    passed,
    wait_outcome,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalSynapse, LocalSynapse]]:
    """Server A (the bot's and the commons') and server B (a movement's), federated."""
    a = LocalSynapse(tmp_path_factory.mktemp("synapse-a"), federation=True)
    b = LocalSynapse(tmp_path_factory.mktemp("synapse-b"), federation=True)
    a.start()
    try:
        b.start()
        yield a, b
    finally:
        b.stop()
        a.stop()


@pytest.fixture
async def people(
    two_servers: tuple[LocalSynapse, LocalSynapse], tmp_path: Path
) -> AsyncIterator[list[MatrixUser]]:
    """Ada on server A, Bea on server B (started; stopped at the end)."""
    a, b = two_servers
    users = []
    for server, name in ((a, "ada"), (b, "bea")):
        account = server.register(unique(name))
        user = MatrixUser(server.url, account, tmp_path / f"store-{name}")
        await user.start()
        users.append(user)
    yield users
    for user in users:
        await user.stop()


async def test_a_movement_on_another_homeserver_joins_and_decides_a_proposal(
    two_servers: tuple[LocalSynapse, LocalSynapse],
    people: list[MatrixUser],
    start_bot: StartBot,
    bot_config: Config,
) -> None:
    a, b = two_servers
    assert a.server_name != b.server_name
    account = a.register(unique("bot"))
    bot: RunningBot = await start_bot(
        homeserver=a.url,
        user_id=UserID(account.user_id),
        password=account.password,
        data_dir=bot_config.data_dir.parent / "federated-bot",
        invite_allowlist=InviteAllowlist(servers=frozenset({a.server_name, b.server_name})),
    )
    ada, bea = people
    assert bea.user_id.endswith(f":{b.server_name}")

    commons = await room_with_bot(ada, bot.user_id, name="Earth commons")
    created = await ada.ask(commons, "!alliance create Earth Alliance", bot=bot.user_id)
    assert "is started" in created["content"]["body"]
    # A room on server B, its moderator on B: the bot (on A) joins it over federation.
    far = await room_with_bot(bea, bot.user_id, name="Far Camp room")
    asked = await bea.ask(far, "!movement join earth-alliance as Far Camp", bot=bot.user_id)
    assert "Asked to join Earth Alliance" in asked["content"]["body"]
    approved = await ada.ask(commons, "!movement approve Far Camp", bot=bot.user_id)
    assert "Far Camp is now a member of Earth Alliance" in approved["content"]["body"]

    council = Council(ada, commons, {"Far Camp": bea}, {"Far Camp": far})
    opened = await ada.ask(commons, "!proposal We share one legal team", bot=bot.user_id)
    assert "Proposal 1 of Earth Alliance is open" in opened["content"]["body"]
    polls = await asked_everywhere(council, bot.user_id)
    await decide(council, bot.user_id, "Far Camp", polls["Far Camp"], "agree")
    assert passed(await wait_outcome(ada, bot.user_id, commons, 1))
    assert passed(await wait_outcome(bea, bot.user_id, far, 1))
