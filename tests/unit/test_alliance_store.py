"""Alliance storage: requests keyed by their command, outcomes keyed by their poll.

The consensus-poll side (`open_endorsement`, `record_stance`, `open_statement_proposal`,
`apply_statement_change`, `settle_poll`) is what a closing poll calls; these tests play the poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from bot.ids import EventID, RoomID
from bot.render import Renderer
from bot.store import Store
from commands.alliance import decisions_store, objectives_store, statements_store
from commands.alliance.compare import Wording, support
from commands.alliance.decisions_store import Settled
from commands.alliance.objectives_store import Objective
from commands.alliance.statements_store import AppliedChange, StatementChange
from commands.alliance.store import (
    Alliance,
    Movement,
    PollRef,
    Taken,
    alliance_by_commons,
    alliance_by_event,
    alliances_of_room,
    create_alliance,
    decide_movement,
    leave_alliance,
    request_join,
    set_space,
)
from commands.alliance.thresholds import parse_threshold
from commands.polls.rules import ConsensusCounts, Outcome, Rule, decide

COMMONS = RoomID("!commons:hs")
CAMP_ROOM = RoomID("!camp:hs")
TENANTS_ROOM = RoomID("!tenants:hs")
CONSENSUS = Rule("consensus", None)


def passed(agree: int = 3, reservations: int = 0) -> Outcome:
    return decide(CONSENSUS, ConsensusCounts(agree=agree, reservations=reservations))


def blocked() -> Outcome:
    return decide(CONSENSUS, ConsensusCounts(agree=2, block=1))


def poll(n: int, room: RoomID = CAMP_ROOM) -> PollRef:
    return PollRef(room_id=room, poll_id=n, event_id=EventID(f"$poll{n}"))


async def alliance(store: Store, name: str = "Earth Alliance") -> Alliance:
    return await create_alliance(
        store,
        name=name,
        commons_room_id=COMMONS,
        created_by="@ada:hs",
        created_at=1_000,
        command_event_id="$create",
    )


async def member(store: Store, alliance_id: int, room: RoomID, name: str) -> Movement:
    asked = await request_join(
        store,
        alliance_id=alliance_id,
        room_id=room,
        name=name,
        requested_by="@mod:hs",
        requested_at=2_000,
        event_id=f"$join-{room}",
    )
    return await decide_movement(
        store,
        asked.id,
        status="active",
        decided_by="@ada:hs",
        decided_at=3_000,
        event_id=f"$approve-{room}",
    )


async def objectives(store: Store, earth: Alliance, *texts: str) -> list[Objective]:
    return await objectives_store.add_objectives(
        store,
        alliance_id=earth.id,
        texts=list(texts),
        proposed_by="@ada:hs",
        proposed_at=1,
        event_id="$p",
    )


async def camp_and_nature(store: Store) -> tuple[Alliance, Movement, Objective]:
    """Earth Alliance, Climate Camp its movement, "Respect for nature" its objective."""
    earth = await alliance(store)
    camp = await member(store, earth.id, CAMP_ROOM, "Climate Camp")
    [nature] = await objectives(store, earth, "Respect for nature")
    return earth, camp, nature


async def change_statement(
    store: Store,
    change: StatementChange,
    poll_number: int,
    *,
    decided_at: int,
    outcome: Outcome | None = None,
    room: RoomID = CAMP_ROOM,
) -> AppliedChange:
    """A change to the room's statement, decided by its poll `poll_number` (passed by default)."""
    return await statements_store.apply_statement_change(
        store,
        room_id=room,
        change=change,
        outcome=outcome or passed(),
        poll=poll(poll_number, room),
        decided_at=decided_at,
    )


