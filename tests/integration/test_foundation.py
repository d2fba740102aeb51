"""The foundation, as a person in Element sees it: commands answered, in every kind of room."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import Bot
from bot.config import Config, InviteAllowlist
from bot.contract import LoginFailed
from bot.events import Event
from bot.ids import UserID
from bot.store import InboxItem, Store
from bot.tooling.homeserver import LocalSynapse, RegisteredUser
from tests.integration.conftest import MakeUser, RunningBot, StartBot, room_with_bot, unique
from tests.integration.matrix_user import MatrixUser
from tests.waiting import eventually

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


async def test_an_unknown_command_gets_a_hint(bot: RunningBot, make_user: MakeUser) -> None:
    alice = await make_user("alice")
    room = await room_with_bot(alice, bot.user_id)

    reply = await alice.ask(room, "!helpme", bot=bot.user_id)

    body = reply["content"]["body"]
    assert "!helpme" in body
    assert "Did you mean !help" in body


async def test_a_command_in_a_thread_is_answered_in_that_thread(
    bot: RunningBot, make_user: MakeUser
) -> None:
    alice = await make_user("alice")
    room = await room_with_bot(alice, bot.user_id)
    root = await alice.say(room, "Planning the climate camp")

    reply = await alice.ask(room, "!ping", bot=bot.user_id, thread_root=root)

    relation = reply["content"]["m.relates_to"]
    assert relation["rel_type"] == "m.thread"
    assert relation["event_id"] == root
    assert reply["content"]["body"] == "pong"


async def test_commands_work_when_the_bot_is_addressed_by_name(
    bot: RunningBot, make_user: MakeUser
) -> None:
    alice = await make_user("alice")
    room = await room_with_bot(alice, bot.user_id)
    localpart = bot.user_id[1:].split(":")[0]

    by_name = await alice.ask(room, f"{localpart}: ping", bot=bot.user_id)
    by_pill = await alice.ask(
        room,
        f"{localpart}: whoami",
        bot=bot.user_id,
        html=f'<a href="https://matrix.to/#/{bot.user_id}">{localpart}</a>: whoami',
    )

    assert by_name["content"]["body"] == "pong"
    assert by_pill["content"]["body"].startswith("Here you are")


async def test_the_creator_of_a_v12_room_holds_power_and_a_member_does_not(
    bot: RunningBot, make_user: MakeUser
) -> None:
    alice = await make_user("alice")
    bob = await make_user("bob")
    room = await room_with_bot(alice, bot.user_id, room_version="12")
    await alice.invite(room, bob.user_id)
    await bob.join(room)

    refused = await bob.ask(room, "!leave", bot=bot.user_id)
    assert "only a moderator" in refused["content"]["body"]
    assert "Sorry" in refused["content"]["body"]

    role = await alice.ask(room, "!whoami", bot=bot.user_id)
    assert "a creator of this room" in role["content"]["body"]

    goodbye = await alice.ask(room, "!leave", bot=bot.user_id)
    assert "Goodbye" in goodbye["content"]["body"]
    await alice.wait_for(
        lambda: bot.user_id not in alice.client.rooms[room].users, what="the bot to leave"
    )


async def test_an_invite_from_outside_the_allowlist_is_declined(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    running = await start_bot(
        invite_allowlist=InviteAllowlist(users=frozenset({"@someone-else:localhost"}))
    )
    mallory = await make_user("mallory")

    room = await mallory.create_room(invite=[running.user_id])

    await mallory.wait_for(
        lambda: membership_of(mallory, room, running.user_id) == "leave",
        what="the bot to decline",
    )
    assert running.user_id not in mallory.client.rooms[room].users


def membership_of(user: MatrixUser, room_id: str, member: str) -> str | None:
    found = None
    for event in user.events:
        if (
            event.get("room_id") == room_id
            and event.get("type") == "m.room.member"
            and event.get("state_key") == member
        ):
            found = event["content"].get("membership")
    return found


async def test_restart_answers_nothing_twice_and_catches_up_once(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    first = await start_bot()
    alice = await make_user("alice")
    room = await room_with_bot(alice, first.user_id)
    before = await alice.say(room, "!ping")
    await alice.reply_from(first.user_id, room, before)
    device = first.bot.matrix.device_id
    await first.stop()

    while_down = await alice.say(room, "!whoami")
    second = await start_bot()
    await alice.reply_from(second.user_id, room, while_down)
    sentinel = await alice.ask(room, "!ping", bot=second.user_id)

    assert sentinel["content"]["body"] == "pong"
    assert second.bot.matrix.device_id == device
    assert len(alice.replies_to(second.user_id, room, before)) == 1
    assert len(alice.replies_to(second.user_id, room, while_down)) == 1


async def test_commands_older_than_the_limit_are_not_answered_after_a_restart(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    first = await start_bot()
    alice = await make_user("alice")
    room = await room_with_bot(alice, first.user_id)
    await alice.ask(room, "!ping", bot=first.user_id)
    await first.stop()

    stale = await alice.say(room, "!whoami")
    sent_at = time.monotonic()
    await eventually(lambda: time.monotonic() - sent_at > 2.5, what="the command to get old")
    second = await start_bot(max_command_age_s=2)
    await alice.ask(room, "!ping", bot=second.user_id)

    assert alice.replies_to(second.user_id, room, stale) == []


async def test_the_first_start_does_not_answer_room_history(
    synapse: LocalSynapse, bot_account: RegisteredUser, start_bot: StartBot, make_user: MakeUser
) -> None:
    alice = await make_user("alice")
    room = await alice.create_room(invite=[bot_account.user_id])
    synapse.api("POST", f"/_matrix/client/v3/join/{room}", token=bot_account.access_token, body={})
    history = await alice.say(room, "!ping")

    running = await start_bot()
    await alice.ask(room, "!whoami", bot=running.user_id)

    assert alice.replies_to(running.user_id, room, history) == []


async def test_the_bot_survives_its_homeserver_going_away(tmp_path: Path) -> None:
    server = LocalSynapse(tmp_path / "synapse-outage")
    server.start()
    try:
        bot_account = server.register("outagebot")
        config = Config(
            homeserver=server.url,
            user_id=UserID(bot_account.user_id),
            password=bot_account.password,
            access_token=None,
            device_id=None,
            data_dir=tmp_path / "bot-data",
            invite_allowlist=InviteAllowlist(servers=frozenset({server.server_name})),
        )
        bot = await Bot.create(config)
        task = asyncio.create_task(bot.run())
        await asyncio.wait_for(bot.ready.wait(), timeout=60)
        alice = MatrixUser(server.url, server.register("alice"), tmp_path / "alice")
        await alice.start()
        try:
            room = await room_with_bot(alice, bot_account.user_id)
            await alice.ask(room, "!ping", bot=bot_account.user_id)

            server.stop()
            await eventually(lambda: bot.sync_failures > 0, what="the bot to notice")
            server.start()

            reply = await alice.ask(room, "!ping", bot=bot_account.user_id)
            assert reply["content"]["body"] == "pong"
            assert not task.done()
        finally:
            await alice.stop()
            bot.stop()
            await asyncio.wait_for(task, timeout=30)
    finally:
        server.stop()


async def test_more_commands_than_one_sync_holds_are_all_answered_once_after_a_restart(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    first = await start_bot()
    alice = await make_user("alice")
    room = await room_with_bot(alice, first.user_id)
    await alice.ask(room, "!ping", bot=first.user_id)
    await first.stop()

    sent = [await alice.say(room, "!ping") for _ in range(70)]
    second = await start_bot()

    await alice.wait_for(
        lambda: all(alice.replies_to(second.user_id, room, e) for e in sent),
        what="an answer to each of the 70 commands",
        timeout=90,
    )
    await alice.ask(room, "!whoami", bot=second.user_id)
    assert [len(alice.replies_to(second.user_id, room, e)) for e in sent] == [1] * 70


async def test_being_kicked_is_handled_and_other_rooms_keep_working(
    bot: RunningBot, make_user: MakeUser
) -> None:
    alice = await make_user("alice")
    kicked_from = await room_with_bot(alice, bot.user_id)
    other = await room_with_bot(alice, bot.user_id)

    response = await alice.client.room_kick(kicked_from, bot.user_id, reason="testing")
    assert not hasattr(response, "status_code"), response
    await alice.wait_for(
        lambda: membership_of(alice, kicked_from, bot.user_id) == "leave", what="the kick"
    )

    reply = await alice.ask(other, "!ping", bot=bot.user_id)
    assert reply["content"]["body"] == "pong"
    assert not bot.task.done()


async def test_a_command_whose_key_arrives_late_is_answered_when_the_key_comes(
    bot: RunningBot, make_user: MakeUser
) -> None:
    alice = await make_user("alice")
    room = await room_with_bot(alice, bot.user_id, encrypted=True)
    await alice.ask(room, "!ping", bot=bot.user_id)  # both sides know each other's devices

    late = await alice.send_before_sharing_key(room, "!whoami")
    await eventually(
        lambda: bot.bot.undecrypted_seen > 0, what="the bot to see the undecryptable command"
    )
    assert alice.replies_to(bot.user_id, room, late) == []

    await alice.share_room_key(room)
    reply = await alice.reply_from(bot.user_id, room, late)

    assert reply["decrypted"] is True
    assert reply["content"]["body"].startswith("Here you are")


async def test_a_command_typed_right_after_inviting_the_bot_is_answered(
    bot: RunningBot, make_user: MakeUser
) -> None:
    alice = await make_user("alice")
    room = await alice.create_room(invite=[bot.user_id])

    reply = await alice.ask(room, "!ping", bot=bot.user_id)

    assert reply["content"]["body"] == "pong"


async def test_a_command_left_pending_by_a_crash_is_handled_with_the_rooms_real_state(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    first = await start_bot()
    alice = await make_user("alice")
    room = await room_with_bot(alice, first.user_id)  # alice created it: unlimited power
    await alice.ask(room, "!ping", bot=first.user_id)
    await first.stop()
    pending = await alice.say(room, "!whoami")
    source = await alice.wait_for(
        lambda: next((e for e in alice.events if e.get("event_id") == pending), None),
        what="alice's own command in her sync",
    )
    # A crash right after the event was stored, before it was handled: it waits in the inbox.
    store = await Store.open(first.config.database_path)
    event = Event.from_source(room, source, encrypted=False)
    await store.admit(
        [InboxItem(event.event_id, event.room_id, event.ts, event.to_json())], resolved=[]
    )
    await store.close()

    second = await start_bot()
    reply = await alice.reply_from(second.user_id, room, pending)

    assert "a creator of this room" in reply["content"]["body"]
    await alice.ask(room, "!ping", bot=second.user_id)
    assert len(alice.replies_to(second.user_id, room, pending)) == 1


async def test_an_access_token_of_another_account_or_device_is_refused_at_start(
    synapse: LocalSynapse, bot_config: Config
) -> None:
    # A careless operator pastes someone else's token, or the bot's token with the wrong
    # device: the bot must not act as that account, nor believe the wrong device is its own.
    other = synapse.register(unique("someone"))
    own = synapse.register(unique("bot"))
    cases = [
        (
            replace(bot_config, user_id=UserID(own.user_id), access_token=other.access_token),
            f"MATRIX_ACCESS_TOKEN belongs to {other.user_id}, not to MATRIX_USER_ID",
        ),
        (
            replace(
                bot_config,
                user_id=UserID(own.user_id),
                access_token=own.access_token,
                device_id="NOTMINE",
            ),
            f"MATRIX_ACCESS_TOKEN belongs to device {own.device_id}, not to MATRIX_DEVICE_ID",
        ),
    ]
    for n, (config, refusal) in enumerate(cases):
        bot = await Bot.create(replace(config, password=None, data_dir=config.data_dir / str(n)))
        with pytest.raises(LoginFailed, match=refusal):
            await asyncio.wait_for(bot.run(), timeout=30)
