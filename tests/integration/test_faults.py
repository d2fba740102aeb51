"""A failing homeserver and a flaky network, played by a proxy between the bot and Synapse.

Each test breaks chosen requests (an error answer, an error after Synapse did the work, a
dropped connection) and then checks what the people in the room see: every answer, copy and
poll end arrives, exactly once, and the bot keeps running. Each test also checks that its
faults really happened, so it cannot pass for nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.contract import LoginFailed
from bot.tooling.homeserver import LocalSynapse
from tests.integration.conftest import (
    MakeUser,
    RunningBot,
    StartBot,
    bot_has_joined,
    join_room,
    room_with_bot,
    unique,
)
from tests.integration.fault_proxy import Fault, FaultProxy, Rule
from tests.integration.matrix_user import MatrixUser
from tests.integration.test_alliance import body
from tests.integration.test_polls import END, start_poll
from tests.integration.test_relay import (
    copied_to,
    copy_with,
    handled,
    make_world,
    share_thread,
)
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def proxy(synapse: LocalSynapse) -> AsyncIterator[FaultProxy]:
    between = FaultProxy(synapse.url)
    await between.start()
    yield between
    await between.stop()


@pytest.fixture
def bot_log() -> Iterator[list[str]]:
    """The bot's log lines during the test (its own handler: the bot runs in tasks)."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Keep(logging.INFO)
    logging.getLogger("bot").addHandler(handler)
    yield lines
    logging.getLogger("bot").removeHandler(handler)


def sends_into(room: str, event_type: str = "m.room.message") -> str:
    return rf"/rooms/{re.escape(room)}/send/{re.escape(event_type)}/"


def answers_to(user: MatrixUser, bot_id: str, room: str, event_id: str) -> list[dict[str, Any]]:
    return user.replies_to(bot_id, room, event_id)


async def settled(user: MatrixUser, bot_id: str, room: str) -> None:
    """Once this `!ping` is answered, everything the bot did in the room before is done (a
    room's work is handled in order), so nothing more of it can still arrive."""
    await user.ask(room, "!ping", bot=bot_id)


async def bot_and_room(
    start_bot: StartBot, make_user: MakeUser, proxy: FaultProxy, *, encrypted: bool = False
) -> tuple[RunningBot, MatrixUser, str]:
    """The bot, talking to Synapse through the proxy; Alice; a room of hers with the bot."""
    bot = await start_bot(homeserver=proxy.url)
    alice = await make_user("alice")
    room = await room_with_bot(alice, bot.user_id, name="Camp", encrypted=encrypted)
    return bot, alice, room


def all_hit(*rules: Rule) -> None:
    for rule in rules:
        assert rule.hits == rule.times, f"the fault on {rule.path.pattern} happened {rule.hits} x"


async def test_answers_and_poll_ends_survive_server_errors_exactly_once(
    start_bot: StartBot, make_user: MakeUser, proxy: FaultProxy
) -> None:
    bot, alice, room = await bot_and_room(start_bot, make_user, proxy)

    # Synapse makes the answer, but the bot hears 500; then a proxy's 502; then no answer.
    faults = [
        proxy.fail("PUT", sends_into(room), Fault.error(500, "M_UNKNOWN", after_synapse=True)),
        proxy.fail("PUT", sends_into(room), Fault.error(502)),
        proxy.fail("PUT", sends_into(room), Fault.drop(after_synapse=True)),
        proxy.fail("PUT", sends_into(room), Fault.rate_limited(300)),
    ]
    asked = await alice.say(room, "!ping")
    await alice.reply_from(bot.user_id, room, asked)
    await settled(alice, bot.user_id, room)
    all_hit(*faults)
    assert len(answers_to(alice, bot.user_id, room, asked)) == 1

    # A poll's end event fails twice (once after Synapse made it) and still ends the poll once.
    poll = await start_poll(alice, bot.user_id, room, "!poll Where do we meet?\nPark\nLibrary")
    end_faults = [
        proxy.fail("PUT", sends_into(room, END), Fault.error(500, "M_UNKNOWN", after_synapse=True)),
        proxy.fail("PUT", sends_into(room, END), Fault.error(503)),
    ]
    closed = await alice.ask(room, "!poll close 1", bot=bot.user_id)
    assert "closed" in body(closed).lower()
    await alice.wait_for(
        lambda: [e for e in alice.events if e.get("type") == END and e.get("room_id") == room],
        what="the poll's end event",
    )
    await settled(alice, bot.user_id, room)
    all_hit(*end_faults)
    ends = [e for e in alice.events if e.get("type") == END and e.get("room_id") == room]
    assert len(ends) == 1
    assert ends[0]["content"]["m.relates_to"]["event_id"] == poll
    assert not bot.task.done()