async def test_an_alliance_is_recorded_once_with_its_slug_and_default_threshold(
    store: Store,
) -> None:
    made = await alliance(store)
    assert made.slug == "earth-alliance"
    assert made.space_id is None
    assert made.threshold == parse_threshold("more than half")
    assert await alliance_by_event(store, "$create") == made
    await set_space(store, made.id, RoomID("!space:hs"))
    assert (await alliance_by_commons(store, COMMONS)).space_id == "!space:hs"  # type: ignore[union-attr]
    with pytest.raises(Taken):
        await create_alliance(
            store,
            name="EARTH alliance",
            commons_room_id=RoomID("!other:hs"),
            created_by="@ada:hs",
            created_at=1,
            command_event_id="$other",
        )


async def test_a_join_request_is_found_again_and_a_rejoin_reuses_the_record(store: Store) -> None:
    earth = await alliance(store)
    camp = await member(store, earth.id, CAMP_ROOM, "Climate Camp")
    assert camp.status == "active"
    assert await alliances_of_room(store, CAMP_ROOM) == [earth]
    left = await leave_alliance(store, camp.id, left_by="@mod:hs", left_at=4_000, event_id="$l")
    assert left.status == "left"
    assert await alliances_of_room(store, CAMP_ROOM) == []
    again = await request_join(
        store,
        alliance_id=earth.id,
        room_id=CAMP_ROOM,
        name="Climate Camp Collective",
        requested_by="@mod:hs",
        requested_at=5_000,
        event_id="$rejoin",
    )
    assert (again.id, again.status, again.slug) == (camp.id, "pending", "climate-camp-collective")
    assert again.left_at is None


async def test_movement_names_are_unique_unless_the_request_was_refused(store: Store) -> None:
    earth = await alliance(store)
    await member(store, earth.id, CAMP_ROOM, "Climate Camp")
    with pytest.raises(Taken):
        await request_join(
            store,
            alliance_id=earth.id,
            room_id=TENANTS_ROOM,
            name="climate  camp",
            requested_by="@t:hs",
            requested_at=1,
            event_id="$t",
        )
    asked = await request_join(
        store,
        alliance_id=earth.id,
        room_id=TENANTS_ROOM,
        name="Tenants",
        requested_by="@t:hs",
        requested_at=1,
        event_id="$t2",
    )
    await decide_movement(
        store, asked.id, status="rejected", decided_by="@ada:hs", decided_at=2, event_id="$no"
    )
    third = await request_join(
        store,
        alliance_id=earth.id,
        room_id=RoomID("!third:hs"),
        name="Tenants",
        requested_by="@x:hs",
        requested_at=3,
        event_id="$t3",
    )
    assert third.status == "pending"


async def test_objectives_are_numbered_per_alliance_and_duplicates_refused(store: Store) -> None:
    earth = await alliance(store)
    added = await objectives_store.add_objectives(
        store,
        alliance_id=earth.id,
        texts=["Respect for nature", "Radical egalitarianism"],
        proposed_by="@ada:hs",
        proposed_at=1,
        event_id="$import",
    )
    assert [(o.number, o.text) for o in added] == [
        (1, "Respect for nature"),
        (2, "Radical egalitarianism"),
    ]
    with pytest.raises(Taken):
        await objectives_store.add_objectives(
            store,
            alliance_id=earth.id,
            texts=["New one", "respect for nature."],
            proposed_by="@ada:hs",
            proposed_at=2,
            event_id="$dup",
        )
    assert len(await objectives_store.objectives_of(store, earth.id)) == 2  # all or nothing


async def test_an_endorsement_is_pending_while_its_poll_is_open_then_decided(store: Store) -> None:
    earth, camp, nature = await camp_and_nature(store)
    await objectives_store.open_endorsement(
        store, movement_id=camp.id, objective_id=nature.id, poll=poll(1), opened_at=10
    )
    board = await objectives_store.board(store, earth)
    assert board.stance(camp.info(), nature.info()).state == "pending"

    settled = await decisions_store.settle_poll(
        store, poll=poll(1), outcome=passed(), reason="", decided_at=20
    )
    assert settled.stance is not None
    assert settled.stance.state == "endorsed"
    assert settled.stance.counts == ConsensusCounts(agree=3)
    again = await decisions_store.settle_poll(
        store, poll=poll(1), outcome=blocked(), reason="blocked", decided_at=30
    )
    assert again.stance == settled.stance  # recording the same poll twice changes nothing

    board = await objectives_store.board(store, earth)
    assert support(board, nature.info()).common


