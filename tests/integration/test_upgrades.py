"""Room upgrades, done with Synapse's upgrade API as Element's "Upgrade this room" does it."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from bot.ids import RoomID
from bot.tooling.homeserver import LocalSynapse
from commands.alliance.store import all_alliances, alliance_by_commons, movements_of_room
from tests.integration.conftest import MakeUser, RunningBot
from tests.integration.matrix_user import MatrixUser
from tests.integration.test_alliance import body, space_child, start_alliance
from tests.integration.test_polls import start_poll
from tests.integration.test_relay import (
    copied_to,
    copy_with,
    handled,
    make_world,
    root_copy,
    share_thread,
)
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def upgrade(synapse: LocalSynapse, user: MatrixUser, room: str) -> str:
    """Upgrade `room` to a new room version (the new room replaces it); its id."""
    reply = synapse.api(
        "POST",
        f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/upgrade",
        token=user.account.access_token,
        body={"new_version": "12"},
    )
    return str(reply["replacement_room"])


def told_in(user: MatrixUser, bot_id: str, room: str, text: str) -> list[dict[str, Any]]:
    return [e for e in user.messages_from(bot_id, room) if text in body(e)]


async def test_an_upgraded_movement_room_keeps_its_place_and_the_bot_follows(
    bot: RunningBot, make_user: MakeUser, synapse: LocalSynapse
) -> None:
    world = await start_alliance(bot, make_user)
    bea, camp = world.movers["Climate Camp"], world.rooms["Climate Camp"]
    await bea.ask(camp, "!rules set deadline 3d", bot=bot.user_id)
    await start_poll(bea, bot.user_id, camp, "!poll Which day?\nMonday\nFriday")

    new = upgrade(synapse, bea, camp)
    await bea.wait_for(lambda: new in bea.client.rooms, what="the new room")
    await bea.invite(new, bot.user_id)  # Element's "invite members to the new room"
    await bea.wait_for(
        lambda: told_in(bea, bot.user_id, new, "This room replaces the one before it"),
        what="the bot to say it moved",
    )
    [moved] = told_in(bea, bot.user_id, new, "This room replaces the one before it")
    assert "It keeps its place in Earth Alliance" in body(moved)

    # The movement is the new room now: its record, its rules and its place in the space.
    [movement] = [
        m for m in await movements_of_room(bot.bot.store, RoomID(new)) if m.status == "active"
    ]
    assert movement.name == "Climate Camp"
    assert await movements_of_room(bot.bot.store, RoomID(camp)) == []
    listed = body(await bea.ask(new, "!movements", bot=bot.user_id))
    assert "Climate Camp" in listed
    rules = body(await bea.ask(new, "!rules", bot=bot.user_id))
    assert "3 days" in rules
    [alliance] = await all_alliances(bot.bot.store)
    assert alliance.space_id is not None
    await world.ada.join(alliance.space_id)
    assert await space_child(world.ada, alliance.space_id, new) == {"via": ["localhost"]}
    assert not await space_child(world.ada, alliance.space_id, camp)

    # The poll still open in the old room (where only moderators may post now) is withdrawn,
    # and the new room is told to start it again; the bot leaves the old room.
    assert "poll 1: Which day?" in body(moved)
    await bea.wait_for(
        lambda: bot.user_id not in bea.client.rooms[camp].users, what="the bot to leave"
    )
    polls = body(await bea.ask(new, "!poll results 1", bot=bot.user_id))
    assert "Which day?" not in polls


async def test_a_tombstone_pointing_at_a_room_that_does_not_replace_it_moves_nothing(
    bot: RunningBot, make_user: MakeUser
) -> None:
    # A movement's moderator points its room's tombstone at the commons, then at a room the
    # bot was never in: the bot checks each room's own creation, moves nothing, and does not
    # leave the commons for it.
    world = await start_alliance(bot, make_user)
    bea, camp = world.movers["Climate Camp"], world.rooms["Climate Camp"]
    mallory = await make_user("mallory")
    elsewhere = await mallory.create_room(name="Elsewhere")
    await mallory.client.room_put_state(elsewhere, "m.room.join_rules", {"join_rule": "public"})

    for target in (world.commons, elsewhere):

        async def refused(target: str = target) -> bool:
            row = await bot.bot.store.fetch_one(
                "SELECT state FROM room_upgrades WHERE old_room_id = ? AND new_room_id = ?",
                (camp, target),
            )
            return row is not None and row[0] == "abandoned"

        await bea.client.room_put_state(
            camp, "m.room.tombstone", {"body": "moved", "replacement_room": target}
        )
        await eventually(refused, what="the bot to refuse the upgrade")
    await mallory.wait_for(
        lambda: any(
            e.get("type") == "m.room.member"
            and e.get("state_key") == bot.user_id
            and e["content"].get("membership") == "leave"
            for e in mallory.events
            if e.get("room_id") == elsewhere
        ),
        what="the bot to come and leave the false replacement",
        timeout=60,
    )
    [movement] = await movements_of_room(bot.bot.store, RoomID(camp))
    assert movement.status == "active"
    assert await movements_of_room(bot.bot.store, RoomID(elsewhere)) == []
    assert (await alliance_by_commons(bot.bot.store, RoomID(world.commons))) is not None
    assert "Earth Alliance" in body(
        await world.ada.ask(world.commons, "!alliance", bot=bot.user_id)
    )
    assert not [e for e in bea.messages_from(bot.user_id, world.commons) if "replaces" in body(e)]


async def test_an_upgraded_commons_carries_its_shared_threads_on(
    bot: RunningBot, make_user: MakeUser, synapse: LocalSynapse
) -> None:
    world = await make_world(bot, make_user)
    root, copied = await share_thread(world, bot, "Shall we march together on the 12th?")

    new = upgrade(synapse, world.ada, world.commons)
    await world.ada.wait_for(lambda: new in world.ada.client.rooms, what="the new commons")
    await world.ada.invite(new, bot.user_id)
    await world.ada.wait_for(
        lambda: told_in(world.ada, bot.user_id, new, "This room replaces the one before it"),
        what="the bot to say it moved",
    )
    [moved] = told_in(world.ada, bot.user_id, new, "This room replaces the one before it")
    assert "1 posted again here" in body(moved)
    again = await root_copy(world.ada, bot, new, 1)

    # The thread goes on between the camp and the new commons, both ways.
    said = await world.bea.say(world.camp, "We bring the drums", thread_root=root)
    await copy_with(world.ada, bot, new, str(again["event_id"]), "drums")
    await handled(bot, said)
    assert await copied_to(bot, said) == {new}
    answer = await world.ada.say(new, "Great, see you there", thread_root=str(again["event_id"]))
    await copy_with(world.bea, bot, world.camp, root, "see you there")
    await handled(bot, answer)
    assert await copied_to(bot, answer) == {world.camp}
    # The alliance is run from the new commons now.
    listed = body(await world.ada.ask(new, "!movements", bot=bot.user_id))
    assert "Climate Camp" in listed
    assert str(copied["event_id"]) != str(again["event_id"])