async def test_a_relayed_copy_survives_server_errors_exactly_once(
    start_bot: StartBot, make_user: MakeUser, proxy: FaultProxy
) -> None:
    bot = await start_bot(homeserver=proxy.url)
    world = await make_world(bot, make_user)
    root, copied = await share_thread(world, bot, "Shall we march together on the 12th?")
    faults = [
        proxy.fail(
            "PUT", sends_into(world.commons), Fault.error(500, "M_UNKNOWN", after_synapse=True)
        ),
        proxy.fail("PUT", sends_into(world.commons), Fault.error(500, "M_UNKNOWN")),
        proxy.fail("PUT", sends_into(world.commons), Fault.drop()),
    ]
    said = await world.bea.say(world.camp, "We bring the drums", thread_root=root)
    await copy_with(world.ada, bot, world.commons, str(copied["event_id"]), "drums")
    await handled(bot, said)  # the copy is recorded once its send has come back
    await settled(world.ada, bot.user_id, world.commons)
    all_hit(*faults)
    assert await copied_to(bot, said) == {world.commons}
    # copy_with checked it arrived once; and later messages still go.
    later = await world.bea.say(world.camp, "And the banners", thread_root=root)
    await copy_with(world.ada, bot, world.commons, str(copied["event_id"]), "banners")
    assert await copied_to(bot, later) == {world.commons}


async def test_a_dropped_key_share_does_not_stop_the_bot_or_lose_the_answer(
    start_bot: StartBot, make_user: MakeUser, proxy: FaultProxy
) -> None:
    bot, alice, room = await bot_and_room(start_bot, make_user, proxy, encrypted=True)
    to_device = r"/sendToDevice/m\.room\.encrypted/"
    faults = [
        proxy.fail("PUT", to_device, Fault.drop(after_synapse=True)),
        proxy.fail("PUT", to_device, Fault.drop()),
    ]
    asked = await alice.say(room, "!ping")
    answer = await alice.reply_from(bot.user_id, room, asked)
    assert answer["decrypted"] is True
    all_hit(*faults)
    await settled(alice, bot.user_id, room)
    assert len(answers_to(alice, bot.user_id, room, asked)) == 1
    assert not bot.task.done()


async def test_a_lost_session_while_the_homeserver_is_down_is_restored(
    start_bot: StartBot, make_user: MakeUser, proxy: FaultProxy
) -> None:
    bot, alice, room = await bot_and_room(start_bot, make_user, proxy)
    # The next sync says the session is gone; asking whether the token still works then
    # meets a homeserver that is down for a while.
    faults = [
        proxy.fail("GET", r"/sync$", Fault.error(401, "M_UNKNOWN_TOKEN")),
        proxy.fail("GET", r"/account/whoami$", Fault.error(502), times=2),
        proxy.fail("GET", r"/account/whoami$", Fault.drop()),
    ]
    await alice.wait_for(lambda: faults[2].hits == 1, what="the bot to try again", timeout=60)
    answer = await alice.ask(room, "!ping", bot=bot.user_id)
    assert "pong" in body(answer).lower()
    all_hit(*faults)
    assert not bot.task.done()


async def test_a_deactivated_account_ends_the_run_with_one_clear_reason(
    start_bot: StartBot, synapse: LocalSynapse
) -> None:
    bot = await start_bot()
    admin = synapse.register(unique("admin"), admin=True)
    path = f"/_synapse/admin/v1/deactivate/{urllib.parse.quote(bot.user_id)}"
    synapse.api("POST", path, token=admin.access_token, body={"erase": False})
    # Synapse takes a deactivated account's password away: its login answers "forbidden".
    with pytest.raises(LoginFailed, match="or the account has been deactivated"):
        await asyncio.wait_for(bot.task, timeout=60)


async def test_a_device_signed_out_while_the_bot_was_away_comes_back_fully(
    start_bot: StartBot, make_user: MakeUser, synapse: LocalSynapse
) -> None:
    first = await start_bot()
    alice = await make_user("alice")
    room = await room_with_bot(alice, first.user_id, name="Secret camp", encrypted=True)
    assert "pong" in body(await alice.ask(room, "!ping", bot=first.user_id)).lower()
    device = first.bot.matrix.device_id
    await first.stop()

    # Whoever owns the account signs out the "unknown session" (here: the server admin).
    admin = synapse.register(unique("admin"), admin=True)
    user = urllib.parse.quote(first.user_id)
    synapse.api(
        "DELETE", f"/_synapse/admin/v2/users/{user}/devices/{device}", token=admin.access_token
    )

    again = await start_bot()
    assert again.bot.matrix.device_id == device
    keys = synapse.api(
        "POST",
        "/_matrix/client/v3/keys/query",
        token=alice.account.access_token,
        body={"device_keys": {first.user_id: [device]}},
    )
    published = keys["device_keys"][first.user_id][device]
    assert published["keys"][f"ed25519:{device}"] == again.bot.matrix.device_signing_key
    # Signed again by the identity the bot kept (so Element shares room keys with it).
    assert any(signer != f"ed25519:{device}" for signer in published["signatures"][first.user_id])
    # Someone whose client meets the device now (matrix-nio never takes back a device it saw
    # deleted, as Element does) shares a room key with it and is answered.
    bob = await make_user("bob")
    await join_room(alice, room, bob)
    answer = await bob.ask(room, "!ping", bot=first.user_id)
    assert answer["decrypted"] is True
    assert "pong" in body(answer).lower()


