"""Shared threads without a homeserver: the real router, templates, SQLite and relay listener.

A fake `Services` stands in for the Matrix side: like Synapse, the same transaction key gives
the same event (never a second one); it records every send, redaction and notice.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.events import Event
from bot.ids import EventID, RoomID, UserID
from bot.render import Message, Renderer
from bot.rooms import RoomState
from bot.router import Router
from bot.store import Store
from commands import alliance_store as adb
from commands import build_registry
from commands import relay_store as rdb
from commands.registry import Reply
from commands.relay import on_event
from commands.relay_content import MARKER

BOT = "@bot:hs"
ADA, BEA, CAL, ERIN, HELPER = "@ada:hs", "@bea:hs", "@cal:hs", "@erin:hs", "@helperbot:hs"
COMMONS, CAMP, TENANTS = RoomID("!commons:hs"), RoomID("!camp:hs"), RoomID("!tenants:hs")
TS = 1_764_000_000_000


@dataclass
class Sent:
    room_id: RoomID
    content: dict[str, Any]
    txn_key: str
    event_id: EventID


@dataclass
class FakeServices:
    config: Config
    store: Store
    rooms: dict[RoomID, RoomState]
    renderer: Renderer
    events: dict[EventID, Event] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    redacted: list[tuple[RoomID, EventID, str]] = field(default_factory=list)
    notices: list[tuple[RoomID, str, Message, EventID | None]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # msgtypes the homeserver refuses
    send_calls: list[str] = field(default_factory=list)
    _ids: dict[str, EventID] = field(default_factory=dict)

    def room(self, room_id: RoomID) -> RoomState:
        return self.rooms.setdefault(room_id, RoomState(room_id))

    async def send(
        self,
        room_id: RoomID,
        *,
        event_type: str,
        content: dict[str, Any],
        txn_key: str,
        background: bool = False,
    ) -> EventID | None:
        assert background, "relayed copies are background sends"
        self.send_calls.append(txn_key)
        if content.get("msgtype") in self.refuse:
            return None
        if txn_key not in self._ids:  # the same transaction gives the same event, like Synapse
            self._ids[txn_key] = EventID(f"$copy{len(self._ids) + 1}")
            self.sent.append(Sent(room_id, content, txn_key, self._ids[txn_key]))
        return self._ids[txn_key]

    async def redact(
        self, room_id: RoomID, event_id: EventID, *, reason: str | None, txn_key: str
    ) -> EventID | None:
        if (room_id, event_id, txn_key) not in self.redacted:
            self.redacted.append((room_id, event_id, txn_key))
        return EventID(f"$redaction-{event_id}")

    async def get_event(self, room_id: RoomID, event_id: EventID) -> Event | None:
        return self.events.get(event_id)

    async def notice(
        self,
        room_id: RoomID,
        reply: Reply,
        *,
        txn_key: str,
        answering: Event | None = None,
        thread_root: EventID | None = None,
    ) -> EventID | None:
        message = self.renderer.render(reply.template, reply.data)
        self.notices.append((room_id, reply.template, message, thread_root))
        return EventID(f"$notice{len(self.notices)}")

    def copies_in(self, room: RoomID) -> list[Sent]:
        return [s for s in self.sent if s.room_id == room and MARKER in s.content]


def room_state(room_id: RoomID, creator: str, name: str, members: tuple[str, ...]) -> RoomState:
    room = RoomState(room_id)
    room.create_sender = creator
    room.create_content = {"room_version": "12"}
    room.power_levels = {"users": {}, "users_default": 0}
    room.name = name
    room.members = dict.fromkeys((creator, *members, BOT), "join")
    room.display_names = {user: user[1:].split(":")[0].title() for user in room.members}
    return room


class World:
    def __init__(self, services: FakeServices) -> None:
        self.services = services
        self.router = Router(
            registry=build_registry(),
            config=services.config,
            store=services.store,
            services=services,  # type: ignore[arg-type]
        )
        self._ids = itertools.count(1)

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
        made = Event(
            event_id=EventID(event_id or f"$e{next(self._ids)}"),
            room_id=room,
            sender=UserID(sender),
            type=kind,
            ts=TS + next(self._ids),
            content=content,
            redacts=EventID(redacts) if redacts else None,
        )
        self.services.events[made.event_id] = made
        return made

    async def command(
        self, room: RoomID, sender: str, text: str, *, thread: str | None = None
    ) -> tuple[str, Message]:
        """A command as the bot handles it: the reply, then what it does afterwards."""
        content: dict[str, Any] = {"msgtype": "m.text", "body": f"!{text}"}
        if thread is not None:
            content["m.relates_to"] = in_thread(thread)
        event = self.event(room, sender, content)
        reply = await self.router.route(event, self.services.room(room), text)
        if reply.then is not None:
            await reply.then()
        await on_event(self.services, event)  # type: ignore[arg-type]
        return reply.template, self.services.renderer.render(reply.template, reply.data)

    async def say(self, room: RoomID, sender: str, text: str, *, thread: str) -> Event:
        event = self.event(
            room, sender, {"msgtype": "m.text", "body": text, "m.relates_to": in_thread(thread)}
        )
        await on_event(self.services, event)  # type: ignore[arg-type]
        return event

    async def handle(self, event: Event) -> None:
        await on_event(self.services, event)  # type: ignore[arg-type]


def in_thread(root: str) -> dict[str, Any]:
    return {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": root},
    }


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = await Store.open(tmp_path / "db.sqlite")
    config = Config(
        homeserver="http://hs",
        user_id=UserID(BOT),
        password=None,
        access_token=None,
        device_id=None,
        data_dir=tmp_path,
    )
    rooms = {
        COMMONS: room_state(COMMONS, ADA, "Earth commons", ()),
        CAMP: room_state(CAMP, BEA, "Camp room", (ERIN, HELPER)),
        TENANTS: room_state(TENANTS, CAL, "Tenants room", ()),
    }
    services = FakeServices(config, store, rooms, Renderer(globals={"prefix": "!"}))
    alliance = await adb.create_alliance(
        store,
        name="Earth Alliance",
        commons_room_id=COMMONS,
        created_by=ADA,
        created_at=TS,
        command_event_id="$make",
    )
    for room, mover, name in ((CAMP, BEA, "Climate Camp"), (TENANTS, CAL, "Tenants Union")):
        await join(store, alliance.id, room, mover, name, round_=1)
    yield World(services)
    await store.close()


async def join(
    store: Store, alliance_id: int, room: RoomID, mover: str, name: str, *, round_: int
) -> None:
    asked = await adb.request_join(
        store,
        alliance_id=alliance_id,
        room_id=room,
        name=name,
        requested_by=mover,
        requested_at=TS,
        event_id=f"$join-{room}-{round_}",
    )
    await adb.decide_movement(
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
    template, message = await world.command(CAMP, BEA, "share", thread=root.event_id)
    assert template == "share_started", message.body
    [copy] = world.services.copies_in(COMMONS)
    return root, copy.event_id


# -- sharing ------------------------------------------------------------------------------------


async def test_share_says_where_first_then_posts_the_root_with_a_link_back(world: World) -> None:
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "Shall we march?"})
    early = await world.say(CAMP, ERIN, "before sharing", thread=root.event_id)
    template, message = await world.command(CAMP, BEA, "share", thread=root.event_id)
    assert template == "share_started"
    assert "shared thread #1" in message.body
    assert "visible in the commons room Earth commons (1 member)" in message.body
    [copy] = world.services.copies_in(COMMONS)
    assert copy.content["body"].startswith("Bea · Climate Camp: Shall we march?")
    assert "https://matrix.to/#/%21camp%3Ahs/%24" in copy.content["body"]
    assert "m.relates_to" not in copy.content
    assert await rdb.copies_of(world.services.store, early.event_id) == []


async def test_only_the_author_or_a_moderator_may_share(world: World) -> None:
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "Bea's thread"})
    template, message = await world.command(CAMP, ERIN, "share", thread=root.event_id)
    assert template == "command_error"
    assert "Only the thread's author (Bea) or a moderator" in message.body
    own = world.event(CAMP, ERIN, {"msgtype": "m.text", "body": "Erin's thread"})
    template, _ = await world.command(CAMP, ERIN, "share", thread=own.event_id)
    assert template == "share_started"


async def test_share_needs_a_thread_and_a_movement_room(world: World) -> None:
    _, message = await world.command(CAMP, BEA, "share")
    assert "inside the thread you want to share" in message.body
    root = world.event(COMMONS, ADA, {"msgtype": "m.text", "body": "commons talk"})
    _, message = await world.command(COMMONS, ADA, "share", thread=root.event_id)
    assert "This room is the commons of Earth Alliance" in message.body
    lone = RoomID("!lone:hs")
    world.services.rooms[lone] = room_state(lone, ADA, "Lone", ())
    root = world.event(lone, ADA, {"msgtype": "m.text", "body": "x"})
    _, message = await world.command(lone, ADA, "share", thread=root.event_id)
    assert "not an active movement of an alliance" in message.body


async def test_a_thread_is_shared_once(world: World) -> None:
    root, commons_root = await shared_thread(world)
    _, message = await world.command(CAMP, BEA, "share", thread=root.event_id)
    assert "already shared, as shared thread #1" in message.body
    _, message = await world.command(COMMONS, ADA, "share", thread=commons_root)
    assert "shared thread #1, relayed here" in message.body
    assert len(world.services.copies_in(COMMONS)) == 1


async def test_the_same_share_handled_again_after_a_crash_posts_nothing_twice(world: World) -> None:
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "Shall we march?"})
    command = world.event(
        CAMP, BEA, {"msgtype": "m.text", "body": "!share", "m.relates_to": in_thread(root.event_id)}
    )
    for _ in range(2):
        reply = await world.router.route(command, world.services.room(CAMP), "share")
        assert reply.template == "share_started"
        assert reply.then is not None
        await reply.then()
    assert len(world.services.copies_in(COMMONS)) == 1
    assert len(await rdb.shares_of(world.services.store, 1)) == 1


# -- relaying -----------------------------------------------------------------------------------


async def test_messages_go_both_ways_in_order_and_once(world: World) -> None:
    root, commons_root = await shared_thread(world)
    first = await world.say(CAMP, ERIN, "one", thread=root.event_id)
    await world.say(CAMP, ERIN, "two", thread=root.event_id)
    await world.handle(first)  # handled again (a crash before it was marked done): no copy
    await world.say(COMMONS, ADA, "three", thread=commons_root)
    bodies = [s.content["body"] for s in world.services.copies_in(COMMONS)][1:]
    assert bodies == ["Erin · Climate Camp: one", "Erin · Climate Camp: two"]
    [back] = world.services.copies_in(CAMP)
    assert back.content["body"] == "Ada · commons: three"
    assert back.content["m.relates_to"]["event_id"] == root.event_id


async def test_the_routes_of_a_message_come_in_one_read_with_each_sides_movement(
    world: World,
) -> None:
    root, commons_root = await shared_thread(world)
    template, _ = await world.command(TENANTS, CAL, "follow 1")
    assert template == "follow_started"
    store = world.services.store
    [tenants] = await adb.movements_of_room(store, TENANTS)

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
    await world.command(TENANTS, CAL, "unfollow 1")  # stopped here: no route starts there...
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
    await world.handle(message)
    [again] = await rdb.copies_of(world.services.store, message.event_id)
    assert again.copy_event_id == row.copy_event_id
    keys = [k for k in world.services.send_calls if message.event_id in k]
    assert keys == [keys[0], keys[0]]  # sent twice with one transaction key...
    assert len(world.services.copies_in(COMMONS)) == 2  # ...and the homeserver made one copy


async def test_commands_bot_notices_and_relayed_copies_are_not_relayed(world: World) -> None:
    root, _ = await shared_thread(world)
    template, _ = await world.command(CAMP, ERIN, "ping", thread=root.event_id)
    assert template == "pong"
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
        await world.handle(event)
    person = world.event(
        CAMP,
        ERIN,
        {
            "msgtype": "m.notice",
            "body": "a person's notice",
            "m.relates_to": in_thread(root.event_id),
        },
    )
    await world.handle(person)
    bodies = [s.content["body"] for s in world.services.copies_in(COMMONS)][1:]
    assert bodies == ["Erin · Climate Camp: a person's notice"]


async def test_a_commons_voice_is_attributed_to_their_only_movement(world: World) -> None:
    _, commons_root = await shared_thread(world)
    world.services.rooms[COMMONS].members[CAL] = "join"
    world.services.rooms[COMMONS].display_names[CAL] = "Cal"
    await world.say(COMMONS, CAL, "tenants here", thread=commons_root)
    world.services.rooms[CAMP].members[CAL] = "join"  # now in two movement rooms
    await world.say(COMMONS, CAL, "and camp too", thread=commons_root)
    bodies = [s.content["body"] for s in world.services.copies_in(CAMP)]
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
    await world.handle(image)
    last = world.services.copies_in(COMMONS)[-1]
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
    await world.handle(lost)
    await world.handle(lost)
    [row] = await rdb.copies_of(world.services.store, lost.event_id)
    assert row.state == "failed"
    assert world.services.send_calls.count(f"relay/{lost.event_id}/{COMMONS}") == 1
    await world.say(CAMP, ERIN, "still here", thread=root.event_id)
    assert world.services.copies_in(COMMONS)[-1].content["body"].endswith("still here")


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
    await world.handle(world.event(CAMP, BEA, edit))  # not the writer: ignored
    await world.handle(world.event(CAMP, ERIN, edit))
    sent = world.services.copies_in(COMMONS)[-1].content
    assert sent["m.relates_to"] == {"rel_type": "m.replace", "event_id": copy.copy_event_id}
    assert sent["m.new_content"]["body"] == "Erin · Climate Camp: fixed"
    assert len(world.services.copies_in(COMMONS)) == 3  # root, message, one edit


async def test_an_edit_of_the_first_message_keeps_the_link_back(world: World) -> None:
    root, commons_root = await shared_thread(world)
    await world.handle(
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
    edit = world.services.copies_in(COMMONS)[-1].content
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
    await world.handle(stranger)
    assert world.services.redacted == []
    redaction = world.event(
        CAMP, ERIN, {"redacts": message.event_id}, kind="m.room.redaction", redacts=message.event_id
    )
    await world.handle(redaction)
    await world.handle(redaction)
    assert world.services.redacted == [
        (COMMONS, copy.copy_event_id, f"relay/{redaction.event_id}/{COMMONS}")
    ]
    # A moderator's removal of the thread's first message removes its copy too, even later.
    template, _ = await world.command(CAMP, BEA, "unshare", thread=root.event_id)
    assert template == "share_stopped"
    by_moderator = world.event(CAMP, BEA, {}, kind="m.room.redaction", redacts=root.event_id)
    world.services.rooms[CAMP].power_levels = {"users": {BEA: 100}}
    await world.handle(by_moderator)
    assert world.services.redacted[-1][:2] == (
        COMMONS,
        (await rdb.copies_of(world.services.store, root.event_id))[0].copy_event_id,
    )


# -- consent ------------------------------------------------------------------------------------


async def test_a_movement_that_leaves_stops_relays_even_if_it_joins_again(world: World) -> None:
    root, commons_root = await shared_thread(world)
    store = world.services.store
    [camp] = await adb.movements_of_room(store, CAMP)
    await adb.leave_alliance(store, camp.id, left_by=BEA, left_at=TS, event_id="$leave")
    gone = await world.say(CAMP, ERIN, "after leaving", thread=root.event_id)
    back = await world.say(COMMONS, ADA, "hello?", thread=commons_root)
    assert await rdb.copies_of(store, gone.event_id) == []
    assert await rdb.copies_of(store, back.event_id) == []
    await join(store, camp.alliance_id, CAMP, BEA, "Climate Camp", round_=2)
    again = await world.say(CAMP, ERIN, "we are back", thread=root.event_id)
    assert await rdb.copies_of(store, again.event_id) == []
    template, message = await world.command(CAMP, BEA, "share", thread=root.event_id)
    assert template == "share_started", message.body  # sharing again is a new consent


async def test_encrypted_content_needs_the_warning_then_a_moderator(world: World) -> None:
    world.services.rooms[CAMP].encrypted = True
    root = world.event(CAMP, ERIN, {"msgtype": "m.text", "body": "secret plan"})
    template, message = await world.command(
        CAMP, ERIN, "share --allow-unencrypted", thread=root.event_id
    )
    assert template == "command_error"
    assert "Only a moderator" in message.body
    template, message = await world.command(
        CAMP, BEA, "share --allow-unencrypted", thread=root.event_id
    )
    assert template == "share_warning", "the flag counts only after the warning"
    assert "This room is encrypted, but the commons room Earth commons" in message.body
    template, _ = await world.command(CAMP, BEA, "share --allow-unencrypted", thread=root.event_id)
    assert template == "share_started"
    assert len(world.services.copies_in(COMMONS)) == 1


async def test_an_unencrypted_room_cannot_follow_what_encrypted_rooms_did_not_release(
    world: World,
) -> None:
    world.services.rooms[CAMP].encrypted = True
    world.services.rooms[COMMONS].encrypted = True
    root = world.event(CAMP, BEA, {"msgtype": "m.text", "body": "secret plan"})
    template, _ = await world.command(CAMP, BEA, "share", thread=root.event_id)
    assert template == "share_started"  # both encrypted: no warning needed
    template, message = await world.command(TENANTS, CAL, "follow 1")
    assert template == "command_error"
    assert "Only an encrypted room may follow it" in message.body


# -- following ----------------------------------------------------------------------------------


async def test_follow_unfollow_and_unshare_are_announced_in_every_linked_thread(
    world: World,
) -> None:
    root, commons_root = await shared_thread(world)
    template, message = await world.command(TENANTS, CAL, "shared")
    assert "#1 from Climate Camp: Shall we march on the 12th?" in message.body
    template, message = await world.command(TENANTS, ERIN, "follow 1")
    assert template == "permission_denied"
    template, message = await world.command(TENANTS, CAL, "follow 2")
    assert "no shared thread #2" in message.body
    template, message = await world.command(CAMP, BEA, "follow 1")
    assert "comes from this room" in message.body
    template, message = await world.command(TENANTS, CAL, "follow 1")
    assert template == "follow_started", message.body
    [tenants_copy] = world.services.copies_in(TENANTS)
    tenants_root = tenants_copy.event_id
    announced = {
        (room, root_id)
        for room, t, _, root_id in world.services.notices
        if t == "follow_joined_notice"
    }
    assert announced == {(CAMP, root.event_id), (COMMONS, commons_root)}

    message_ = await world.say(TENANTS, CAL, "hello from tenants", thread=tenants_root)
    targets = {
        c.target_room_id for c in await rdb.copies_of(world.services.store, message_.event_id)
    }
    assert targets == {CAMP, COMMONS}

    template, _ = await world.command(TENANTS, CAL, "unfollow", thread=tenants_root)
    assert template == "follow_stopped"
    stopped = {room for room, t, _, _ in world.services.notices if t == "follow_stopped_notice"}
    assert stopped == {CAMP, COMMONS}
    template, message = await world.command(TENANTS, CAL, "follow 1")
    assert "again" in message.body
    assert len(world.services.copies_in(TENANTS)) == 1  # the root was not posted twice

    template, message = await world.command(CAMP, ERIN, "unshare")
    assert "Only the thread's author" in message.body
    template, message = await world.command(CAMP, BEA, "unshare")
    assert template == "share_stopped"
    assert "the commons (Earth commons) and Tenants Union" in message.body
    ended = {(room, r) for room, t, _, r in world.services.notices if t == "share_stopped_notice"}
    assert ended == {(COMMONS, commons_root), (TENANTS, tenants_root), (CAMP, root.event_id)}
    silent = await world.say(CAMP, ERIN, "nobody hears", thread=root.event_id)
    assert await rdb.copies_of(world.services.store, silent.event_id) == []
    _, message = await world.command(COMMONS, ADA, "shared")
    assert "none at the moment" in message.body
