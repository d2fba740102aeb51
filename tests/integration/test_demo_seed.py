"""The demo's example alliance is set up through the bot's own commands, and works."""

from __future__ import annotations

import asyncio

import pytest

from bot.ids import UserID
from bot.tooling.demo_seed import MOVEMENTS, OBJECTIVES, PROPOSAL, seed_alliance
from bot.tooling.homeserver import LocalSynapse
from tests.integration.conftest import MakeUser, StartBot

pytestmark = pytest.mark.integration


async def test_the_example_alliance_is_seeded_with_three_movements_and_eight_objectives(
    synapse: LocalSynapse, start_bot: StartBot, make_user: MakeUser
) -> None:
    demo = await make_user("demo")
    running = await start_bot(admins=frozenset({UserID(demo.user_id)}))

    seeded = await asyncio.to_thread(
        seed_alliance, synapse, token=demo.account.access_token, bot_id=running.user_id
    )

    assert sorted(seeded.movements) == sorted(MOVEMENTS)
    await demo.wait_for(lambda: seeded.commons in demo.client.rooms, what="the commons")
    listing = await demo.ask(seeded.commons, "!objectives", bot=running.user_id)
    body = listing["content"]["body"]
    for number, text in enumerate(OBJECTIVES, start=1):
        assert f"#{number} {text}" in body
    movements = await demo.ask(seeded.commons, "!movements", bot=running.user_id)
    for name in MOVEMENTS:
        assert name in movements["content"]["body"]
    proposal = await demo.ask(seeded.commons, "!proposal 1", bot=running.user_id)
    assert PROPOSAL in proposal["content"]["body"]
    for name in MOVEMENTS:
        assert f"{name}: " in proposal["content"]["body"]
