"""The alliance commands end to end without a homeserver: real router, templates and SQLite.

A fake `Services` stands in for the bot's Matrix side: it records the state events, spaces,
invites and notices the commands ask for, and renders every message from its templates.
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
from commands import alliance_store as db
from commands import build_registry
from commands.alliance import settle_decisions
from commands.alliance_store import PollRef, StatementChange
from commands.decision import ConsensusCounts, Rule, decide
from commands.registry import Reply

BOT = "@bot:hs"
ADA, BEA, CAL, DEE, EVE = "@ada:hs", "@bea:hs", "@cal:hs", "@dee:hs", "@eve:hs"
COMMONS, CAMP, TENANTS, FARMERS = (
    RoomID("!commons:hs"),
    RoomID("!camp:hs"),
    RoomID("!tenants:hs"),
    RoomID("!farmers:hs"),
)
CONSENSUS = Rule("consensus", None)
POLL_START = "org.matrix.msc3381.poll.start"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"


@dataclass
class FakeServices:
    config: Config
    store: Store
    rooms: dict[RoomID, RoomState]
    renderer: Renderer
    state: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    spaces: list[tuple[str, str | None, list[str]]] = field(default_factory=list)
    invites: list[tuple[str, str]] = field(default_factory=list)
    notices: list[tuple[RoomID, str, Message]] = field(default_factory=list)
    sent_keys: set[str] = field(default_factory=set)
    sent: dict[str, tuple[RoomID, str, EventID]] = field(default_factory=dict)

    def room(self, room_id: RoomID) -> RoomState:
        return self.rooms.setdefault(room_id, RoomState(room_id))

    async def leave(self, room_id: RoomID) -> None:
        raise AssertionError("not expected")

    async def send_state(
        self, room_id: RoomID, *, event_type: str, state_key: str, content: dict[str, Any]
    ) -> EventID:
        self.state[(room_id, event_type, state_key)] = content
        return EventID("$state")

    async def create_space(
        self, *, name: str, topic: str, invite: list[str], key: str | None = None
    ) -> RoomID:
        self.spaces.append((name, key, invite))
        return RoomID(f"!space{len(self.spaces)}:hs")

    async def find_space(self, key: str) -> RoomID | None:
        for n, (_, made_key, _) in enumerate(self.spaces, start=1):
            if made_key == key:
                return RoomID(f"!space{n}:hs")
        return None

    async def invite(self, room_id: RoomID, user_id: str) -> None:
        self.invites.append((room_id, user_id))

    async def send(
        self, room_id: RoomID, *, event_type: str, content: dict[str, Any], txn_key: str
    ) -> EventID | None:
        key = f"{txn_key}/{event_type}"
        if key not in self.sent:  # the same transaction gives the same event, like Synapse
            self.sent[key] = (room_id, event_type, EventID(f"$sent{len(self.sent) + 1}"))
        return self.sent[key][2]

    def polls_in(self, room: RoomID) -> list[EventID]:
        return [e for r, kind, e in self.sent.values() if r == room and kind == POLL_START]

    async def notice(
        self,
        room_id: RoomID,
        reply: Reply,
        *,
        txn_key: str,
        answering: Event | None = None,
        thread_root: EventID | None = None,
    ) -> EventID | None:
        if txn_key not in self.sent_keys:  # like a transaction id: the same key sends once
            self.sent_keys.add(txn_key)
            self.notices.append(
                (room_id, reply.template, self.renderer.render(reply.template, reply.data))
            )
        return EventID("$notice")


def room_state(room_id: RoomID, creator: str, name: str, members: dict[str, int]) -> RoomState:
    room = RoomState(room_id)
    room.create_sender = creator
    room.create_content = {"room_version": "12"}
    room.power_levels = {"users": dict(members), "users_default": 0}
    room.name = name
    room.members = dict.fromkeys((creator, *members, BOT), "join")
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

    async def say(
        self, room: RoomID, sender: str, text: str, *, event_id: str | None = None
    ) -> tuple[str, Message]:
        event = Event(
            event_id=EventID(event_id or f"$e{next(self._ids)}"),
            room_id=room,
            sender=UserID(sender),
            type="m.room.message",
            ts=1_764_000_000_000,
            content={"msgtype": "m.text", "body": f"!{text}"},
        )
        reply = await self.router.route(event, self.services.room(room), text)
        return reply.template, self.services.renderer.render(reply.template, reply.data)

    async def body(self, room: RoomID, sender: str, text: str) -> str:
        return (await self.say(room, sender, text))[1].body

    def notices_in(self, room: RoomID) -> list[str]:
        return [m.body for r, _, m in self.services.notices if r == room]

    async def vote(self, room: RoomID, sender: str, poll: EventID, answer: str) -> None:
        """Click a poll button the way Element does (handled by the polls family's listener)."""
        event = Event(
            event_id=EventID(f"$vote{next(self._ids)}"),
            room_id=room,
            sender=UserID(sender),
            type=POLL_RESPONSE,
            ts=1_764_000_000_001,
            content={
                "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
                POLL_RESPONSE: {"answers": [answer]},
            },
        )
        for listener in self.router._registry.listeners:
            if event.type in listener.event_types:
                await listener.handler(self.services, event)  # type: ignore[arg-type]

    async def decide(self, room: RoomID, closer: str, number: int, votes: dict[str, str]) -> None:
        """Vote on poll `number` of the room, close it, and let the bot settle what it decided."""
        poll = self.services.polls_in(room)[number - 1]
        for sender, answer in votes.items():
            await self.vote(room, sender, poll, answer)
        template, message = await self.say(room, closer, f"poll close {number}")
        assert template == "poll_results", message.body
        await settle_decisions(self.services)  # type: ignore[arg-type]


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
        COMMONS: room_state(COMMONS, ADA, "Commons", {EVE: 0}),
        CAMP: room_state(CAMP, BEA, "Camp room", {EVE: 0}),
        TENANTS: room_state(TENANTS, CAL, "Tenants room", {}),
        FARMERS: room_state(FARMERS, DEE, "Farmers room", {}),
    }
    services = FakeServices(config, store, rooms, Renderer(globals={"prefix": "!"}))
    yield World(services)
    await store.close()


