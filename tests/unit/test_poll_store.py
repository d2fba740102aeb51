"""A poll and an alliance-wide poll close once and keep the first tally kept at the close."""

from __future__ import annotations

from pathlib import Path

from bot.ids import EventID, RoomID, UserID
from bot.store import Store, bundled_migrations
from commands.alliance.store import create_alliance
from commands.polls import store as db
from commands.polls.tally import Tally
from commands.polls.view import straw_answers

ROOM = RoomID("!commons")
ORGANISER = UserID("@org:hs")
MOD = UserID("@mod:hs")


def counted(voters: int) -> Tally:
    return Tally(counts={"a1": voters, "a2": 0}, voters=voters, spoiled=0, choices={})


async def make_poll(store: Store, key: str = "$cmd") -> db.Poll:
    return await db.create_poll(
        store,
        db.NewPoll(
            room_id=ROOM,
            kind="straw",
            question="Where?",
            answers=straw_answers(["Park", "Library"]),
            max_selections=1,
            hidden=False,
            creator=ORGANISER,
            created_at=0,
            closes_at=None,
            rule=None,
            command_event_id=EventID(key),
        ),
    )


async def make_group(store: Store) -> db.PollGroup:
    alliance = await create_alliance(
        store,
        name="Earth Alliance",
        commons_room_id=ROOM,
        created_by=ORGANISER,
        created_at=0,
        command_event_id="$alliance-create",
    )
    return await db.create_group(
        store,
        db.NewGroup(
            alliance_id=alliance.id,
            commons_room_id=ROOM,
            creator=ORGANISER,
            created_at=0,
            closes_at=None,
            hidden=False,
            command_event_id=EventID("$alliance-cmd"),
        ),
    )


async def test_a_poll_closes_once_and_the_first_close_is_kept(store: Store) -> None:
    poll = await make_poll(store)

    first = await db.close_poll(
        store, poll.id, closed_at=10, via="command", closed_by=MOD, close_event_id=EventID("$c")
    )
    again = await db.close_poll(store, poll.id, closed_at=20, via="deadline")

    assert (first, again) == (True, False)
    closed = await db.get_poll(store, poll.id)
    assert closed is not None
    assert (closed.closed_at, closed.closed_via, closed.closed_by) == (10, "command", MOD)
    assert closed.close_event_id == "$c"
    assert not closed.announced
    assert await db.poll_closed_by(store, "$c") == closed


async def test_an_alliance_wide_poll_closes_once_and_the_first_close_is_kept(
    store: Store,
) -> None:
    group = await make_group(store)

    first = await db.close_group(
        store, group.id, closed_at=10, via="end_event", closed_by=MOD, close_event_id=EventID("$e")
    )
    again = await db.close_group(store, group.id, closed_at=20, via="deadline")

    assert (first, again) == (True, False)
    closed = await db.get_group(store, group.id)
    assert closed is not None
    assert (closed.closed_at, closed.closed_via, closed.closed_by) == (10, "end_event", MOD)
    assert not closed.announced
    assert await db.group_closed_by(store, "$e") == closed


async def test_a_removed_poll_needs_no_announcing(store: Store) -> None:
    poll = await make_poll(store)
    group = await make_group(store)

    await db.close_poll(store, poll.id, closed_at=10, via="removed")
    await db.close_group(store, group.id, closed_at=10, via="removed")

    closed_poll = await db.get_poll(store, poll.id)
    closed_group = await db.get_group(store, group.id)
    assert closed_poll is not None
    assert closed_group is not None
    assert closed_poll.announced
    assert closed_group.announced


async def test_the_first_tally_kept_stays_for_polls_and_alliance_wide_polls(store: Store) -> None:
    poll = await make_poll(store)
    other = await make_poll(store, "$other")
    group = await make_group(store)

    await db.save_result(store, poll.id, counted(3))
    await db.save_result(store, poll.id, counted(5))
    await db.save_group_result(store, group.id, counted(7))
    await db.save_group_result(store, group.id, counted(9))

    kept_poll = await db.get_poll(store, poll.id)
    untouched = await db.get_poll(store, other.id)
    kept_group = await db.get_group(store, group.id)
    assert kept_poll is not None
    assert untouched is not None
    assert kept_group is not None
    assert kept_poll.result == counted(3)
    assert untouched.result is None
    assert kept_group.result == counted(7)


async def test_the_upgrade_marks_polls_already_open_for_a_decision(tmp_path: Path) -> None:
    # A database from before decision polls (migration 6), with an endorsement poll open and a
    # straw poll: after the upgrade, only the endorsement is a decision (moderators close it).
    path = tmp_path / "old.db"
    store = await Store.open(path, [m for m in bundled_migrations() if m.version <= 6])
    async with store.transaction() as sql:
        for poll_id, kind in ((1, "consensus"), (2, "straw")):
            await sql.execute(
                "INSERT INTO polls (id, room_id, number, kind, question, answers,"
                " max_selections, creator, created_at, command_event_id)"
                " VALUES (?, ?, ?, ?, 'Q?', '[]', 1, '@a:hs', 0, ?)",
                (poll_id, ROOM, poll_id, kind, f"$cmd{poll_id}"),
            )
        await sql.execute(
            "INSERT INTO alliances (id, name, name_key, slug, commons_room_id, space_key,"
            " created_by, created_at, command_event_id)"
            " VALUES (1, 'Earth', 'earth', 'earth', '!c', 'k', '@a:hs', 0, '$a')"
        )
        await sql.execute(
            "INSERT INTO movements (id, alliance_id, room_id, name, name_key, slug, status,"
            " requested_by, requested_at, request_event_id)"
            " VALUES (1, 1, ?, 'Camp', 'camp', 'camp', 'active', '@a:hs', 0, '$m')",
            (ROOM,),
        )
        await sql.execute(
            "INSERT INTO objectives (id, alliance_id, number, text, text_key, proposed_by,"
            " proposed_at, command_event_id) VALUES (1, 1, 1, 'Nature', 'nature', '@a:hs', 0, '$o')"
        )
        await sql.execute(
            "INSERT INTO stances (movement_id, objective_id, state, poll_key, poll_id,"
            " poll_room_id, opened_at) VALUES (1, 1, 'pending', 'poll:1', 1, ?, 0)",
            (ROOM,),
        )
    await store.close()

    store = await Store.open(path)
    try:
        endorsement, straw = await db.get_poll(store, 1), await db.get_poll(store, 2)
        assert endorsement is not None
        assert straw is not None
        assert endorsement.decision
        assert not straw.decision
    finally:
        await store.close()
