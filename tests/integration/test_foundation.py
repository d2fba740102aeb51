"""The foundation, as a person in Element sees it: commands answered, in every kind of room."""

from __future__ import annotations

import pytest

from tests.integration.conftest import MakeUser, RunningBot, room_with_bot

pytestmark = pytest.mark.integration


async def test_help_is_answered_in_a_plain_room(bot: RunningBot, make_user: MakeUser) -> None:
    alice = await make_user("alice")
    room = await room_with_bot(alice, bot.user_id)

    reply = await alice.ask(room, "!help", bot=bot.user_id)

    content = reply["content"]
    assert content["msgtype"] == "m.notice"
    assert content["m.mentions"] == {}
    assert "!help" in content["body"]
    assert "<code>!help" in content["formatted_body"]
    assert reply["decrypted"] is False


async def test_help_is_answered_in_an_encrypted_room(bot: RunningBot, make_user: MakeUser) -> None:
    alice = await make_user("alice")
    room = await room_with_bot(alice, bot.user_id, encrypted=True)

    reply = await alice.ask(room, "!help", bot=bot.user_id)

    assert reply["decrypted"] is True
    assert reply["content"]["msgtype"] == "m.notice"
    assert "!help" in reply["content"]["body"]