async def make_alliance(world: World) -> None:
    template, _ = await world.say(COMMONS, ADA, "alliance create Earth Alliance")
    assert template == "alliance_created"
    for room, mod, name in (
        (CAMP, BEA, "Climate Camp"),
        (TENANTS, CAL, "Tenants Union"),
        (FARMERS, DEE, "Farmers"),
    ):
        template, _ = await world.say(room, mod, f"movement join earth-alliance as {name}")
        assert template == "movement_join_requested"
        template, _ = await world.say(COMMONS, ADA, f"movement approve {name}")
        assert template == "movement_decided"


async def test_an_alliance_gets_a_space_with_the_commons_in_it(world: World) -> None:
    template, message = await world.say(
        COMMONS, ADA, "alliance create Earth Alliance", event_id="$make"
    )
    assert template == "alliance_created"
    assert "Earth Alliance" in message.body
    assert "!movement join earth-alliance as" in message.body
    assert "!commons" not in message.body
    assert "!space" not in message.body
    assert world.services.spaces == [("Earth Alliance", db.space_key_for("$make"), [ADA])]
    assert world.services.state[("!space1:hs", "m.space.child", COMMONS)] == {"via": ["hs"]}

    # The same command handled again after a crash: no second alliance, no second space.
    again, _ = await world.say(COMMONS, ADA, "alliance create Earth Alliance", event_id="$make")
    assert again == "alliance_created"
    assert len(world.services.spaces) == 1
    assert len(await db.all_alliances(world.services.store)) == 1


