"""Odd input to every command gets a clear answer in the room: never a crash, never an id.

Every command of the registry is typed with a table of odd arguments (nothing, blanks, a huge
word, huge and negative numbers, unclosed quotes, stray options, emoji, right-to-left text,
markup, Matrix ids...) by a member and by a moderator, in every kind of room: one outside any
alliance, an alliance's commons, a pending and an active movement's room, and in threads (a
shared thread, its copy in the commons, a consensus poll). What they act on is real: the
router, SQLite store and templates are the bot's own; only Matrix is faked.

An exception escaping a command reaches the person as "something went wrong", so each one is a
bug; so are Python's error names, the world's room and event ids, and answers too big to send.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.contract import Reply
from bot.families import build_registry
from bot.ids import EventID, RoomID
from bot.render import Message
from bot.store import Store
from bot.tooling.demo_seed import OBJECTIVES
from commands.alliance import statements_store
from commands.alliance.statements_store import StatementChange
from commands.alliance.store import PollRef
from commands.polls.rules import ConsensusCounts, Rule, decide
from commands.relay.content import MARKER
from tests.unit.fakes import FakeServices, Harness, in_thread, make_config, room_state
from tests.unit.robustness import Built, built_once, leaks, where_raised

FOUNDER, MOD, MEMBER = "@founder:hs", "@mod:hs", "@mia:hs"
PLAIN, COMMONS, CAMP, TENANTS = (
    RoomID("!plain:hs"),
    RoomID("!commons:hs"),
    RoomID("!camp:hs"),
    RoomID("!tenants:hs"),
)
PEOPLE = {"member": MEMBER, "moderator": MOD}
MAX_BODY_BYTES = 60_000

ODD_ARGUMENTS = {
    "nothing": "",
    "blanks": "   ",
    "a 5000-letter word": "x" * 5000,
    "zero": "0",
    "minus one": "-1",
    "a huge number": "99999999999999999999",
    "a huge #number": "#99999999999999999999",
    "a decimal": "1.5",
    "an open quote": '"abc',
    "curly quotes": "“abc” ‘def’",
    "an open curly quote": "“abc",
    "dashes alone": "--",
    "a long dash alone": "—",
    "--alliance without a value": "--alliance",
    "--alliance nope": "--alliance nope",
    "--alliance=": "--alliance=",
    "--page huge": "--page 99999999999999999999",
    "--page minus one": "--page -1",
    "--bogus": "--bogus",
    "emoji": "🏳️‍🌈 🔥👍🏽",
    "right-to-left text": "مرحبا שלום",
    "a list on lines": "one\ntwo\nthree",
    "html": "<b>x</b><script>alert(1)</script>",
    "@room": "@room",
    "a user id": "@someone:hs",
    "a room id": "!abc:hs",
    "a NUL and a zero-width space": "a\x00b\u200b",
}

# What a person must never see: Python's own words, and the world's ids ("!camp", "$ev12").
ROOM_IDS = ("!plain", "!commons", "!camp", "!tenants", "!space")


def typed_texts() -> list[Any]:
    """Every command with every odd argument; a two-word command's words also alone."""
    cases = []
    for command in build_registry().commands():
        for label, argument in ODD_ARGUMENTS.items():
            text = f"{command.name} {argument}" if argument else command.name
            cases.append(pytest.param(text, id=f"{command.name}: {label}"))
        if " " in command.name:
            for word in command.name.split():
                cases.append(pytest.param(word, id=f"{command.name}: {word} alone"))
    return cases


@dataclass(frozen=True)
class Place:
    """Where a command is typed: a room, and the thread it is typed in (if any)."""

    room: RoomID
    thread: EventID | None = None


class World(Harness):
    places: dict[str, Place]  # by the name a failure gives

    async def type(self, place: Place, sender: str, text: str) -> tuple[Reply, Message]:
        """The bot's answer to `text` typed at `place`; then what it does once that is sent."""
        relates_to = in_thread(place.thread) if place.thread else None
        return await self.answer(place.room, sender, text, relates_to=relates_to)

    async def must(self, place: Place, sender: str, text: str, template: str) -> None:
        reply, message = await self.type(place, sender, text)
        assert reply.template == template, message.body