async def test_a_later_poll_changes_the_stance_and_keeps_the_blocks_reasons(store: Store) -> None:
    earth, camp, nature = await camp_and_nature(store)
    await objectives_store.record_stance(
        store,
        movement_id=camp.id,
        objective_id=nature.id,
        outcome=passed(),
        reason=Renderer().say(passed().words),
        poll=poll(1),
        decided_at=10,
    )
    await objectives_store.open_endorsement(
        store, movement_id=camp.id, objective_id=nature.id, poll=poll(2), opened_at=20
    )
    stance = (await objectives_store.board(store, earth)).stance(camp.info(), nature.info())
    assert (stance.state, stance.decided) == ("pending", "endorsed")

    record = await objectives_store.record_stance(
        store,
        movement_id=camp.id,
        objective_id=nature.id,
        outcome=blocked(),
        reason=Renderer().say(blocked().words),
        poll=poll(2),
        decided_at=30,
        block_reasons=["Not without the farmers"],
    )
    assert record.state == "not_endorsed"
    assert record.reason is not None
    assert "block" in record.reason
    stance = (await objectives_store.board(store, earth)).stance(camp.info(), nature.info())
    assert (stance.state, stance.block_reasons) == ("not_endorsed", ("Not without the farmers",))


async def test_only_a_passed_poll_changes_a_statement_each_time_a_new_version(
    store: Store,
) -> None:
    first = await change_statement(
        store, StatementChange.add("We defend the commons."), 1, decided_at=100
    )
    assert first.version is not None
    assert first.version.version == 1
    await change_statement(
        store, StatementChange.add("We act without violence."), 2, decided_at=200
    )
    refused = await change_statement(
        store, StatementChange.add("We never sleep."), 3, decided_at=300, outcome=blocked()
    )
    assert refused.version is None
    assert "block" in Renderer().say(refused.reason)

    statement = await statements_store.statement(store, CAMP_ROOM)
    assert (statement.version, statement.updated_at) == (2, 200)
    assert [(i.number, i.text) for i in statement.items] == [
        (1, "We defend the commons."),
        (2, "We act without violence."),
    ]
    assert statement.items[0].poll == poll(1)

    first_item = statement.items[0]
    await change_statement(
        store,
        StatementChange.amend(first_item.id, "We defend the commons, together."),
        4,
        decided_at=400,
    )
    dropped = await change_statement(
        store, StatementChange.drop(statement.items[1].id), 5, decided_at=500
    )
    repeat = await change_statement(
        store, StatementChange.drop(statement.items[1].id), 5, decided_at=600
    )
    assert repeat.version == dropped.version  # the same poll applied twice: one version

    statement = await statements_store.statement(store, CAMP_ROOM)
    assert statement.version == 4
    assert [(i.number, i.text, i.version) for i in statement.items] == [
        (1, "We defend the commons, together.", 3)
    ]
    history = await statements_store.statement_history(store, CAMP_ROOM)
    assert [(v.version, v.change, v.item_number) for v in history] == [
        (4, "drop", 2),
        (3, "amend", 1),
        (2, "add", 2),
        (1, "add", 1),
    ]
    assert history[1].previous_text == "We defend the commons."