async def test_a_space_lost_in_a_crash_is_found_again_not_made_twice(world: World) -> None:
    await world.say(COMMONS, ADA, "alliance create Earth Alliance", event_id="$make")
    earth = await db.alliance_by_event(world.services.store, "$make")
    assert earth is not None
    async with world.services.store.transaction() as conn:  # as if the crash came before saving
        await conn.execute("UPDATE alliances SET space_id = NULL")
    await world.say(COMMONS, ADA, "alliance create Earth Alliance", event_id="$make")
    assert len(world.services.spaces) == 1
    assert (await db.alliance_by_event(world.services.store, "$make")).space_id == "!space1:hs"  # type: ignore[union-attr]


async def test_creating_an_alliance_needs_a_moderator_or_a_listed_admin(world: World) -> None:
    template, _message = await world.say(COMMONS, EVE, "alliance create Earth Alliance")
    assert template == "permission_denied"
    world.services.config = Config(
        **{**world.services.config.__dict__, "admins": frozenset({UserID(BEA)})}
    )
    world.router = Router(
        registry=build_registry(),
        config=world.services.config,
        store=world.services.store,
        services=world.services,  # type: ignore[arg-type]
    )
    body = await world.body(COMMONS, ADA, "alliance create Earth Alliance")
    assert "Only a bot admin" in body


async def test_names_must_be_unique_and_sensible(world: World) -> None:
    await world.say(COMMONS, ADA, "alliance create Earth Alliance")
    assert "already an alliance called Earth Alliance" in await world.body(
        CAMP, BEA, "alliance create EARTH   alliance"
    )
    assert "at most 80" in await world.body(CAMP, BEA, "alliance create " + "x" * 90)
    assert "Missing <name>" in await world.body(CAMP, BEA, "alliance create")
    await world.say(CAMP, BEA, "movement join earth-alliance as Climate Camp")
    body = await world.body(TENANTS, CAL, "movement join Earth Alliance as climate camp")
    assert "already called Climate Camp" in body
    body = await world.body(TENANTS, CAL, "movement join Moon Alliance as Tenants")
    assert "no alliance called “Moon Alliance”" in body
    assert "Alliances: Earth Alliance" in body


async def test_join_approve_reject_and_leave_with_consent_on_both_sides(world: World) -> None:
    await world.say(COMMONS, ADA, "alliance create Earth Alliance")
    # Only a moderator of the movement's room asks.
    template, _ = await world.say(CAMP, EVE, "movement join earth-alliance as Climate Camp")
    assert template == "permission_denied"
    body = await world.body(CAMP, BEA, "movement join earth-alliance as Climate Camp")
    assert "approve climate-camp" in body
    assert world.notices_in(COMMONS)[-1].startswith("Climate Camp asks to join Earth Alliance")
    # Only commons moderators answer, and only in the commons.
    assert (await world.say(COMMONS, EVE, "movement approve climate-camp"))[
        0
    ] == "permission_denied"
    assert "Only in the commons room of Earth Alliance" in await world.body(
        CAMP, BEA, "movement approve climate-camp"
    )
    assert "Waiting: Climate Camp (climate-camp)" in await world.body(
        COMMONS, ADA, "movement approve bakers"
    )
    body = await world.body(COMMONS, ADA, "movement approve climate camp")
    assert "Climate Camp is now a member of Earth Alliance" in body
    assert world.services.state[("!space1:hs", "m.space.child", CAMP)] == {"via": ["hs"]}
    assert ("!space1:hs", BEA) in world.services.invites
    assert "accepted Climate Camp" in world.notices_in(CAMP)[-1]
    assert "already a member" in await world.body(COMMONS, ADA, "movement approve climate-camp")

    await world.say(TENANTS, CAL, "movement join earth-alliance as Tenants")
    assert "was not accepted" in await world.body(COMMONS, ADA, "movement reject tenants")
    assert "did not accept Tenants" in world.notices_in(TENANTS)[-1]

    body = await world.body(COMMONS, EVE, "movements")
    assert "Climate Camp (climate-camp): member" in body
    assert "Tenants" not in body

    assert "has left Earth Alliance" in await world.body(CAMP, BEA, "movement leave")
    assert world.services.state[("!space1:hs", "m.space.child", CAMP)] == {}
    assert "Climate Camp (climate-camp): left" in await world.body(COMMONS, EVE, "alliance")


