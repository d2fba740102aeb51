"""The alliance commands end to end without a homeserver: real router, templates and SQLite.

The fake `Services` of `tests.unit.fakes` stands in for the bot's Matrix side: it records the
state events, spaces, invites and notices the commands ask for, rendered from the templates.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.contract import Reply, Words
from bot.ids import EventID, RoomID, UserID
from bot.pages import REPLY_LIMIT, SHORT_TEXT, Fit, Layout, reply_size
from bot.render import Message, Renderer
from bot.rooms import RoomState
from bot.router import Router
from bot.store import Store
from commands.alliance import objectives_store, statements_store
from commands.alliance.decisions import settle_decisions
from commands.alliance.names import name_key
from commands.alliance.objectives import MATRIX_COLUMNS, cut_text
from commands.alliance.statements_store import StatementChange
from commands.alliance.store import (
    Movement,
    PollRef,
    all_alliances,
    alliance_by_event,
    create_alliance,
    decide_movement,
    movements_of,
    request_join,
    space_key_for,
)
from commands.polls.lifecycle import close_due_room_polls
from commands.polls.rules import ConsensusCounts, Rule, decide
from tests.unit.fakes import FakeServices, Harness, make_config, room_state

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
TS = 1_764_000_000_000


class World(Harness):
    async def say(
        self, room: RoomID, sender: str, text: str, *, event_id: str | None = None
    ) -> tuple[str, Message]:
        reply, message = await self.answer(room, sender, text, event_id=event_id)
        return reply.template, message

    async def body(self, room: RoomID, sender: str, text: str) -> str:
        return (await self.say(room, sender, text))[1].body

    def notices_in(self, room: RoomID) -> list[str]:
        return [n.message.body for n in self.services.notices if n.room_id == room]

    def polls_in(self, room: RoomID) -> list[EventID]:
        return [
            s.event_id
            for s in self.services.sent
            if s.room_id == room and s.event_type == POLL_START
        ]

    async def vote(self, room: RoomID, sender: str, poll: EventID, answer: str) -> None:
        """Click a poll button the way Element does (handled by the polls family's listener)."""
        content = {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            POLL_RESPONSE: {"answers": [answer]},
        }
        await self.listen(self.make_event(room, sender, POLL_RESPONSE, content))

    async def decide(self, room: RoomID, closer: str, number: int, votes: dict[str, str]) -> None:
        """Vote on poll `number` of the room, close it, and let the bot settle what it decided."""
        poll = self.polls_in(room)[number - 1]
        for sender, answer in votes.items():
            await self.vote(room, sender, poll, answer)
        template, message = await self.say(room, closer, f"poll close {number}")
        assert template == "poll_results", message.body
        await settle_decisions(self.services)


def new_world(store: Store, data_dir: Path, rooms: list[RoomState]) -> World:
    return World(FakeServices(make_config(data_dir), store, rooms, forbid={"leave"}), clock=TS)


@pytest.fixture
def world(tmp_path: Path, store: Store) -> World:
    rooms = [
        room_state(COMMONS, ADA, members=[EVE], name="Commons"),
        room_state(CAMP, BEA, members=[EVE], name="Camp room"),
        room_state(TENANTS, CAL, name="Tenants room"),
        room_state(FARMERS, DEE, name="Farmers room"),
    ]
    return new_world(store, tmp_path, rooms)


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


async def test_the_commons_removes_a_movement_with_a_reason_and_keeps_the_record(
    world: World,
) -> None:
    await make_alliance(world)
    await world.say(COMMONS, ADA, "objective propose Respect for nature")
    template, _ = await world.say(COMMONS, EVE, "movement remove Climate Camp because spies")
    assert template == "permission_denied"  # a member of the commons, not a moderator
    assert "Please write the reason for removing Climate Camp" in await world.body(
        COMMONS, ADA, "movement remove Climate Camp"
    )
    assert "Say which movement to remove" in await world.body(
        COMMONS, ADA, "movement remove Bakers because no"
    )

    removed = await world.body(
        COMMONS, ADA, "movement remove Climate Camp because it shared our plans outside"
    )
    assert removed.startswith("Climate Camp is no longer a member of Earth Alliance")
    assert "Reason: it shared our plans outside" in removed
    told = world.notices_in(CAMP)[-1]
    assert "The commons of Earth Alliance removed Climate Camp" in told
    assert "Reason given: it shared our plans outside" in told
    assert world.services.state[("!space1:hs", "m.space.child", CAMP)] == {}
    assert "Climate Camp (climate-camp): removed by the commons" in await world.body(
        COMMONS, ADA, "movements"
    )
    # The removed room reads the alliance no more; the others go on.
    assert "not part of an alliance" in await world.body(CAMP, BEA, "objectives")
    assert "Respect for nature" in await world.body(TENANTS, CAL, "objectives")


async def test_an_alliance_gets_a_space_with_the_commons_in_it(world: World) -> None:
    template, message = await world.say(
        COMMONS, ADA, "alliance create Earth Alliance", event_id="$make"
    )
    assert template == "alliance_created"
    assert "Earth Alliance" in message.body
    assert "!movement join earth-alliance as" in message.body
    assert "!commons" not in message.body
    assert "!space" not in message.body
    assert world.services.spaces == [("Earth Alliance", space_key_for("$make"), [ADA])]
    assert world.services.state[("!space1:hs", "m.space.child", COMMONS)] == {"via": ["hs"]}

    # The same command handled again after a crash: no second alliance, no second space.
    again, _ = await world.say(COMMONS, ADA, "alliance create Earth Alliance", event_id="$make")
    assert again == "alliance_created"
    assert len(world.services.spaces) == 1
    assert len(await all_alliances(world.services.store)) == 1


async def test_a_space_lost_in_a_crash_is_found_again_not_made_twice(world: World) -> None:
    await world.say(COMMONS, ADA, "alliance create Earth Alliance", event_id="$make")
    earth = await alliance_by_event(world.services.store, "$make")
    assert earth is not None
    async with world.services.store.transaction() as conn:  # as if the crash came before saving
        await conn.execute("UPDATE alliances SET space_id = NULL")
    await world.say(COMMONS, ADA, "alliance create Earth Alliance", event_id="$make")
    assert len(world.services.spaces) == 1
    assert (await alliance_by_event(world.services.store, "$make")).space_id == "!space1:hs"  # type: ignore[union-attr]


async def test_creating_an_alliance_needs_a_moderator_or_a_listed_admin(world: World) -> None:
    template, _message = await world.say(COMMONS, EVE, "alliance create Earth Alliance")
    assert template == "permission_denied"
    world.services.config = replace(world.services.config, admins=frozenset({UserID(BEA)}))
    world.router = Router(
        registry=world.registry,
        config=world.services.config,
        store=world.services.store,
        services=world.services,
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
    assert "I know no alliance called “Moon Alliance”" in body
    assert "Earth Alliance" not in body  # the alliances the bot knows are not listed to anyone


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
    earth = (await all_alliances(store))[0]
    movements = {m.name: m for m in await movements_of(store, earth.id)}
    objectives = {o.number: o for o in await objectives_store.objectives_of(store, earth.id)}
    plan = {
        ("Climate Camp", 1): ConsensusCounts(agree=4),
        ("Tenants Union", 1): ConsensusCounts(agree=2, reservations=1),
        ("Farmers", 1): ConsensusCounts(agree=3),
        ("Climate Camp", 2): ConsensusCounts(agree=5),
        ("Tenants Union", 2): ConsensusCounts(agree=6),
        ("Farmers", 2): ConsensusCounts(agree=0, block=4),
    }
    for n, ((name, number), counts) in enumerate(plan.items(), start=1):
        await objectives_store.record_stance(
            store,
            movement_id=movements[name].id,
            objective_id=objectives[number].id,
            outcome=decide(CONSENSUS, counts),
            reason="",
            poll=PollRef(movements[name].room_id, poll_id=n, event_id=EventID(f"$poll{n}")),
            decided_at=1_764_000_000_000,
            block_reasons=["Land first"] if counts.block else [],
        )
    return {name: m.id for name, m in movements.items()}


async def ratify_camp_statement(world: World) -> None:
    """Climate Camp's statement gets its first item, as a passed poll would give it."""
    await statements_store.apply_statement_change(
        world.services.store,
        room_id=CAMP,
        change=StatementChange.add("We live within the limits of the living world."),
        outcome=decide(CONSENSUS, ConsensusCounts(agree=3)),
        poll=PollRef(CAMP, poll_id=99, event_id=EventID("$statement")),
        decided_at=1_764_000_000_000,
    )


async def test_compare_in_three_forms_and_bridging(world: World) -> None:
    await make_alliance(world)
    await world.say(
        COMMONS,
        ADA,
        "objective import\nRespect for nature\nRadical egalitarianism\nDemocratic procedures",
    )
    await seed_stances(world)
    await ratify_camp_statement(world)
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

    body = await world.body(TENANTS, CAL, "compare Climate Camp")
    assert "To compare Climate Camp, name a second movement, e.g. !compare Climate Camp " in body
    template, pair = await world.say(TENANTS, CAL, "compare Climate Camp Farmers")
    assert template == "compare_pair"
    assert "Climate Camp and Farmers" in pair.body

    body = await world.body(COMMONS, EVE, "bridging")
    lines = body.splitlines()
    assert lines[1] == "  1. #1 Respect for nature: all 3 movements lean towards it"
    assert lines[2] == (
        "  2. #2 Radical egalitarianism: leaning towards it: Climate Camp and Tenants Union; "
        "leaning away: Farmers"
    )
    assert (
        "Dividing the alliance:\n"
        "  - #2 Radical egalitarianism: towards Climate Camp and Tenants Union; away Farmers"
        in body
    )
    # Nobody decided on #3: it is not ranked with a score, it is named as not decided yet.
    assert "3. #3" not in body
    assert "Not decided by any movement yet:\n  - #3 Democratic procedures" in body
    assert "0." not in body
    assert "!help bridging" in body
    help_body = await world.body(COMMONS, EVE, "help bridging")
    assert "(Agree + Agree with reservations + 1) divided by (all votes + 2)" in help_body
    assert "!endorse" in help_body


async def test_block_reasons_typed_in_an_encrypted_room_stay_in_encrypted_rooms(
    world: World,
) -> None:
    await make_alliance(world)
    await world.say(
        COMMONS, ADA, "objective import\nRespect for nature\nRadical egalitarianism\nDemocracy"
    )
    await seed_stances(world)  # Farmers blocked #2 with the reason "Land first"
    world.services.rooms[FARMERS].encrypted = True

    plain = await world.body(TENANTS, CAL, "compare 2")
    assert "Land first" not in plain
    assert "1 block reason was given in Farmers's encrypted room" in plain
    assert "block: Land first" in await world.body(FARMERS, DEE, "compare 2")
    world.services.rooms[TENANTS].encrypted = True
    assert "block: Land first" in await world.body(TENANTS, CAL, "compare 2")


async def test_a_statement_written_in_an_encrypted_room_stays_in_encrypted_rooms(
    world: World,
) -> None:
    await make_alliance(world)
    await world.say(COMMONS, ADA, "objective import\nRespect for nature\nRadical egalitarianism")
    await seed_stances(world)
    await ratify_camp_statement(world)
    await world.say(CAMP, BEA, "statement link 1 1")
    world.services.rooms[CAMP].encrypted = True
    words = "We live within the limits"

    for command in ("statement climate-camp", "statement history climate-camp"):
        sealed = await world.body(TENANTS, CAL, command)
        assert words not in sealed
        assert "wrote its statement in its encrypted room" in sealed
    pair = await world.body(TENANTS, CAL, "compare climate-camp tenants-union")
    assert words not in pair
    assert "Climate Camp wrote its own words in an encrypted room" in pair
    one = await world.body(TENANTS, CAL, "compare 1")
    assert words not in one
    assert "its own words for it stay in its encrypted room" in one
    # In an encrypted room of the alliance, and in its own room, they are read as ever.
    assert words in await world.body(CAMP, BEA, "statement")
    world.services.rooms[TENANTS].encrypted = True
    assert words in await world.body(TENANTS, CAL, "statement climate-camp")


async def test_statements_show_versions_and_other_movements_read_only(world: World) -> None:
    await make_alliance(world)
    body = await world.body(CAMP, EVE, "statement")
    assert "Climate Camp has no core statement yet" in body
    for n, text in enumerate(("We defend the commons.", "We act <b>together</b>."), start=1):
        await statements_store.apply_statement_change(
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
    assert len(world.polls_in(CAMP)) == 1
    assert "already open" in await world.body(CAMP, BEA, "endorse 1")
    assert "… Climate Camp" in await world.body(COMMONS, EVE, "compare")

    await world.decide(CAMP, BEA, 1, {BEA: "agree", EVE: "reservations"})
    assert (
        "Recorded: Climate Camp endorses objective #1 of Earth Alliance"
        in (world.notices_in(CAMP)[-1])
    )
    await settle_decisions(world.services)
    assert sum("Recorded:" in n for n in world.notices_in(CAMP)) == 1  # told once
    assert "✓ Climate Camp endorses (1 agree, 1 with reservations" in await world.body(
        COMMONS, EVE, "compare 1"
    )


async def test_one_member_cannot_decide_for_the_movement(world: World) -> None:
    await make_alliance(world)
    await world.say(COMMONS, ADA, "objective propose Respect for nature")
    await world.say(COMMONS, ADA, "objective propose Radical egalitarianism")
    opened = await world.body(CAMP, EVE, "endorse 1")
    assert "It closes on " in opened
    assert "A moderator may close it earlier (!poll close 1)" in opened
    poll = world.polls_in(CAMP)[0]
    await world.vote(CAMP, EVE, poll, "agree")

    # Eve opened it and voted for it, but may not close it before its time ...
    template, refused = await world.say(CAMP, EVE, "poll close 1")
    assert template == "poll_close_refused"
    assert "no one person closes it early: it closes by itself on " in refused.body
    await settle_decisions(world.services)
    assert "✓ Climate Camp endorses" not in await world.body(COMMONS, ADA, "compare 1")
    # ... nor ask for a shorter one.
    assert "--closes may only make it longer" in await world.body(
        CAMP, EVE, "endorse 2 --closes 1h"
    )

    # It closes by itself at its deadline (24 hours by default) and then decides.
    await close_due_room_polls(world.services, world.clock + 25 * 3600 * 1000)
    await settle_decisions(world.services)
    assert "✓ Climate Camp endorses (1 agree" in await world.body(COMMONS, ADA, "compare 1")


async def test_the_opener_may_withdraw_a_decision_and_moderators_set_the_deadline(
    world: World,
) -> None:
    await make_alliance(world)
    await world.say(COMMONS, ADA, "objective propose Respect for nature")
    assert (await world.say(CAMP, EVE, "rules set deadline 3d"))[0] == "permission_denied"
    assert "stay open 3 days" in await world.body(CAMP, BEA, "rules set deadline 3d")
    assert "stay open 3 days" in await world.body(CAMP, EVE, "rules")
    assert "a length of time" in await world.body(CAMP, BEA, "rules set deadline soon")

    await world.say(CAMP, EVE, "endorse 1")
    template, _ = await world.say(CAMP, BEA, "poll withdraw 1")
    assert template == "poll_withdraw_refused"  # only who opened it
    template, withdrawn = await world.say(CAMP, EVE, "poll withdraw 1")
    assert template == "poll_withdrawn"
    assert "decides nothing for the movement" in withdrawn.body
    assert world.services.redacted[-1][1] == world.polls_in(CAMP)[0]  # gone from Element
    await settle_decisions(world.services)
    assert (await world.say(CAMP, EVE, "endorse 1"))[0] == "objective_endorse_opened"
    opened = await world.body(CAMP, BEA, "poll results 2")
    assert "Open until " in opened  # the new poll runs the room's 3 days


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
    assert opened.body.startswith(
        "Consensus poll #1 is open on adding this to the statement: “We defend the commons.”\n"
    )
    assert "Climate Camp has no core statement yet" in await world.body(CAMP, EVE, "statement")
    await world.decide(CAMP, BEA, 1, {BEA: "agree"})
    assert "now version 1: item 1 added" in world.notices_in(CAMP)[-1]

    amend = await world.body(CAMP, BEA, "statement amend 1 We defend the commons together.")
    assert amend.startswith("Consensus poll #2 is open on changing item 1 of the statement.\n")
    await world.say(CAMP, BEA, "statement propose We act without violence.")
    await world.decide(CAMP, BEA, 2, {BEA: "agree", EVE: "agree"})
    await world.decide(CAMP, BEA, 3, {BEA: "agree", EVE: "block"})
    assert "The statement stays as it was. Not passed: 1 block." in world.notices_in(CAMP)[-1]
    drop = await world.body(CAMP, EVE, "statement drop 1")
    assert drop.startswith("Consensus poll #4 is open on dropping item 1 from the statement.\n")
    await world.decide(CAMP, BEA, 4, {EVE: "agree"})

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
    assert "This room is not part of an alliance called “housing-front”" in body
    assert "It is part of: Earth Alliance." in body


# -- big alliances: every answer fits one Matrix event, in few database reads -------------------


async def grow_alliance(
    world: World,
    *,
    movements: int,
    objectives: int,
    name: str = "Movement {n}",
    text: str = "Objective number {n}",
    wording: str = "In our words, {n}.",
) -> list[Movement]:
    """An alliance run from COMMONS with this many active movements and objectives.

    Movements, objectives and statements go through the store's own functions. The stances
    (about 2 in 3 of the pairs decided, 1 in 10 voting) are written in one transaction: a poll
    closing per pair would make the test slow without testing anything more.
    """
    store = world.services.store
    earth = await create_alliance(
        store,
        name="Earth Alliance",
        commons_room_id=COMMONS,
        created_by=ADA,
        created_at=1,
        command_event_id="$earth",
    )
    active = []
    for n in range(1, movements + 1):
        asked = await request_join(
            store,
            alliance_id=earth.id,
            room_id=RoomID(f"!movement{n}:hs"),
            name=name.format(n=n),
            requested_by=ADA,
            requested_at=2,
            event_id=f"$join{n}",
        )
        active.append(
            await decide_movement(
                store, asked.id, status="active", decided_by=ADA, decided_at=3, event_id=f"$ok{n}"
            )
        )
    added = await objectives_store.add_objectives(
        store,
        alliance_id=earth.id,
        texts=[text.format(n=n) for n in range(1, objectives + 1)],
        proposed_by=ADA,
        proposed_at=4,
        event_id="$objectives",
    )
    rows: list[tuple[Any, ...]] = []
    for i, movement in enumerate(active):
        for j, objective in enumerate(added):
            draw = (i * 7 + j * 13) % 30
            if draw >= 20:
                continue
            key = f"poll:{i}-{j}"
            if draw < 3:
                rows.append((movement.id, objective.id, "pending", key, None, None, None, None))
            else:
                state = "endorsed" if draw % 6 else "not_endorsed"
                blocks = '["Not before land reform"]' if state == "not_endorsed" else "[]"
                rows.append((movement.id, objective.id, state, key, 5, draw % 4, 1, blocks))
    async with store.transaction() as conn:
        await conn.executemany(
            "INSERT INTO stances (movement_id, objective_id, state, poll_key, poll_room_id,"
            " opened_at, agree, reservations, block, stand_aside, block_reasons)"
            " VALUES (?, ?, ?, ?, '!r:hs', 1, ?, ?, 0, ?, ?)",
            rows,
        )
    for movement in active[:: max(1, movements // 10)]:  # some movements word objective #1
        applied = await statements_store.apply_statement_change(
            store,
            room_id=movement.room_id,
            change=StatementChange.add(wording.format(n=movement.id)),
            outcome=decide(CONSENSUS, ConsensusCounts(agree=3)),
            poll=PollRef(movement.room_id, event_id=EventID(f"$statement{movement.id}")),
            decided_at=5,
        )
        assert applied.version is not None
        await objectives_store.link_item(
            store,
            room_id=movement.room_id,
            item_id=applied.version.item_id,
            objective_id=added[0].id,
            linked_by=ADA,
            linked_at=6,
        )
    return sorted(active, key=lambda m: name_key(m.name))


def size_of(message: Message) -> int:
    return reply_size(message)


async def every_page(world: World, command: str) -> list[tuple[Reply, Message]]:
    """Every page of a command's answer, following each page's own "next" command."""
    pages: list[tuple[Reply, Message]] = []
    text: str | None = command
    while text is not None:
        pages.append(await world.answer(COMMONS, EVE, text, event_id=f"$page{len(pages)}"))
        reply = pages[-1][0]
        page = reply.data.get("page")
        text = page["next"].removeprefix("!") if page and page["next"] else None
        assert len(pages) < 200, "paging does not end"
    return pages


async def test_a_big_alliances_table_comes_in_pages_that_each_fit_one_event(
    world: World,
) -> None:
    movements = await grow_alliance(world, movements=100, objectives=50)
    pages = await every_page(world, "compare")
    count = len(pages)
    assert 7 <= count <= 9  # 12 to 15 movements side by side
    shown = []
    for number, (reply, message) in enumerate(pages, start=1):
        assert reply.template == "compare_matrix"
        assert size_of(message) <= REPLY_LIMIT
        page_movements = [m["name"] for m in reply.data["movements"]]
        assert len(page_movements) <= MATRIX_COLUMNS
        assert len(reply.data["rows"]) == 50  # every objective on every page
        assert all(len(row["cells"]) == len(page_movements) for row in reply.data["rows"])
        assert f"Page {number} of {count}: movements " in message.body
        if number < count:
            assert f"Next: !compare --page {number + 1}" in message.body
            assert f"Next page: <code>!compare --page {number + 1}</code>" in message.html
        shown += page_movements
    assert "That was the last page. The first: !compare --page 1" in pages[-1][1].body
    assert shown == [m.name for m in movements]  # every movement once, in name order


async def test_every_answer_about_a_big_alliance_fits_one_event(world: World) -> None:
    movements = await grow_alliance(world, movements=100, objectives=50)
    a, b = movements[0].slug, movements[1].slug
    for command in ("objectives", "bridging", "compare 1", f"compare {a} {b}"):
        pages = await every_page(world, command)
        assert all(size_of(message) <= REPLY_LIMIT for _, message in pages), command
        assert len(pages) == 1, command  # 100 x 50 still fits on one page

    objectives = (await every_page(world, "objectives"))[0][1].body
    assert " more; " in objectives  # long lists of names are cut short...
    assert "every movement's stance on one objective: !compare <number>" in objectives
    stances = (await every_page(world, "compare 1"))[0][0]
    assert len(stances.data["rows"]) == 100  # `!compare 1` names every movement
    assert "in its own words (item 1)" in (await every_page(world, "compare 1"))[0][1].body


async def test_long_names_and_texts_shrink_the_pages_but_every_page_fits(world: World) -> None:
    # 80-character names in another script, 500-character objectives: the worst people can type.
    name = "{n:03d} Κίνημα για τη γη και την ελευθερία, συνέλευση της γειτονιάς αριθμός 🌍"
    text = "{n}: " + "Η γη ανήκει σε όσους τη φροντίζουν & <όχι> σε όσους την πουλάνε. " * 8
    movements = await grow_alliance(
        world, movements=30, objectives=60, name=name, text=text[:495], wording=text[:495]
    )
    pages = await every_page(world, "compare")
    assert all(size_of(message) <= REPLY_LIMIT for _, message in pages)
    seen = {
        (row["number"], m["name"])
        for reply, _ in pages
        for row in reply.data["rows"]
        for m in reply.data["movements"]
    }
    assert len(seen) == 30 * 60  # every stance shown once over the pages...
    assert any(len(reply.data["rows"]) < 60 for reply, _ in pages)  # ...some objectives a page
    for command in (
        "objectives",
        "bridging",
        "compare 1",
        f"compare {movements[0].slug} {movements[1].slug}",
    ):
        for reply, message in await every_page(world, command):
            assert size_of(message) <= REPLY_LIMIT, command
            assert reply.template != "command_error", message.body


async def test_a_page_that_does_not_exist_is_refused_plainly(world: World) -> None:
    await grow_alliance(world, movements=30, objectives=10)
    body = await world.body(COMMONS, EVE, "compare --page 9")
    assert body.startswith("There are ")
    assert "the last one: !compare --page " in body
    assert "page number such as 2" in await world.body(COMMONS, EVE, "compare --page two")
    assert "It all fits on one page" in await world.body(COMMONS, EVE, "bridging --page 2")
    template, page = await world.say(COMMONS, EVE, "compare --page 2")
    assert template == "compare_matrix"
    assert "Page 2 of " in page.body
    # `--page` also after the words, and with the alliance named for the next page.
    template, _ = await world.say(COMMONS, EVE, "compare 1 --page 1")
    assert template == "compare_objective"
    template, named = await world.say(COMMONS, EVE, "compare --alliance earth --page 1")
    assert "Next: !compare --alliance earth-alliance --page 2" in named.body


async def test_a_small_alliance_is_compared_on_one_page_without_paging(world: World) -> None:
    await make_alliance(world)
    await world.say(COMMONS, ADA, "objective import\nRespect for nature\nDemocratic procedures")
    await seed_stances(world)
    for command in ("compare", "compare 1", "compare climate tenants", "bridging", "objectives"):
        template, message = await world.say(COMMONS, EVE, command)
        assert template != "command_error", message.body
        assert "Page " not in message.body, command
        assert "--page" not in message.body, command
        assert "cut short" not in message.body


class Reads:
    """Counts the store's reads (each `fetch_*` is one trip to the database thread)."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        for method in ("fetch_one", "fetch_all"):
            original = getattr(store, method)

            async def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                self.count += 1
                return await _original(*args, **kwargs)

            monkeypatch.setattr(store, method, counted)

    async def of(self, world: World, command: str) -> int:
        before = self.count
        template, message = await world.say(COMMONS, EVE, command)
        assert template not in ("command_error", "usage_error"), message.body
        return self.count - before


async def test_comparing_reads_the_store_a_few_times_whatever_the_alliances_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = []
    for movements, objectives in ((3, 2), (100, 50)):
        folder = tmp_path / f"{movements}"
        store = await Store.open(folder / "db.sqlite")
        world = new_world(store, folder, [room_state(COMMONS, ADA, members=[EVE], name="Commons")])
        grown = await grow_alliance(world, movements=movements, objectives=objectives)
        reads = Reads(store, monkeypatch)
        commands = {
            "table": "compare",
            "a page": "compare --page 1",
            "objective": "compare 1",
            "pair": f"compare {grown[0].slug} {grown[1].slug}",
            "objectives": "objectives",
            "bridging": "bridging",
        }
        counts.append({what: await reads.of(world, typed) for what, typed in commands.items()})
        await store.close()
    small, big = counts
    assert small == big  # the same reads for 3 movements as for 100
    assert max(big.values()) <= 5  # the alliance, its movements, objectives, stances, wordings


def test_a_reply_is_weighed_as_it_travels_with_every_non_ascii_character_escaped() -> None:
    assert reply_size(Message(body="✓", html="")) == len('"\\u2713"') + len('""')
    assert reply_size(Message(body="a\nb", html='<a href="x">')) == 6 + 16


def test_a_row_too_long_for_any_page_is_shortened_rather_than_refused() -> None:
    fit = Fit(Renderer(), limit=600)
    texts = ["x" * 500, "a short one"]

    def build(layout: Layout, number: int, cut: int | None) -> Reply:
        rows, _ = layout.page(number)
        text = " ".join(cut_text(texts[i], cut) for i in rows)
        return Reply(
            "command_error", {"words": Words("usage.not_a_number", {"param": "p", "typed": text})}
        )

    def again(n: int) -> str:
        return f"!x --page {n}"

    reply = fit.page(build, prefix="!", wanted=1, again=again, row_weights=[500, 10])
    assert reply.data["words"].data["typed"] == "x" * (SHORT_TEXT - 1) + "… a short one"


async def test_fifty_long_objectives_imported_at_once_are_confirmed_in_one_event(
    world: World,
) -> None:
    await make_alliance(world)
    lines = [f"{n} " + "Η γη ανήκει σε όσους τη φροντίζουν. " * 13 for n in range(50)]
    assert all(len(line) <= 500 for line in lines)
    template, message = await world.say(COMMONS, ADA, "objective import\n" + "\n".join(lines))
    assert template == "objective_imported"
    assert "Added 50 objectives" in message.body
    assert size_of(message) <= REPLY_LIMIT
    assert "#50 49 Η γη" in message.body  # shortened, and still every one of them