async def test_a_change_to_an_item_dropped_meanwhile_is_not_applied(store: Store) -> None:
    await change_statement(store, StatementChange.add("We defend the commons."), 1, decided_at=1)
    item = (await statements_store.statement(store, CAMP_ROOM)).items[0]
    for n, change in ((2, StatementChange.drop(item.id)), (3, StatementChange.amend(item.id, "x"))):
        await statements_store.open_statement_proposal(
            store,
            room_id=CAMP_ROOM,
            change=change,
            proposed_by="@a:hs",
            proposed_at=n,
            command_event_id=f"$cmd{n}",
            poll=poll(n),
        )
    assert (
        await decisions_store.settle_poll(
            store, poll=poll(2), outcome=passed(), reason="", decided_at=5
        )
    ).change
    late = await decisions_store.settle_poll(
        store, poll=poll(3), outcome=passed(), reason="", decided_at=6
    )
    assert late.change is not None
    assert late.change.version is None
    assert "dropped" in Renderer().say(late.change.reason)
    assert (await statements_store.statement(store, CAMP_ROOM)).items == ()


async def test_a_poll_that_decides_nothing_here_settles_nothing(store: Store) -> None:
    assert (
        await decisions_store.settle_poll(
            store, poll=poll(9), outcome=passed(), reason="", decided_at=1
        )
        == Settled()
    )


async def test_an_item_words_an_objective_until_unlinked_or_dropped(store: Store) -> None:
    _, camp, nature = await camp_and_nature(store)
    for n, text in ((1, "Earth first."), (2, "Living within limits.")):
        await change_statement(store, StatementChange.add(text), n, decided_at=n)
    first, second = (await statements_store.statement(store, CAMP_ROOM)).items
    link = {"room_id": CAMP_ROOM, "objective_id": nature.id, "linked_by": "@m:hs", "linked_at": 1}
    assert await objectives_store.link_item(store, item_id=first.id, **link) is None  # type: ignore[arg-type]
    assert await objectives_store.link_item(store, item_id=second.id, **link) == first.id  # type: ignore[arg-type]
    words = await objectives_store.movement_wordings(store, camp)
    assert words == {(camp.id, nature.id): Wording(2, "Living within limits.")}
    assert await objectives_store.unlink_item(store, room_id=CAMP_ROOM, item_id=second.id) == [
        nature.id
    ]
    assert await objectives_store.movement_wordings(store, camp) == {}


async def test_a_removed_poll_leaves_nothing_pending_and_nothing_to_announce(store: Store) -> None:
    earth, camp, nature = await camp_and_nature(store)
    await objectives_store.open_endorsement(
        store, movement_id=camp.id, objective_id=nature.id, poll=poll(7), opened_at=1
    )
    await statements_store.open_statement_proposal(
        store,
        room_id=CAMP_ROOM,
        change=StatementChange.add("We defend the commons."),
        proposed_by="@a:hs",
        proposed_at=1,
        command_event_id="$cmd",
        poll=poll(8),
    )
    assert await decisions_store.pending_polls(store) == [poll(7), poll(8)]
    await decisions_store.withdraw_poll(store, poll(7), at=5)
    await decisions_store.withdraw_poll(store, poll(8), at=5)
    assert await decisions_store.pending_polls(store) == []
    assert await objectives_store.stances_to_announce(store) == []
    assert await statements_store.proposals_to_announce(store) == []
    assert (await objectives_store.board(store, earth)).stance(
        camp.info(), nature.info()
    ).state == "none"
    assert (await statements_store.proposal_by_event(store, "$cmd")).outcome == "withdrawn"  # type: ignore[union-attr]


async def test_a_decided_endorsement_is_announced_once(store: Store) -> None:
    _, camp, nature = await camp_and_nature(store)
    await objectives_store.open_endorsement(
        store, movement_id=camp.id, objective_id=nature.id, poll=poll(1), opened_at=1
    )
    assert await objectives_store.stances_to_announce(store) == []  # still open
    await decisions_store.settle_poll(
        store, poll=poll(1), outcome=passed(), reason="", decided_at=2
    )
    [told] = await objectives_store.stances_to_announce(store)
    await objectives_store.mark_stance_announced(store, told.id)
    assert await objectives_store.stances_to_announce(store) == []