async def test_objectives_are_proposed_imported_and_listed(world: World) -> None:
    await make_alliance(world)
    body = await world.body(COMMONS, EVE, "objective propose Respect for nature")
    assert "Objective #1 of Earth Alliance: Respect for nature" in body
    assert "!endorse 1" in body
    assert "already objective #1" in await world.body(
        COMMONS, EVE, "objective propose respect for nature."
    )
    assert "at most 500" in await world.body(COMMONS, EVE, "objective propose " + "y" * 501)
    assert "Missing <text>" in await world.body(COMMONS, EVE, "objective propose")
    assert "Only in the commons room" in await world.body(CAMP, BEA, "objective propose Peace")
    assert (await world.say(COMMONS, EVE, "objective import\nA\nB"))[0] == "permission_denied"

    body = await world.body(
        COMMONS,
        ADA,
        "objective import\n1. Radical egalitarianism\n2. Respect for nature\n"
        "- Democratic procedures",
    )
    assert "#2 Radical egalitarianism" in body
    assert "#3 Democratic procedures" in body
    assert "Respect for nature: already objective #1" in body

    body = await world.body(CAMP, BEA, "objectives")
    assert "#1 Respect for nature" in body
    assert "not common yet" in body
    assert "(0 endorse, 2 needed)" in body


async def seed_stances(world: World) -> dict[str, int]:
    """Record endorsement outcomes as a closing consensus poll will (polls are not wired yet)."""
    store = world.services.store
    earth = (await db.all_alliances(store))[0]
    movements = {m.name: m for m in await db.movements_of(store, earth.id)}
    objectives = {o.number: o for o in await db.objectives_of(store, earth.id)}
    plan = {
        ("Climate Camp", 1): ConsensusCounts(agree=4),
        ("Tenants Union", 1): ConsensusCounts(agree=2, reservations=1),
        ("Farmers", 1): ConsensusCounts(agree=3),
        ("Climate Camp", 2): ConsensusCounts(agree=5),
        ("Tenants Union", 2): ConsensusCounts(agree=6),
        ("Farmers", 2): ConsensusCounts(agree=0, block=4),
    }
    for n, ((name, number), counts) in enumerate(plan.items(), start=1):
        await db.record_stance(
            store,
            movement_id=movements[name].id,
            objective_id=objectives[number].id,
            outcome=decide(CONSENSUS, counts),
            poll=PollRef(movements[name].room_id, poll_id=n, event_id=EventID(f"$poll{n}")),
            decided_at=1_764_000_000_000,
            block_reasons=["Land first"] if counts.block else [],
        )
    return {name: m.id for name, m in movements.items()}