async def build_world(data_dir: Path, store: Store) -> World:
    """An alliance with a commons, an active and a pending movement, and a room outside it.

    In the active movement's room a straw poll, a consensus poll, an endorsement and a
    statement poll are open, the statement's item 1 is linked to objective #1, and a thread is
    shared with the commons, where an alliance-wide poll is open. The moderator created the
    commons (room v12) and has power 50 in the other rooms; the member has power 0.
    """
    rooms = [
        room_state(room, creator, members=[MOD, MEMBER], powers={MOD: 50}, name=name, named=True)
        for room, creator, name in (
            (PLAIN, FOUNDER, "Plain room"),
            (COMMONS, MOD, "Commons"),
            (CAMP, FOUNDER, "Camp room"),
            (TENANTS, FOUNDER, "Tenants room"),
        )
    ]
    world = World(FakeServices(make_config(data_dir), store, rooms))
    commons, camp, tenants = Place(COMMONS), Place(CAMP), Place(TENANTS)
    await world.must(commons, MOD, "alliance create Earth Alliance", "alliance_created")
    joining = "movement join earth-alliance as"
    await world.must(camp, MOD, f"{joining} Climate Camp", "movement_join_requested")
    await world.must(commons, MOD, "movement approve climate-camp", "movement_decided")
    await world.must(tenants, MOD, f"{joining} Tenants Union", "movement_join_requested")
    objectives = "objective import\n" + "\n".join(OBJECTIVES[:4])
    await world.must(commons, MOD, objectives, "objective_imported")
    alliance_poll = "poll --alliance Which day?\nMonday\nFriday"
    await world.must(commons, MOD, alliance_poll, "poll_alliance_created")

    await world.must(camp, MEMBER, "poll Where do we meet?\nPark\nLibrary", "poll_created")
    await world.must(camp, MEMBER, "endorse 1", "objective_endorse_opened")
    proposal = "statement propose We act without violence."
    await world.must(camp, MEMBER, proposal, "statement_vote_opened")
    await world.must(camp, MEMBER, "consensus We join the march", "consensus_created")
    consensus_poll = world.services.sent[-1].event_id
    applied = await statements_store.apply_statement_change(
        store,
        room_id=CAMP,
        change=StatementChange.add("We defend the commons."),
        outcome=decide(Rule("consensus", None), ConsensusCounts(agree=3)),
        poll=PollRef(CAMP, event_id=EventID("$statement")),
        decided_at=world.clock,
    )
    assert applied.version is not None
    await world.must(camp, MOD, "statement link 1 1", "statement_linked")

    root = world.make_event(
        CAMP, MEMBER, "m.room.message", {"msgtype": "m.text", "body": "Shall we march?"}
    )
    await world.must(Place(CAMP, root.event_id), MEMBER, "share", "share_started")
    [relayed] = [s for s in world.services.sent if s.room_id == COMMONS and MARKER in s.content]

    world.places = {
        "plain room": Place(PLAIN),
        "commons": commons,
        "commons, shared thread's copy": Place(COMMONS, relayed.event_id),
        "pending movement": tenants,
        "active movement": camp,
        "active movement, shared thread": Place(CAMP, root.event_id),
        "active movement, poll thread": Place(CAMP, consensus_poll),
    }
    return world


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built[World]:
    """The world, built once for the module: building it takes longer than a test of it."""
    return built_once(tmp_path_factory.mktemp("world"), build_world)


@pytest.fixture
async def world(built: Built[World], tmp_path: Path) -> AsyncIterator[World]:
    """A copy of the built world for one test, which may change it as it likes."""
    copied, store = await built.copy_for(tmp_path)
    yield copied
    await store.close()


FIXTURE_CHECKS = [
    ("commons", "movements", "movement_list", "waiting for approval"),
    ("commons", "objectives", "objective_list", "Respect for nature"),
    ("commons", "shared", "share_list", "#1 from Climate Camp"),
    ("active movement", "statement", "statement_show", "We defend the commons."),
    ("active movement", "poll list", "poll_list", "#5 (consensus) We join the march"),
    ("active movement, poll thread", "vote agree", "poll_vote_counted", "poll #5: Agree"),
    ("active movement, shared thread", "unshare", "share_stopped", "no longer shared"),
    ("active movement", "movement leave", "movement_left", "has left Earth Alliance"),
]


@pytest.mark.parametrize("copy_number", [1, 2])
async def test_each_copy_of_the_world_has_the_real_things_to_act_on(
    world: World, copy_number: int
) -> None:
    """The check of the fixtures: the second copy is as whole as the first one."""
    for place, text, template, shown in FIXTURE_CHECKS:
        reply, message = await world.type(world.places[place], MOD, text)
        assert reply.template == template, message.body
        assert shown in message.body


def too_much(message: Message) -> list[str]:
    """What a person should never see, and an answer too big to send."""
    found = leaks(message, ROOM_IDS)
    size = len(message.body.encode())
    if size >= MAX_BODY_BYTES:
        found.append(f"body is {size} bytes")
    return found


@pytest.mark.parametrize("text", typed_texts())
async def test_odd_input_gets_a_clear_answer(world: World, text: str) -> None:
    problems = []
    for place_name, place in world.places.items():
        for person, sender in PEOPLE.items():
            where = f"{person} in {place_name}"
            notices = len(world.services.notices)
            try:
                reply, message = await world.type(place, sender, text)
            except Exception as exc:
                problems.append(f"{where}: {type(exc).__name__}: {exc}{where_raised(exc)}")
                continue
            if reply.template == "internal_error":
                problems.append(f"{where}: answered internal_error")
            problems += [f"{where}: {leak}" for leak in too_much(message)]
            for notice in world.services.notices[notices:]:  # told elsewhere, by `then`
                problems += [f"{where}, notice: {leak}" for leak in too_much(notice.message)]
    assert not problems, "\n".join(problems)