async def test_the_board_numbers_wordings_as_each_statement_shows_them(store: Store) -> None:
    earth = await alliance(store)
    camp = await member(store, earth.id, CAMP_ROOM, "Climate Camp")
    tenants = await member(store, earth.id, TENANTS_ROOM, "Tenants Union")
    nature, rents = await objectives(store, earth, "Respect for nature", "Fair rents")
    polls = iter(range(1, 100))
    for room, texts in ((CAMP_ROOM, ("Dropped soon.", "Earth first.")), (TENANTS_ROOM, ("Rent",))):
        for text in texts:
            await change_statement(
                store, StatementChange.add(text), next(polls), decided_at=1, room=room
            )
    dropped, earth_first = (await statements_store.statement(store, CAMP_ROOM)).items
    [rent] = (await statements_store.statement(store, TENANTS_ROOM)).items
    for room, item, objective in ((CAMP_ROOM, earth_first, nature), (TENANTS_ROOM, rent, rents)):
        await objectives_store.link_item(
            store,
            room_id=room,
            item_id=item.id,
            objective_id=objective.id,
            linked_by="@m:hs",
            linked_at=1,
        )
    await change_statement(store, StatementChange.drop(dropped.id), next(polls), decided_at=2)
    board = await objectives_store.board(store, earth)
    # "Earth first." is item 1 now that the item before it was dropped.
    assert board.wordings == {
        (camp.id, nature.id): Wording(1, "Earth first."),
        (tenants.id, rents.id): Wording(1, "Rent"),
    }
    only_camp = await objectives_store.board(store, earth, movements=[camp])
    assert list(only_camp.wordings) == [(camp.id, nature.id)]


async def test_the_board_folds_every_stance_record_into_the_current_stance(store: Store) -> None:
    earth = await alliance(store)
    camp = await member(store, earth.id, CAMP_ROOM, "Climate Camp")
    tenants = await member(store, earth.id, TENANTS_ROOM, "Tenants Union")
    [nature] = await objectives(store, earth, "Respect for nature")
    # Climate Camp: blocked, then endorsed, then voting again. Tenants: endorsed, like Camp.
    await objectives_store.record_stance(
        store,
        movement_id=camp.id,
        objective_id=nature.id,
        outcome=blocked(),
        reason=Renderer().say(blocked().words),
        poll=poll(1),
        decided_at=1,
        block_reasons=["Not yet"],
    )
    for n, movement in ((2, camp), (3, tenants)):
        await objectives_store.record_stance(
            store,
            movement_id=movement.id,
            objective_id=nature.id,
            outcome=passed(),
            reason=Renderer().say(passed().words),
            poll=poll(n, movement.room_id),
            decided_at=n,
        )
    await objectives_store.open_endorsement(
        store, movement_id=camp.id, objective_id=nature.id, poll=poll(4), opened_at=4
    )
    stances = await objectives_store.current_stances(store, earth.id)
    camp_now, tenants_now = stances[(camp.id, nature.id)], stances[(tenants.id, nature.id)]
    assert (camp_now.state, camp_now.decided, camp_now.block_reasons) == ("pending", "endorsed", ())
    assert camp_now.counts == ConsensusCounts(agree=3)
    assert (tenants_now.state, tenants_now.counts) == ("endorsed", ConsensusCounts(agree=3))
    assert await objectives_store.current_stances(store, earth.id, movement_ids=[tenants.id]) == {
        (tenants.id, nature.id): tenants_now
    }


async def test_the_board_takes_three_reads_however_many_movements(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    earth = await alliance(store)
    reads: list[str] = []
    original = store.fetch_all

    async def counted(sql: str, params: Sequence[Any] = ()) -> list[Any]:
        reads.append(sql)
        return await original(sql, params)

    monkeypatch.setattr(store, "fetch_all", counted)
    counts = []
    made = []
    for n in range(1, 31):
        made.append(await member(store, earth.id, RoomID(f"!m{n}:hs"), f"Movement {n}"))
        if n in (1, 30):
            reads.clear()
            assert len((await objectives_store.board(store, earth, movements=made)).movements) == n
            counts.append(len(reads))
    assert counts == [3, 3]  # objectives, stances, wordings
