"""Attacks on a movement's room, played against the real Synapse as a hostile member would.

A member of an encrypted room can group-encrypt any JSON: nio hands it back decrypted with only
`event_id`, `sender` and `origin_server_ts` checked, so a forged power level, room creation,
membership or redaction would be believed by a bot that trusted decrypted payloads. Each test
is the attack, and what the movement must still see afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest
from nio import RoomCreateResponse, RoomRedactResponse

from bot.ids import UserID
from bot.matrix import SPACE_MARK
from tests.integration.conftest import (
    MakeUser,
    RunningBot,
    StartBot,
    has_joined,
    join_room,
    room_with_bot,
)
from tests.integration.matrix_user import MatrixUser
from tests.integration.test_alliance import body, start_alliance
from tests.integration.test_polls import polls_from, start_poll, vote

pytestmark = pytest.mark.integration


async def encrypted_room_with(bot: RunningBot, alice: MatrixUser, *others: MatrixUser) -> str:
    """An encrypted v12 room made by Alice (its creator), with the bot and `others` in it."""
    room = await room_with_bot(alice, bot.user_id, encrypted=True, room_version="12")
    await join_room(alice, room, *others)
    return room


async def test_forged_state_and_redactions_in_an_encrypted_room_change_nothing(
    bot: RunningBot, make_user: MakeUser
) -> None:
    alice = await make_user("alice")
    bob = await make_user("bob")
    mallory = await make_user("mallory")
    room = await encrypted_room_with(bot, alice, bob, mallory)
    poll = await start_poll(alice, bot.user_id, room, '!poll "Where do we camp?" "Coal" "Port"')
    bob_vote = await vote(bob, room, poll, "a1")
    await vote(alice, room, poll, "a2")
    assert "Here you are a member:" in body(await mallory.ask(room, "!whoami", bot=bot.user_id))

    # Each forgery, group-encrypted by Mallory's own client.
    forgeries: list[dict[str, Any]] = [
        {  # "I am a moderator now"
            "type": "m.room.power_levels",
            "state_key": "",
            "content": {"users": {mallory.user_id: 100, alice.user_id: 0}, "redact": 0},
        },
        {  # "I created this room" (room v12: creators have unlimited power)
            "type": "m.room.create",
            "state_key": "",
            "content": {"room_version": "12", "additional_creators": [mallory.user_id]},
        },
        {  # "Bob left": his vote would no longer count
            "type": "m.room.member",
            "state_key": bob.user_id,
            "content": {"membership": "leave"},
        },
        {  # "My name is Alice"
            "type": "m.room.member",
            "state_key": mallory.user_id,
            "content": {"membership": "join", "displayname": "Alice"},
        },
        {  # "Bob withdrew his vote", and "the poll was removed"
            "type": "m.room.redaction",
            "redacts": bob_vote,
            "content": {"redacts": bob_vote},
        },
        {"type": "m.room.redaction", "redacts": poll, "content": {"redacts": poll}},
        {  # "This room speaks German now"
            "type": "org.multilogue.language",
            "state_key": "",
            "content": {"language": "de"},
        },
    ]
    for forged in forgeries:
        await mallory.send_forged(room, forged)
    # A command that claims to come from another room is not answered anywhere.
    elsewhere = await mallory.send_forged(
        room,
        {
            "type": "m.room.message",
            "room_id": "!another-room:localhost",
            "content": {"msgtype": "m.text", "body": "!ping"},
        },
    )
    # A real redaction of Bob's vote by Mallory, who may not remove others' events. Synapse
    # refuses it to its own users (M_FORBIDDEN); a hostile federated server would send it, and
    # the bot's own check for that case is tested in tests/unit/test_poll_commands.py.
    real = await mallory.client.room_redact(room, bob_vote)
    assert isinstance(real, RoomRedactResponse) or real.status_code == "M_FORBIDDEN", real

    # The room's queue is in order: once this is answered, every forgery has been seen.
    whoami = body(await mallory.ask(room, "!whoami", bot=bot.user_id))
    assert "Here you are a member:" in whoami
    refused = body(await mallory.ask(room, "!leave", bot=bot.user_id))
    assert refused.startswith("Sorry, only"), refused
    results = body(await alice.ask(room, "!poll results 1", bot=bot.user_id))
    assert "Open" in results
    assert "2 voters." in results  # Bob's vote still counts
    assert "Coal  " in results
    assert alice.replies_to(bot.user_id, room, elsewhere) == []
    assert bot.bot.matrix.forgeries_ignored >= len(forgeries) + 1
    # Nor can she choose the room's language: not forged, and not for real (the homeserver
    # refuses a member's state), so the room still reads English.
    real_state = await mallory.client.room_put_state(
        room, "org.multilogue.language", {"language": "de"}
    )
    assert getattr(real_state, "status_code", None) == "M_FORBIDDEN", real_state
    refused_language = body(await mallory.ask(room, "!language de", bot=bot.user_id))
    assert "Only a moderator of this room chooses its language." in refused_language
    assert body(await alice.ask(room, "!language", bot=bot.user_id)).startswith("I speak English")


async def test_a_planted_space_mark_is_never_adopted(bot: RunningBot, make_user: MakeUser) -> None:
    # The mark the bot puts in the spaces it creates is predictable (the alliance's key). After a
    # failed `!alliance create`, the bot looks for it: an attacker plants it in a space of theirs
    # and invites the bot, hoping to become the alliance's space.
    mallory = await make_user("mallory")
    key = "earth-alliance-space"
    planted = await mallory.client.room_create(
        name="Earth Alliance",
        space=True,
        invite=[bot.user_id],
        initial_state=[{"type": SPACE_MARK, "state_key": "", "content": {"key": key}}],
    )
    assert isinstance(planted, RoomCreateResponse), planted
    await mallory.wait_for(
        lambda: has_joined(mallory, planted.room_id, bot.user_id),
        what="the bot to join the planted space",
    )
    own = await bot.bot.services.create_space(name="Earth Alliance", topic="t", invite=[], key=key)
    await mallory.wait_for(lambda: own in bot.bot.rooms, what="the bot to sync its own space")

    assert await bot.bot.services.find_space(key) == own
    await bot.bot.matrix.leave(own)
    await mallory.wait_for(lambda: own not in bot.bot.rooms, what="the bot to leave its space")
    assert await bot.bot.services.find_space(key) is None


async def test_a_room_that_only_asked_to_join_reads_nothing_of_the_alliance(
    bot: RunningBot, make_user: MakeUser
) -> None:
    # Anyone the invite allowlist admits can make a room, invite the bot and ask to join an
    # alliance: until the commons approves, that room must learn nothing of the alliance.
    world = await start_alliance(bot, make_user)
    await world.ada.ask(world.commons, "!objective propose Respect for nature", bot=bot.user_id)
    mallory = await make_user("mallory")
    spy = await room_with_bot(mallory, bot.user_id, name="Friendly Collective")
    # Guessing a name does not list the alliances the bot serves.
    guessed = body(await mallory.ask(spy, "!movement join Moon as Spies", bot=bot.user_id))
    assert "I know no alliance called “Moon”" in guessed
    assert "Earth" not in guessed
    asked = await mallory.ask(
        spy, "!movement join earth-alliance as Friendly Collective", bot=bot.user_id
    )
    assert "Asked to join Earth Alliance" in body(asked)

    for command in (
        "!objectives",
        "!movements",
        "!compare",
        "!compare 1",
        "!bridging",
        "!alliance",
        "!statement climate-camp",
        "!objectives --alliance earth-alliance",
        "!objectives --alliance some-other-alliance",
    ):
        answer = body(await mallory.ask(spy, command, bot=bot.user_id))
        assert "still waiting for the commons to approve it" in answer, (command, answer)
        for secret in ("Respect for nature", "Climate Camp", "Tenants Union", world.commons):
            assert secret not in answer, (command, answer)

    # Once approved, the same room reads the record like every movement.
    await world.ada.ask(world.commons, "!movement approve Friendly Collective", bot=bot.user_id)
    listed = body(await mallory.ask(spy, "!objectives", bot=bot.user_id))
    assert "Respect for nature" in listed


async def test_one_member_cannot_decide_for_a_movement(
    bot: RunningBot, make_user: MakeUser
) -> None:
    # Mallory, a plain member of Climate Camp's room, opens an endorsement, votes Agree and
    # closes it at once, or ends it with Element's "End poll": the movement must not
    # "endorse" anything on her word alone.
    world = await start_alliance(bot, make_user)
    for objective in ("Respect for nature", "Radical egalitarianism"):
        await world.ada.ask(world.commons, f"!objective propose {objective}", bot=bot.user_id)
    camp, bea = world.rooms["Climate Camp"], world.movers["Climate Camp"]
    mallory = await make_user("mallory")
    await join_room(bea, camp, mallory)

    opened = body(await mallory.ask(camp, "!endorse 1", bot=bot.user_id))
    assert "It closes on " in opened
    (start,) = await mallory.wait_for(
        lambda: polls_from(mallory, bot.user_id, camp), what="the endorsement poll"
    )
    poll = str(start["event_id"])
    await vote(mallory, camp, poll, "agree")
    refused = body(await mallory.ask(camp, "!poll close 1", bot=bot.user_id))
    assert "no one person closes it early" in refused
    await mallory.send(
        camp,
        {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            "org.matrix.msc3381.poll.end": {},
            "body": "The poll has ended.",
        },
        kind="org.matrix.msc3381.poll.end",
    )
    shorter = body(await mallory.ask(camp, "!endorse 2 --closes 1m", bot=bot.user_id))
    assert "--closes may only make it longer" in shorter

    results = body(await bea.ask(camp, "!poll results 1", bot=bot.user_id))
    assert "Open until " in results
    assert "1 voter." in results
    compared = body(await world.ada.ask(world.commons, "!compare 1", bot=bot.user_id))
    assert "Climate Camp endorses" not in compared

    # The room's moderator may close it; then the movement's stance is what the poll says.
    closed = body(await bea.ask(camp, "!poll close 1", bot=bot.user_id))
    assert closed.startswith("Results of poll #1")
    await bea.wait_for(
        lambda: any(
            "Recorded: Climate Camp endorses" in body(e)
            for e in bea.messages_from(bot.user_id, camp)
        ),
        what="the movement's stance to be recorded",
    )


async def test_a_bot_admin_has_no_power_in_a_movements_room(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    # Whoever runs the bot (MULTILOGUE_ADMINS) is a plain member of Climate Camp's room: they
    # may not change how the movement decides, nor send the bot away.
    bea = await make_user("bea")
    operator = await make_user("operator")
    bot = await start_bot(admins=frozenset({UserID(operator.user_id)}))
    room = await room_with_bot(bea, bot.user_id, room_version="12")
    await join_room(bea, room, operator)

    whoami = body(await operator.ask(room, "!whoami", bot=bot.user_id))
    assert whoami.startswith("Here you are a member:")
    assert "You also administer this bot" in whoami
    for command in ("!rules set majority", "!leave"):
        refused = body(await operator.ask(room, command, bot=bot.user_id))
        assert refused.startswith("Sorry, only"), (command, refused)
    rules = body(await bea.ask(room, "!rules", bot=bot.user_id))
    assert rules.startswith("This room decides consensus polls by: consensus (the default)")
    assert bot.user_id in bea.client.rooms[room].users


async def test_a_block_reason_typed_in_an_encrypted_room_stays_out_of_plain_rooms(
    bot: RunningBot, make_user: MakeUser
) -> None:
    # Climate Camp decides in an encrypted room; its reason for blocking is its own words. The
    # Tenants' room is not encrypted: asking there must not copy those words into it.
    ada, bea, cal = [await make_user(name) for name in ("ada", "bea", "cal")]
    commons = await room_with_bot(ada, bot.user_id, name="Earth commons")
    await ada.ask(commons, "!alliance create Earth Alliance", bot=bot.user_id)
    await ada.ask(commons, "!objective propose Respect for nature", bot=bot.user_id)
    camp = await room_with_bot(bea, bot.user_id, name="Climate Camp room", encrypted=True)
    tenants = await room_with_bot(cal, bot.user_id, name="Tenants Union room")
    for mover, room, name in ((bea, camp, "Climate Camp"), (cal, tenants, "Tenants Union")):
        await mover.ask(room, f"!movement join earth-alliance as {name}", bot=bot.user_id)
        await ada.ask(commons, f"!movement approve {name}", bot=bot.user_id)
    await ada.turn_on_encryption(commons)  # after the Tenants joined (see the test below)

    await bea.ask(camp, "!endorse 1", bot=bot.user_id)
    (start,) = await bea.wait_for(lambda: polls_from(bea, bot.user_id, camp), what="the poll")
    poll = str(start["event_id"])
    await vote(bea, camp, poll, "block")
    secret = "the mine owners fund this group"
    await bea.ask(camp, f"!reason {secret}", bot=bot.user_id, thread_root=poll)
    await bea.ask(camp, "!poll close 1", bot=bot.user_id)
    await bea.wait_for(
        lambda: any("does not endorse" in body(e) for e in bea.messages_from(bot.user_id, camp)),
        what="the stance to be recorded",
    )

    plain = body(await cal.ask(tenants, "!compare 1", bot=bot.user_id))
    assert "Climate Camp does not endorse" in plain
    assert secret not in plain
    assert "1 block reason was given in Climate Camp's encrypted room" in plain
    assert secret in body(await ada.ask(commons, "!compare 1", bot=bot.user_id))


async def test_an_encrypted_commons_takes_only_encrypted_movement_rooms(
    bot: RunningBot, make_user: MakeUser
) -> None:
    # What the alliance writes in an encrypted commons (objectives, questions put to every
    # movement) is repeated in every movement's room: a plain room must not get in.
    ada, dan = await make_user("ada"), await make_user("dan")
    commons = await room_with_bot(ada, bot.user_id, name="Earth commons", encrypted=True)
    await ada.ask(commons, "!alliance create Earth Alliance", bot=bot.user_id)
    await ada.ask(commons, "!objective propose Our secret plan", bot=bot.user_id)
    plain = await room_with_bot(dan, bot.user_id, name="Open Collective room")
    refused = body(await dan.ask(plain, "!movement join earth-alliance as Open", bot=bot.user_id))
    assert "The commons of Earth Alliance is encrypted, and this room is not" in refused
    assert "Turn on encryption" in refused
    status = body(await dan.ask(plain, "!objectives", bot=bot.user_id))
    assert "Our secret plan" not in status

    # A room that asked while the commons was plain is not approved once it is encrypted.
    ada2, eve = await make_user("ada"), await make_user("eve")
    commons2 = await room_with_bot(ada2, bot.user_id, name="Sea commons")
    await ada2.ask(commons2, "!alliance create Sea Alliance", bot=bot.user_id)
    waiting = await room_with_bot(eve, bot.user_id, name="Harbour room")
    asked = body(await eve.ask(waiting, "!movement join sea-alliance as Harbour", bot=bot.user_id))
    assert "Asked to join Sea Alliance" in asked
    await ada2.turn_on_encryption(commons2)
    held = body(await ada2.ask(commons2, "!movement approve Harbour", bot=bot.user_id))
    assert "the room of Harbour is not" in held
    listed = body(await ada2.ask(commons2, "!movements", bot=bot.user_id))
    assert "Harbour" in listed
    assert "waiting" in listed.lower()
    # Once the Harbour turns encryption on, the commons may approve it.
    await eve.turn_on_encryption(waiting)
    approved = body(await ada2.ask(commons2, "!movement approve Harbour", bot=bot.user_id))
    assert "Harbour is now a member of Sea Alliance" in approved
