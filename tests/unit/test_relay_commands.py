"""Shared threads without a homeserver: the real router, templates, SQLite and relay listener.

The fake `Services` of `tests.unit.fakes` stands in for the Matrix side: like Synapse, the same
transaction key gives the same event (never a second one); it records every send, redaction and
notice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.events import Event
from bot.ids import EventID, RoomID
from bot.rooms import RoomState
from bot.store import Store
from commands.alliance.store import (
    all_alliances,
    create_alliance,
    decide_movement,
    leave_alliance,
    movements_of_room,
    request_join,
)
from commands.relay import store as rdb
from commands.relay.commands import announce_departures
from commands.relay.content import MARKER
from tests.unit.fakes import (
    FakeServices,
    Harness,
    Noticed,
    Sent,
    in_thread,
    make_config,
    room_state,
)

ADA, BEA, CAL, ERIN, HELPER = "@ada:hs", "@bea:hs", "@cal:hs", "@erin:hs", "@helperbot:hs"
COMMONS, CAMP, TENANTS = RoomID("!commons:hs"), RoomID("!camp:hs"), RoomID("!tenants:hs")
TS = 1_764_000_000_000


class World(Harness):
    def event(
        self,
        room: RoomID,
        sender: str,
        content: dict[str, Any],
        *,
        kind: str = "m.room.message",
        redacts: str | None = None,
        event_id: str | None = None,
    ) -> Event:
        return self.make_event(room, sender, kind, content, redacts=redacts, event_id=event_id)

    async def say(self, room: RoomID, sender: str, text: str, *, thread: str) -> Event:
        event = self.event(
            room, sender, {"msgtype": "m.text", "body": text, "m.relates_to": in_thread(thread)}
        )
        await self.listen(event)
        return event

    def copies_in(self, room: RoomID) -> list[Sent]:
        return [s for s in self.services.sent if s.room_id == room and MARKER in s.content]

    def notices(self, template: str) -> list[Noticed]:
        return [n for n in self.services.notices if n.reply.template == template]

    def send_keys(self) -> list[str]:
        """The transaction key of every send asked for, repeats and refusals included."""
        return [s.txn_key for s in self.services.sends]


def named_room(
    room_id: RoomID, creator: str, name: str, members: tuple[str, ...] = ()
) -> RoomState:
    """A room with a name, where everyone has a display name (@bea:hs is Bea)."""
    return room_state(room_id, creator, members=members, name=name, named=True)


@pytest.fixture
async def world(tmp_path: Path, store: Store) -> AsyncIterator[World]:
    rooms = [
        named_room(COMMONS, ADA, "Earth commons"),
        named_room(CAMP, BEA, "Camp room", (ERIN, HELPER)),
        named_room(TENANTS, CAL, "Tenants room"),
    ]
    services = FakeServices(make_config(tmp_path), store, rooms)
    alliance = await create_alliance(
        store,
        name="Earth Alliance",
        commons_room_id=COMMONS,
        created_by=ADA,
        created_at=TS,
        command_event_id="$make",
    )
    for room_id, mover, name in ((CAMP, BEA, "Climate Camp"), (TENANTS, CAL, "Tenants Union")):
        await join(store, alliance.id, room_id, mover, name, round_=1)
    yield World(services, clock=TS)
    assert all(s.background for s in services.sends), "relayed copies are background sends"


async def join(
    store: Store, alliance_id: int, room: RoomID, mover: str, name: str, *, round_: int
) -> None:
    asked = await request_join(
        store,
        alliance_id=alliance_id,
        room_id=room,
        name=name,
        requested_by=mover,
        requested_at=TS,
        event_id=f"$join-{room}-{round_}",
    )
    await decide_movement(
        store,
        asked.id,
        status="active",
        decided_by=ADA,
        decided_at=TS,
        event_id=f"$ok-{room}-{round_}",
    )


async def shared_thread(world: World) -> tuple[Event, EventID]:
    """Bea's thread in the camp, shared; returns its root and the root's copy in the commons."""
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "Shall we march on the 12th?"})
    reply, message = await world.answer(CAMP, BEA, "share", relates_to=in_thread(root.event_id))
    assert reply.template == "share_started", message.body
    [copy] = world.copies_in(COMMONS)
    return root, copy.event_id


# -- sharing ------------------------------------------------------------------------------------


async def test_share_says_where_first_then_posts_the_root_with_a_link_back(world: World) -> None:
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "Shall we march?"})
    early = await world.say(CAMP, ERIN, "before sharing", thread=root.event_id)
    reply, message = await world.answer(CAMP, BEA, "share", relates_to=in_thread(root.event_id))
    assert reply.template == "share_started"
    assert "shared thread #1" in message.body
    assert "visible in the commons room Earth commons (1 member)" in message.body
    [copy] = world.copies_in(COMMONS)
    assert copy.content["body"].startswith("Bea · Climate Camp: Shall we march?")
    assert "https://matrix.to/#/%21camp%3Ahs/%24" in copy.content["body"]
    assert "m.relates_to" not in copy.content
    assert await rdb.copies_of(world.services.store, early.event_id) == []


async def test_only_the_author_or_a_moderator_may_share(world: World) -> None:
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "Bea's thread"})
    reply, message = await world.answer(CAMP, ERIN, "share", relates_to=in_thread(root.event_id))
    assert reply.template == "command_error"
    assert "Only the thread's author (Bea) or a moderator" in message.body
    own = world.event(CAMP, ERIN, {"msgtype": "m.text", "body": "Erin's thread"})
    reply, _ = await world.answer(CAMP, ERIN, "share", relates_to=in_thread(own.event_id))
    assert reply.template == "share_started"


async def test_share_needs_a_thread_and_a_movement_room(world: World) -> None:
    _, message = await world.answer(CAMP, BEA, "share")
    assert "inside the thread you want to share" in message.body
    root = world.event(COMMONS, ADA, {"msgtype": "m.text", "body": "commons talk"})
    _, message = await world.answer(COMMONS, ADA, "share", relates_to=in_thread(root.event_id))
    assert "This room is the commons of Earth Alliance" in message.body
    lone = RoomID("!lone:hs")
    world.services.rooms[lone] = named_room(lone, ADA, "Lone")
    root = world.event(lone, ADA, {"msgtype": "m.text", "body": "x"})
    _, message = await world.answer(lone, ADA, "share", relates_to=in_thread(root.event_id))
    assert "not an active movement of an alliance" in message.body


async def test_a_thread_is_shared_once(world: World) -> None:
    root, commons_root = await shared_thread(world)
    _, message = await world.answer(CAMP, BEA, "share", relates_to=in_thread(root.event_id))
    assert "already shared, as shared thread #1" in message.body
    _, message = await world.answer(COMMONS, ADA, "share", relates_to=in_thread(commons_root))
    assert "shared thread #1, relayed here" in message.body
    assert len(world.copies_in(COMMONS)) == 1


async def test_the_same_share_handled_again_after_a_crash_posts_nothing_twice(world: World) -> None:
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "Shall we march?"})
    command = world.event(
        CAMP, BEA, {"msgtype": "m.text", "body": "!share", "m.relates_to": in_thread(root.event_id)}
    )
    for _ in range(2):
        reply, _ = await world.route(command)  # and what it says to do once it is sent
        assert reply.template == "share_started"
        assert reply.then is not None
    assert len(world.copies_in(COMMONS)) == 1
    assert len(await rdb.shares_of(world.services.store, 1)) == 1


# -- relaying -----------------------------------------------------------------------------------


async def test_messages_go_both_ways_in_order_and_once(world: World) -> None:
    root, commons_root = await shared_thread(world)
    first = await world.say(CAMP, ERIN, "one", thread=root.event_id)
    await world.say(CAMP, ERIN, "two", thread=root.event_id)
    await world.listen(first)  # handled again (a crash before it was marked done): no copy
    await world.say(COMMONS, ADA, "three", thread=commons_root)
    bodies = [s.content["body"] for s in world.copies_in(COMMONS)][1:]
    assert bodies == ["Erin · Climate Camp: one", "Erin · Climate Camp: two"]
    [back] = world.copies_in(CAMP)
    assert back.content["body"] == "Ada · commons: three"
    assert back.content["m.relates_to"]["event_id"] == root.event_id


async def test_the_routes_of_a_message_come_in_one_read_with_each_sides_movement(
    world: World,
) -> None:
    root, commons_root = await shared_thread(world)
    reply, _ = await world.answer(TENANTS, CAL, "follow 1")
    assert reply.template == "follow_started"
    store = world.services.store
    [tenants] = await movements_of_room(store, TENANTS)

    from_camp = await rdb.routes_from(store, CAMP, root.event_id)
    assert [(r.source.role, r.target.role) for r in from_camp] == [
        ("origin", "commons"),
        ("origin", "follower"),
    ]
    assert {r.source_movement.name for r in from_camp if r.source_movement} == {"Climate Camp"}
    assert [r.target_movement for r in from_camp] == [None, tenants]

    from_commons = await rdb.routes_from(store, COMMONS, commons_root)
    assert [(r.source_movement, r.target.room_id) for r in from_commons] == [
        (None, CAMP),
        (None, TENANTS),
    ]
    assert await rdb.routes_from(store, CAMP, EventID("$not-a-shared-root")) == []

    tenants_root = from_camp[1].target.root_event_id
    assert tenants_root is not None
    await world.answer(TENANTS, CAL, "unfollow 1")  # stopped here: no route starts there...
    assert await rdb.follower_links(store, TENANTS) == []
    assert await rdb.routes_from(store, TENANTS, tenants_root) == []
    still = await rdb.routes_from(store, CAMP, root.event_id)  # ...and its link is not open
    assert [r.target.status for r in still] == ["active", "stopped"]


async def test_a_crash_between_send_and_record_resends_with_the_same_transaction(
    world: World,
) -> None:
    root, _ = await shared_thread(world)
    message = await world.say(CAMP, ERIN, "hello", thread=root.event_id)
    [row] = await rdb.copies_of(world.services.store, message.event_id)
    async with world.services.store.transaction() as db:  # as if the record never came
        await db.execute(
            "UPDATE relay_copies SET state = 'sending', copy_event_id = NULL"
            " WHERE source_event_id = ?",
            (message.event_id,),
        )
    await world.listen(message)
    [again] = await rdb.copies_of(world.services.store, message.event_id)
    assert again.copy_event_id == row.copy_event_id
    keys = [k for k in world.send_keys() if message.event_id in k]
    assert keys == [keys[0], keys[0]]  # sent twice with one transaction key...
    assert len(world.copies_in(COMMONS)) == 2  # ...and the homeserver made one copy


async def test_commands_bot_notices_and_relayed_copies_are_not_relayed(world: World) -> None:
    root, _ = await shared_thread(world)
    reply, _ = await world.answer(CAMP, ERIN, "ping", relates_to=in_thread(root.event_id))
    assert reply.template == "pong"
    notice = world.event(
        CAMP,
        HELPER,
        {"msgtype": "m.notice", "body": "beep", "m.relates_to": in_thread(root.event_id)},
    )
    loop = world.event(
        CAMP,
        ERIN,
        {
            "msgtype": "m.text",
            "body": "x",
            MARKER: {"shared_thread": 9},
            "m.relates_to": in_thread(root.event_id),
        },
    )
    unthreaded = world.event(CAMP, ERIN, {"msgtype": "m.text", "body": "main timeline"})
    for event in (notice, loop, unthreaded):
        await world.listen(event)
    person = world.event(
        CAMP,
        ERIN,
        {
            "msgtype": "m.notice",
            "body": "a person's notice",
            "m.relates_to": in_thread(root.event_id),
        },
    )
    await world.listen(person)
    bodies = [s.content["body"] for s in world.copies_in(COMMONS)][1:]
    assert bodies == ["Erin · Climate Camp: a person's notice"]


async def test_a_commons_voice_is_attributed_to_their_only_movement(world: World) -> None:
    _, commons_root = await shared_thread(world)
    world.services.rooms[COMMONS].members[CAL] = "join"
    world.services.rooms[COMMONS].display_names[CAL] = "Cal"
    await world.say(COMMONS, CAL, "tenants here", thread=commons_root)
    world.services.rooms[CAMP].members[CAL] = "join"  # now in two movement rooms
    await world.say(COMMONS, CAL, "and camp too", thread=commons_root)
    bodies = [s.content["body"] for s in world.copies_in(CAMP)]
    assert bodies == ["Cal · Tenants Union: tenants here", "Cal · commons: and camp too"]


async def test_an_attachment_the_room_refuses_becomes_a_placeholder(world: World) -> None:
    root, _ = await shared_thread(world)
    world.services.refuse.add("m.image")
    image = world.event(
        CAMP,
        ERIN,
        {
            "msgtype": "m.image",
            "body": "dot.png",
            "url": "mxc://hs/a",
            "m.relates_to": in_thread(root.event_id),
        },
    )
    await world.listen(image)
    last = world.copies_in(COMMONS)[-1]
    assert last.content["body"] == (
        "Erin · Climate Camp: sent an image (dot.png), which cannot be shown here: this room "
        "did not accept the attachment."
    )
    [row] = await rdb.copies_of(world.services.store, image.event_id)
    assert row.state == "sent"


async def test_a_refused_copy_is_given_up_and_later_ones_still_go(world: World) -> None:
    root, _ = await shared_thread(world)
    world.services.refuse.add("m.emote")
    lost = world.event(
        CAMP,
        ERIN,
        {"msgtype": "m.emote", "body": "waves", "m.relates_to": in_thread(root.event_id)},
    )
    await world.listen(lost)
    await world.listen(lost)
    [row] = await rdb.copies_of(world.services.store, lost.event_id)
    assert row.state == "failed"
    assert world.send_keys().count(f"relay/{lost.event_id}/{COMMONS}") == 1
    await world.say(CAMP, ERIN, "still here", thread=root.event_id)
    assert world.copies_in(COMMONS)[-1].content["body"].endswith("still here")


# -- edits and redactions -----------------------------------------------------------------------


async def test_edits_follow_their_message_and_only_the_writer_may_edit(world: World) -> None:
    root, _ = await shared_thread(world)
    message = await world.say(CAMP, ERIN, "typo", thread=root.event_id)
    [copy] = await rdb.copies_of(world.services.store, message.event_id)
    edit = {
        "msgtype": "m.text",
        "body": "* fixed",
        "m.new_content": {"msgtype": "m.text", "body": "fixed"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": message.event_id},
    }
    await world.listen(world.event(CAMP, BEA, edit))  # not the writer: ignored
    await world.listen(world.event(CAMP, ERIN, edit))
    sent = world.copies_in(COMMONS)[-1].content
    assert sent["m.relates_to"] == {"rel_type": "m.replace", "event_id": copy.copy_event_id}
    assert sent["m.new_content"]["body"] == "Erin · Climate Camp: fixed"
    assert len(world.copies_in(COMMONS)) == 3  # root, message, one edit


async def test_an_edit_of_the_first_message_keeps_the_link_back(world: World) -> None:
    root, commons_root = await shared_thread(world)
    await world.listen(
        world.event(
            CAMP,
            BEA,
            {
                "msgtype": "m.text",
                "body": "* Shall we march on the 13th?",
                "m.new_content": {"msgtype": "m.text", "body": "Shall we march on the 13th?"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": root.event_id},
            },
        )
    )
    edit = world.copies_in(COMMONS)[-1].content
    assert edit["m.relates_to"]["event_id"] == commons_root
    assert edit["m.new_content"]["body"].startswith(
        "Bea · Climate Camp: Shall we march on the 13th?"
    )
    assert (
        "(Shared thread #1 from Climate Camp: https://matrix.to/" in edit["m.new_content"]["body"]
    )


async def test_redactions_remove_copies_when_made_by_the_writer_or_a_moderator(
    world: World,
) -> None:
    root, _ = await shared_thread(world)
    message = await world.say(CAMP, ERIN, "oops", thread=root.event_id)
    [copy] = await rdb.copies_of(world.services.store, message.event_id)
    stranger = world.event(CAMP, CAL, {}, kind="m.room.redaction", redacts=message.event_id)
    await world.listen(stranger)
    assert world.services.redacted == []
    redaction = world.event(
        CAMP, ERIN, {"redacts": message.event_id}, kind="m.room.redaction", redacts=message.event_id
    )
    await world.listen(redaction)
    await world.listen(redaction)
    assert world.services.redacted == [
        (COMMONS, copy.copy_event_id, f"relay/{redaction.event_id}/{COMMONS}")
    ]
    # A moderator's removal of the thread's first message removes its copy too, even later.
    reply, _ = await world.answer(CAMP, BEA, "unshare", relates_to=in_thread(root.event_id))
    assert reply.template == "share_stopped"
    by_moderator = world.event(CAMP, BEA, {}, kind="m.room.redaction", redacts=root.event_id)
    world.services.rooms[CAMP].power_levels = {"users": {BEA: 100}}
    await world.listen(by_moderator)
    assert world.services.redacted[-1][:2] == (
        COMMONS,
        (await rdb.copies_of(world.services.store, root.event_id))[0].copy_event_id,
    )


# -- consent ------------------------------------------------------------------------------------


async def test_a_movement_that_leaves_stops_relays_even_if_it_joins_again(world: World) -> None:
    root, commons_root = await shared_thread(world)
    store = world.services.store
    [camp] = await movements_of_room(store, CAMP)
    await leave_alliance(store, camp.id, left_by=BEA, left_at=TS, event_id="$leave")
    gone = await world.say(CAMP, ERIN, "after leaving", thread=root.event_id)
    back = await world.say(COMMONS, ADA, "hello?", thread=commons_root)
    assert await rdb.copies_of(store, gone.event_id) == []
    assert await rdb.copies_of(store, back.event_id) == []
    await join(store, camp.alliance_id, CAMP, BEA, "Climate Camp", round_=2)
    again = await world.say(CAMP, ERIN, "we are back", thread=root.event_id)
    assert await rdb.copies_of(store, again.event_id) == []
    reply, message = await world.answer(CAMP, BEA, "share", relates_to=in_thread(root.event_id))
    assert reply.template == "share_started", message.body  # sharing again is a new consent


async def test_every_thread_hears_once_that_a_movement_left_even_across_a_crash(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, commons_root = await shared_thread(world)
    reply, _ = await world.answer(TENANTS, CAL, "follow 1")
    assert reply.template == "follow_started"
    store = world.services.store
    [tenants_link] = await rdb.follower_links(store, TENANTS)
    await announce_departures(world.services)  # nobody left: nothing to say
    assert world.notices("share_left_notice") == world.notices("share_left_here") == []

    [tenants] = await movements_of_room(store, TENANTS)
    await leave_alliance(store, tenants.id, left_by=CAL, left_at=TS, event_id="$leave")
    monkeypatch.setattr(rdb, "stop_link", crash)  # the bot stops before recording it
    with pytest.raises(RuntimeError):
        await announce_departures(world.services)
    monkeypatch.undo()
    await announce_departures(world.services)  # after the restart: the same notices again
    await announce_departures(world.services)  # and from now on, nothing

    told = world.notices("share_left_notice")
    assert [(n.room_id, n.thread_root) for n in told] == [
        (CAMP, root.event_id),
        (COMMONS, commons_root),
    ] * 2
    assert len({n.event_id for n in told}) == 2  # asked twice, posted once each
    assert told[0].message.body.startswith("Tenants Union left the alliance")
    [here, here_again] = world.notices("share_left_here")
    assert here.event_id == here_again.event_id
    assert (here.room_id, here.thread_root) == (TENANTS, tenants_link.root_event_id)
    assert "nothing more goes to Climate Camp and the commons (Earth commons)" in here.message.body
    assert "!follow 1" in here.message.body
    assert await rdb.follower_links(store, TENANTS) == []  # the link is stopped
    assert await rdb.departures(store) == []


async def crash(*args: object, **kwargs: object) -> None:
    raise RuntimeError("the bot stopped here")


async def test_encrypted_content_needs_the_warning_then_a_moderator(world: World) -> None:
    world.services.rooms[CAMP].encrypted = True
    root = world.event(CAMP, ERIN, {"msgtype": "m.text", "body": "secret plan"})
    reply, message = await world.answer(
        CAMP, ERIN, "share --allow-unencrypted", relates_to=in_thread(root.event_id)
    )
    assert reply.template == "command_error"
    assert "Only a moderator" in message.body
    reply, message = await world.answer(
        CAMP, BEA, "share --allow-unencrypted", relates_to=in_thread(root.event_id)
    )
    assert reply.template == "share_warning", "the flag counts only after the warning"
    assert "This room is encrypted, but the commons room Earth commons" in message.body
    reply, _ = await world.answer(
        CAMP, BEA, "share --allow-unencrypted", relates_to=in_thread(root.event_id)
    )
    assert reply.template == "share_started"
    assert len(world.copies_in(COMMONS)) == 1


async def test_an_unencrypted_room_cannot_follow_what_encrypted_rooms_did_not_release(
    world: World,
) -> None:
    world.services.rooms[CAMP].encrypted = True
    world.services.rooms[COMMONS].encrypted = True
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "secret plan"})
    reply, _ = await world.answer(CAMP, BEA, "share", relates_to=in_thread(root.event_id))
    assert reply.template == "share_started"  # both encrypted: no warning needed
    reply, message = await world.answer(TENANTS, CAL, "follow 1")
    assert reply.template == "command_error"
    assert "Only an encrypted room may follow it" in message.body


async def test_an_unencrypted_room_cannot_pull_an_encrypted_commons_words_out(
    world: World,
) -> None:
    # Climate Camp's room is not encrypted, the commons is: the camp's words go there safely,
    # but no one in the camp may let the commons' words out, not even with --allow-unencrypted.
    world.services.rooms[COMMONS].encrypted = True
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "Shall we march?"})
    reply, message = await world.answer(
        CAMP, BEA, "share --allow-unencrypted", relates_to=in_thread(root.event_id)
    )
    assert reply.template == "share_started", message.body
    assert "answers written in the commons stay in the commons" in message.body
    [commons_root] = world.copies_in(COMMONS)

    outgoing = await world.say(CAMP, ERIN, "we bring drums", thread=root.event_id)
    assert {
        c.target_room_id for c in await rdb.copies_of(world.services.store, outgoing.event_id)
    } == {COMMONS}
    answer = await world.say(COMMONS, ADA, "the route is secret", thread=commons_root.event_id)
    assert await rdb.copies_of(world.services.store, answer.event_id) == []
    # Nor may an unencrypted follower read it.
    reply, message = await world.answer(TENANTS, CAL, "follow 1")
    assert reply.template == "command_error"
    assert "Only an encrypted room may follow it" in message.body


async def test_a_title_from_an_encrypted_room_is_not_shown_in_an_unencrypted_one(
    world: World,
) -> None:
    world.services.rooms[CAMP].encrypted = True
    world.services.rooms[COMMONS].encrypted = True
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "Blockade at dawn on the 12th"})
    reply, _ = await world.answer(CAMP, BEA, "share", relates_to=in_thread(root.event_id))
    assert reply.template == "share_started"

    _, plain = await world.answer(TENANTS, CAL, "shared")
    assert "Blockade" not in plain.body
    assert "(its title stays in encrypted rooms: open it in the commons)" in plain.body
    _, secret = await world.answer(COMMONS, ADA, "shared")
    assert "#1 from Climate Camp: Blockade at dawn on the 12th" in secret.body

    # Its author deletes the first message: the title goes everywhere.
    await world.listen(
        world.event(
            CAMP,
            BEA,
            {"redacts": root.event_id},
            kind="m.room.redaction",
            redacts=root.event_id,
        )
    )
    _, after = await world.answer(COMMONS, ADA, "shared")
    assert "Blockade" not in after.body
    assert "(its first message was deleted)" in after.body


async def test_a_title_goes_when_its_first_message_is_deleted_even_if_never_copied(
    world: World,
) -> None:
    world.services.refuse.add(COMMONS)  # the commons refuses the copy: nothing to redact there
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "Blockade at dawn on the 12th"})
    await world.answer(CAMP, BEA, "share", relates_to=in_thread(root.event_id))
    assert world.copies_in(COMMONS) == []
    [alliance] = await all_alliances(world.services.store)
    [shared] = await rdb.shares_of(world.services.store, alliance.id, active_only=False)
    command_id = shared.command_event_id
    world.services.refuse.clear()

    def deletion(sender: str) -> Event:
        return world.event(
            CAMP, sender, {"redacts": root.event_id}, kind="m.room.redaction", redacts=root.event_id
        )

    async def title() -> str:
        # The share did not start, but its record (and so its title) is kept.
        shared = await rdb.share_by_command(world.services.store, command_id)
        assert shared is not None
        return shared.title

    assert await title() == "Blockade at dawn on the 12th"
    await world.listen(deletion(ERIN))  # Erin neither wrote it nor may delete others' words
    assert await title() == "Blockade at dawn on the 12th"
    await world.listen(deletion(BEA))
    assert await title() == ""


# -- following ----------------------------------------------------------------------------------


async def test_follow_unfollow_and_unshare_are_announced_in_every_linked_thread(
    world: World,
) -> None:
    root, commons_root = await shared_thread(world)
    reply, message = await world.answer(TENANTS, CAL, "shared")
    assert "#1 from Climate Camp: Shall we march on the 12th?" in message.body
    reply, message = await world.answer(TENANTS, ERIN, "follow 1")
    assert reply.template == "permission_denied"
    reply, message = await world.answer(TENANTS, CAL, "follow 2")
    assert "no shared thread #2" in message.body
    reply, message = await world.answer(CAMP, BEA, "follow 1")
    assert "comes from this room" in message.body
    reply, message = await world.answer(TENANTS, CAL, "follow 1")
    assert reply.template == "follow_started", message.body
    [tenants_copy] = world.copies_in(TENANTS)
    tenants_root = tenants_copy.event_id
    announced = {(n.room_id, n.thread_root) for n in world.notices("follow_joined_notice")}
    assert announced == {(CAMP, root.event_id), (COMMONS, commons_root)}

    message_ = await world.say(TENANTS, CAL, "hello from tenants", thread=tenants_root)
    targets = {
        c.target_room_id for c in await rdb.copies_of(world.services.store, message_.event_id)
    }
    assert targets == {CAMP, COMMONS}

    reply, _ = await world.answer(TENANTS, CAL, "unfollow", relates_to=in_thread(tenants_root))
    assert reply.template == "follow_stopped"
    stopped = {n.room_id for n in world.notices("follow_stopped_notice")}
    assert stopped == {CAMP, COMMONS}
    reply, message = await world.answer(TENANTS, CAL, "follow 1")
    assert "again" in message.body
    assert len(world.copies_in(TENANTS)) == 1  # the root was not posted twice

    reply, message = await world.answer(CAMP, ERIN, "unshare")
    assert "Only the thread's author" in message.body
    reply, message = await world.answer(CAMP, BEA, "unshare")
    assert reply.template == "share_stopped"
    assert "the commons (Earth commons) and Tenants Union" in message.body
    ended = {(n.room_id, n.thread_root) for n in world.notices("share_stopped_notice")}
    assert ended == {(COMMONS, commons_root), (TENANTS, tenants_root), (CAMP, root.event_id)}
    silent = await world.say(CAMP, ERIN, "nobody hears", thread=root.event_id)
    assert await rdb.copies_of(world.services.store, silent.event_id) == []
    _, message = await world.answer(COMMONS, ADA, "shared")
    assert "none at the moment" in message.body


async def test_the_commons_moderators_may_stop_carrying_a_movements_thread(world: World) -> None:
    root, commons_root = await shared_thread(world)

    # In the commons, the thread's own author is not enough: the commons decides what it carries.
    reply, message = await world.answer(COMMONS, BEA, "unshare 1")
    assert reply.template == "command_error"
    assert "Only a moderator of the commons" in message.body
    reply, message = await world.answer(COMMONS, ADA, "unshare", relates_to=in_thread(commons_root))
    assert reply.template == "share_stopped", message.body

    ended = {(n.room_id, n.thread_root) for n in world.notices("share_stopped_notice")}
    assert ended == {(CAMP, root.event_id)}  # the movement hears it, once
    silent = await world.say(CAMP, ERIN, "nobody hears", thread=root.event_id)
    assert await rdb.copies_of(world.services.store, silent.event_id) == []
    reply, message = await world.answer(COMMONS, ADA, "unshare", relates_to=in_thread(commons_root))
    assert "not shared" in message.body