# -- nothing silently skipped ----------------------------------------------------------------


async def test_catching_up_reads_every_missed_event_however_many(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    first = await start_bot()
    alice = await make_user("alice")
    room = await room_with_bot(alice, first.user_id, name="Busy camp")
    await alice.ask(room, "!ping", bot=first.user_id)
    await first.stop()

    # While the bot is away: a command, then more messages than ten pages of history hold.
    missed = await alice.say(room, "!whoami")
    for start in range(0, 1100, 50):
        await asyncio.gather(*(alice.say(room, f"chat {n}") for n in range(start, start + 50)))

    second = await start_bot()
    answer = await alice.reply_from(second.user_id, room, missed, timeout=120)
    assert answer["content"]["body"].startswith("Here you are")
    await settled(alice, second.user_id, room)
    assert len(answers_to(alice, second.user_id, room, missed)) == 1


async def test_a_command_whose_key_comes_after_the_age_limit_is_not_run(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    bot = await start_bot(max_command_age_s=2)
    alice = await make_user("alice")
    room = await room_with_bot(alice, bot.user_id, name="Secret camp", encrypted=True)
    await alice.ask(room, "!ping", bot=bot.user_id)  # both sides know each other's devices

    sent = time.time()
    late = await alice.send_before_sharing_key(room, "!whoami")
    await alice.wait_for(lambda: bot.bot.undecrypted_seen > 0, what="the bot to see it")
    await eventually(lambda: time.time() - sent > 2.5, what="the command to pass the age limit")
    await alice.share_room_key(room)
    await handled(bot, late)  # decrypted and handled (votes and relays would still count)
    await settled(alice, bot.user_id, room)
    assert answers_to(alice, bot.user_id, room, late) == []


# -- joining many rooms ------------------------------------------------------------------------


async def test_joining_is_retried_when_paced_or_failing_and_capped_at_max_rooms(
    start_bot: StartBot, make_user: MakeUser, proxy: FaultProxy, bot_log: list[str]
) -> None:
    bot = await start_bot(homeserver=proxy.url, max_rooms=2)
    alice = await make_user("alice")
    faults = [
        proxy.fail("POST", r"/join/", Fault.rate_limited(200)),
        proxy.fail("POST", r"/join/", Fault.error(502)),
        proxy.fail("POST", r"/join/", Fault.drop()),
    ]
    first = await alice.create_room(invite=[bot.user_id], name="First")
    await alice.wait_for(lambda: bot_has_joined(alice, first, bot.user_id), what="the bot to join")
    all_hit(*faults)
    await room_with_bot(alice, bot.user_id, name="Second")

    third = await alice.create_room(invite=[bot.user_id], name="Third")
    await alice.wait_for(
        lambda: bot.user_id in alice.client.rooms[third].invited_users, what="the invite"
    )
    await alice.wait_for(
        lambda: bot.user_id not in alice.client.rooms[third].invited_users,
        what="the bot to answer the third invite",
    )
    assert bot.user_id not in alice.client.rooms[third].users
    assert any("MULTILOGUE_MAX_ROOMS" in line for line in bot_log)
    assert "pong" in body(await alice.ask(first, "!ping", bot=bot.user_id)).lower()


async def test_an_answer_refused_for_good_is_told_in_plain_words(
    start_bot: StartBot, make_user: MakeUser, proxy: FaultProxy
) -> None:
    bot, alice, room = await bot_and_room(start_bot, make_user, proxy)
    too_large = proxy.fail("PUT", sends_into(room), Fault.error(413, "M_TOO_LARGE"))
    asked = await alice.say(room, "!help")
    told = await alice.reply_from(bot.user_id, room, asked)
    assert "My answer was too long to post here" in body(told)
    all_hit(too_large)
    await settled(alice, bot.user_id, room)
    assert len(answers_to(alice, bot.user_id, room, asked)) == 1  # refused once, not retried