async def test_compare_in_three_forms_and_bridging(world: World) -> None:
    await make_alliance(world)
    await world.say(
        COMMONS,
        ADA,
        "objective import\nRespect for nature\nRadical egalitarianism\nDemocratic procedures",
    )
    await seed_stances(world)
    await db.apply_statement_change(
        world.services.store,
        room_id=CAMP,
        change=StatementChange.add("We live within the limits of the living world."),
        outcome=decide(CONSENSUS, ConsensusCounts(agree=3)),
        poll=PollRef(CAMP, poll_id=99, event_id=EventID("$statement")),
        decided_at=1_764_000_000_000,
    )
    assert (await world.say(CAMP, EVE, "statement link 1 1"))[0] == "permission_denied"
    body = await world.body(CAMP, BEA, "statement link 1 #1")
    assert "item 1 of Climate Camp's statement is its own wording of objective #1" in body
    assert "no objective #9" in await world.body(CAMP, BEA, "statement link 1 9")
    assert "no item 4" in await world.body(CAMP, BEA, "statement link 4 1")

    template, matrix = await world.say(TENANTS, CAL, "compare")
    assert template == "compare_matrix"
    assert "#1 Respect for nature (COMMON: 3 endorse, 2 needed)" in matrix.body
    assert "✗ Farmers" in matrix.body
    assert "<table>" in matrix.html
    assert '<th><a href="https://matrix.to/#/' in matrix.html

    body = await world.body(TENANTS, CAL, "compare climate camp tenants union")
    assert "Both endorse:\n  #1 Respect for nature" in body
    assert "Climate Camp: “We live within the limits of the living world.”" in body
    assert "Neither endorses 1 other objective" in body

    body = await world.body(FARMERS, DEE, "compare 2")
    assert (
        "✗ Farmers does not endorse (0 agree, 0 with reservations, 0 stand aside, 4 block)" in body
    )
    assert "block: Land first" in body
    assert "It is COMMON: 2 endorse, 2 needed" in body

    body = await world.body(COMMONS, EVE, "compare bakers tenants")
    assert "“bakers” is not an active movement" in body
    assert "Farmers (farmers)" in body

    body = await world.body(COMMONS, EVE, "bridging")
    lines = body.splitlines()
    assert lines[1].startswith("  1. #1 Respect for nature: 0.")
    assert (
        "Dividing the alliance:\n"
        "  - #2 Radical egalitarianism: towards Climate Camp and Tenants Union; away Farmers"
        in body
    )
    assert "!help bridging" in body
    help_body = await world.body(COMMONS, EVE, "help bridging")
    assert "(Agree + Agree with reservations + 1) divided by (all votes + 2)" in help_body


async def test_statements_show_versions_and_other_movements_read_only(world: World) -> None:
    await make_alliance(world)
    body = await world.body(CAMP, EVE, "statement")
    assert "Climate Camp has no core statement yet" in body
    for n, text in enumerate(("We defend the commons.", "We act <b>together</b>."), start=1):
        await db.apply_statement_change(
            world.services.store,
            room_id=CAMP,
            change=StatementChange.add(text),
            outcome=decide(CONSENSUS, ConsensusCounts(agree=3)),
            poll=PollRef(CAMP, poll_id=n, event_id=EventID(f"$s{n}")),
            decided_at=1_764_000_000_000,
        )
    template, shown = await world.say(TENANTS, CAL, "statement climate-camp")
    assert template == "statement_show"
    assert "Core statement of Climate Camp, version 2 of 2025-11-24" in shown.body
    assert "2. We act <b>together</b>." in shown.body
    assert "&lt;b&gt;together&lt;/b&gt;" in shown.html  # people's text is escaped in HTML
    assert "https://matrix.to/#/%21camp%3Ahs/%24s1" in shown.html
    assert "statement propose" not in shown.body  # no hints about changing another's statement
    body = await world.body(CAMP, BEA, "statement history")
    assert "v2, 2025-11-24: added item 2" in body
    assert "Item 1 of the statement already says that" in await world.body(
        CAMP, EVE, "statement propose we defend the COMMONS"
    )
    assert "no item 7" in await world.body(CAMP, EVE, "statement drop 7")


async def test_an_endorsement_is_decided_by_a_consensus_poll_in_the_movements_room(
    world: World,
) -> None:
    await make_alliance(world)
    await world.say(COMMONS, ADA, "objective propose Respect for nature")
    template, opened = await world.say(CAMP, EVE, "endorse 1", event_id="$endorse")
    assert template == "objective_endorse_opened"
    assert "Consensus poll #1 is open: does Climate Camp endorse objective #1" in opened.body
    assert "!poll close 1" in opened.body
    # Handled again after a crash: still one poll.
    await world.say(CAMP, EVE, "endorse 1", event_id="$endorse")
    assert len(world.services.polls_in(CAMP)) == 1
    assert "already open" in await world.body(CAMP, BEA, "endorse 1")
    assert "… Climate Camp" in await world.body(COMMONS, EVE, "compare")

    await world.decide(CAMP, EVE, 1, {BEA: "agree", EVE: "reservations"})
    assert (
        "Recorded: Climate Camp endorses objective #1 of Earth Alliance"
        in (world.notices_in(CAMP)[-1])
    )
    await settle_decisions(world.services)  # type: ignore[arg-type]
    assert sum("Recorded:" in n for n in world.notices_in(CAMP)) == 1  # told once
    assert "✓ Climate Camp endorses (1 agree, 1 with reservations" in await world.body(
        COMMONS, EVE, "compare 1"
    )


async def test_a_blocked_endorsement_is_recorded_with_the_blocks_reason(world: World) -> None:
    await make_alliance(world)
    await world.say(COMMONS, ADA, "objective propose Respect for nature")
    await world.say(TENANTS, CAL, "endorse 1")
    await world.decide(TENANTS, CAL, 1, {CAL: "block"})
    told = world.notices_in(TENANTS)[-1]
    assert "Recorded: Tenants Union does not endorse objective #1" in told
    assert "block: no reason given" in told
    body = await world.body(CAMP, BEA, "compare 1")
    assert "✗ Tenants Union does not endorse (0 agree" in body


async def test_statement_changes_pass_by_poll_as_new_versions(world: World) -> None:
    await make_alliance(world)
    template, opened = await world.say(CAMP, EVE, "statement propose We defend the commons.")
    assert template == "statement_vote_opened"
    assert "Consensus poll #1 is open on this: add “We defend the commons.”" in opened.body
    assert "Climate Camp has no core statement yet" in await world.body(CAMP, EVE, "statement")
    await world.decide(CAMP, EVE, 1, {BEA: "agree"})
    assert "now version 1: item 1 added" in world.notices_in(CAMP)[-1]

    await world.say(CAMP, BEA, "statement amend 1 We defend the commons together.")
    await world.say(CAMP, BEA, "statement propose We act without violence.")
    await world.decide(CAMP, BEA, 2, {BEA: "agree", EVE: "agree"})
    await world.decide(CAMP, BEA, 3, {BEA: "agree", EVE: "block"})
    assert "The statement stays as it was. Not passed: 1 block." in world.notices_in(CAMP)[-1]
    await world.say(CAMP, EVE, "statement drop 1")
    await world.decide(CAMP, EVE, 4, {EVE: "agree"})

    history = [
        line.split(": ", 1)
        for line in (await world.body(CAMP, EVE, "statement history")).splitlines()[1:]
    ]
    assert [(when.split(",")[0].strip(), what) for when, what in history] == [
        ("v3", "dropped item 1: We defend the commons together."),
        ("v2", "amended item 1 to: We defend the commons together. (was: We defend the commons.)"),
        ("v1", "added item 1: We defend the commons."),
    ]
    assert "no core statement yet" in await world.body(CAMP, EVE, "statement")
    assert "has no items yet" in await world.body(CAMP, EVE, "statement drop 1")


async def test_a_room_in_two_alliances_is_asked_which(world: World) -> None:
    await make_alliance(world)
    await world.say(TENANTS, CAL, "alliance create Housing Front")
    await world.say(CAMP, BEA, "movement join housing-front as Climate Camp")
    await world.say(TENANTS, CAL, "movement approve climate-camp")
    body = await world.body(CAMP, EVE, "objectives")
    assert "several alliances: Earth Alliance and Housing Front" in body
    assert "--alliance earth-alliance" in body
    body = await world.body(CAMP, EVE, "objectives --alliance housing")  # the start of a slug
    assert "Housing Front has no common objectives yet" in body
    await world.say(COMMONS, EVE, "objective propose Respect for nature")
    body = await world.body(CAMP, EVE, "compare --alliance earth-alliance")
    assert "Where each movement of Earth Alliance stands" in body
    body = await world.body(FARMERS, DEE, "alliance --alliance housing-front")
    assert "This room is not part of Housing Front" in body
